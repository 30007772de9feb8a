"""What every renderer shares: its settings, the chart bundle, and the registry of formats.

A renderer is a function ``(model, charts, settings) -> bytes``. It never sees the raw data or
scikit-learn: only the :class:`~reportgen.report.ReportModel` and the charts made from it once
per build. Registry misses raise an error that lists the valid formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportgen.errors import ConfigError


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


# format -> (module, function, file name pattern); modules are imported only when used.
RENDERERS: dict[str, tuple[str, str, str]] = {
    "html": ("reportgen.html", "render_html", "segment-report-{month}.html"),
    "pdf": ("reportgen.pdf", "render_pdf", "segment-report-{month}.pdf"),
    "pptx": ("reportgen.deck", "render_pptx", "segment-report-{month}.pptx"),
    "dashboard": ("reportgen.dashboard", "render_dashboard", "segment-dashboard-{month}.html"),
}


def check_format(fmt: str) -> None:
    """An unknown format fails, listing the valid ones (without importing any renderer)."""
    if fmt not in RENDERERS:
        raise ConfigError(f"unknown format {fmt!r}; valid formats: {', '.join(sorted(RENDERERS))}, all")


def check_settings(formats, settings: RenderSettings) -> None:
    """Fail before any work when the renderers' inputs are wrong: a user's PowerPoint master
    lacking a needed layout, or user templates that do not compile. (The bundled master and
    templates are checked by the test suite; opening them here would only cost start-up time.)"""
    if "pptx" in formats and settings.pptx_template is not None:
        from reportgen.deck import open_master

        open_master(settings)
    if settings.templates is not None and {"html", "pdf", "dashboard"} & set(formats):
        from reportgen.templating import build_environment, template_error

        env = build_environment(settings)
        for name in env.list_templates(filter_func=lambda n: n.endswith(".html") and not n.startswith("default/")):
            try:
                env.get_template(name)
            except Exception as exc:  # a syntax error in a user template: name file and line
                raise template_error(exc, env) from None


def file_name(fmt: str, month: str) -> str:
    """The deliverable's file name, e.g. ``segment-report-2026-11.pdf``."""
    return RENDERERS[fmt][2].format(month=month)
