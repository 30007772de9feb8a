"""What every renderer receives besides the report model: its settings and the chart bundle.

Plain frozen values, imported by every renderer; no renderer is imported from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Chart:
    """One chart picture, made once per build from the report model: PNG for the HTML report
    and the deck's pictures, and the same pixels as JPEG (quality 95, no chroma subsampling:
    indistinguishable at any zoom) for the PDF, because WeasyPrint embeds a JPEG as it is but
    decodes and re-compresses every PNG (about 0.3 s of a report's 17 pages). Native PowerPoint
    charts and the dashboard read the model's data instead."""

    key: str
    title: str
    alt: str
    png: bytes
    width_px: int
    height_px: int
    jpeg: bytes = b""


@dataclass(frozen=True)
class RenderSettings:
    """Options of the renderers (not of the analysis)."""

    templates: Path | None = None
    pptx_template: Path | None = None
    pptx_layouts: tuple[tuple[str, str], ...] = ()
