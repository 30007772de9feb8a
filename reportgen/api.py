"""The Python API: what the CLI calls, and what a notebook uses.

>>> from reportgen.api import segment
>>> outcome = segment(data="extract.csv", out="output/segment", k=5)   # doctest: +SKIP
>>> [s.name for s in outcome.model.segments]                            # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from reportgen.config import Settings, load_settings
from reportgen.pipeline import SegmentationResult, run_segmentation
from reportgen.progress import Progress
from reportgen.report import ReportModel, build_report_model
from reportgen.resources import bundled_path

SAMPLE_DATA = bundled_path("data", "sample.csv")


@dataclass(frozen=True)
class Outcome:
    """A finished run: the pipeline result, the report model and the files written."""

    result: SegmentationResult
    model: ReportModel
    files: tuple[Path, ...]


def now_utc() -> datetime:
    """The run's timestamp: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(tz=timezone.utc)


def analyse(
    data: Path | str | None = None,
    *,
    settings: Settings | None = None,
    month: str | None = None,
    generated_at: datetime | None = None,
    progress: Progress | None = None,
) -> tuple[SegmentationResult, ReportModel]:
    """Run the pipeline on ``data`` (default: the bundled sample) and build the report model."""
    settings = settings or load_settings()
    stamp = generated_at or now_utc()
    result = run_segmentation(Path(data) if data else SAMPLE_DATA, settings, log=progress)
    model = build_report_model(
        result,
        month=month or stamp.strftime("%Y-%m"),
        generated_at=stamp.isoformat(timespec="seconds"),
    )
    return result, model


def segment(
    data: Path | str | None = None,
    out: Path | str = "output/segment",
    *,
    k: int | None = None,
    config: Path | str | None = None,
) -> Outcome:
    """Segment ``data`` and write the segment files (see :mod:`reportgen.exports`) into ``out``."""
    from reportgen.exports import write_segment_files

    settings = load_settings(Path(config) if config else None, k=k)
    progress = Progress()
    with progress.running():
        result, model = analyse(data, settings=settings, progress=progress)
        progress("write files")
        files = write_segment_files(result, model, Path(out))
    return Outcome(result, model, tuple(files))
