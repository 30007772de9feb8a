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
from reportgen.errors import InputError
from reportgen.outputs import write_set
from reportgen.pipeline import SegmentationResult, run_segmentation
from reportgen.progress import Progress
from reportgen.rendering import RenderSettings, file_name, renderer_for
from reportgen.report import ReportModel, build_report_model, model_to_json
from reportgen.resources import bundled_path
from reportgen.segmentation import save_model

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
        title=settings.title,
        show_ids=settings.show_customer_ids,
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


FORMATS_ALL = ("pdf", "pptx", "html", "dashboard")


def parse_month(text: str | None, stamp: datetime) -> str:
    """Validate ``YYYY-MM`` (default: the month of ``stamp``)."""
    if text is None:
        return stamp.strftime("%Y-%m")
    try:
        return datetime.strptime(text, "%Y-%m").strftime("%Y-%m")
    except ValueError:
        raise InputError(f"--month {text!r} is not a month; expected YYYY-MM, e.g. 2026-11") from None


def build(
    data: Path | str | None = None,
    *,
    formats: tuple[str, ...] = ("pdf",),
    out: Path | str = "output",
    month: str | None = None,
    k: int | None = None,
    config: Path | str | None = None,
    render: RenderSettings | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Analyse ``data`` and write the deliverables of ``formats`` into ``out/<month>/``."""
    from reportgen.charts import build_charts

    render = render or RenderSettings()
    formats = tuple(dict.fromkeys(FORMATS_ALL if "all" in formats else formats))
    renderers = {fmt: renderer_for(fmt) for fmt in formats}  # unknown formats fail before any work
    stamp = now_utc()
    month = parse_month(month, stamp)
    settings = load_settings(Path(config) if config else None, k=k)
    progress = progress or Progress()
    with progress.running():
        result, model = analyse(data, settings=settings, month=month, generated_at=stamp, progress=progress)
        progress("charts")
        charts = build_charts(model)
        files: dict[str, bytes] = {}
        for fmt, render_fn in renderers.items():
            progress(f"render {fmt}")
            files[file_name(fmt, month)] = render_fn(model, charts, render)
        files["model.json"] = save_model(result.model)
        files["report-model.json"] = model_to_json(model).encode("utf-8")
        progress("write files")
        written = write_set(Path(out) / month, files)
    return Outcome(result, model, tuple(written))
