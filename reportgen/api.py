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
from typing import TYPE_CHECKING

import pandas as pd

from reportgen.config import Settings, load_settings
from reportgen.data.frames import resolve_source
from reportgen.errors import ConfigError, InputError
from reportgen.lanes import RENDER_LANES, EarlyCharts, draw_charts, offload_to, submit_renders
from reportgen.monthly.campaigns import campaign_members, write_target_lists
from reportgen.monthly.history import (
    assignments_table,
    discard_unused,
    load_campaigns,
    load_cubes,
    load_history_engine,
    load_migration,
    load_trend,
    previous_run,
    record_run,
    recording,
)
from reportgen.monthly.outputs import StagedFiles, month_lock, remove_stale_temps
from reportgen.monthly.targets import (
    RECOMMENDATIONS_FILE,
    TARGETS_FOLDER,
    GroupedColumns,
    recommendations_csv,
    remove_stale_targets,
)
from reportgen.monthly.workbook import build_workbook
from reportgen.progress import Progress
from reportgen.render.formats import ALL_FORMATS, RENDERERS, check_settings, file_name, parse_formats
from reportgen.render.pool import RenderPool
from reportgen.render.settings import RenderSettings
from reportgen.report.build import build_report_model
from reportgen.report.formatting import number_style
from reportgen.report.model import ReportModel, model_to_json
from reportgen.resources import bundled_path
from reportgen.segmentation.model import parse_model, save_model
from reportgen.segmentation.pipeline import run_segmentation
from reportgen.segmentation.result import PreviousModel, SegmentationResult

if TYPE_CHECKING:
    import pyarrow as pa

SAMPLE_DATA = bundled_path("data", "sample.csv")


@dataclass(frozen=True)
class Outcome:
    """A finished run: the pipeline result, the report model and the files written."""

    result: SegmentationResult
    model: ReportModel
    files: tuple[Path, ...]

    def __repr__(self) -> str:
        return f"Outcome({self.model!r}, files={len(self.files)})"

    def _repr_html_(self) -> str:
        return self.model._repr_html_()


def now_utc() -> datetime:
    """The run's timestamp: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(tz=timezone.utc)


def analyse(
    data: Path | str | pd.DataFrame | pa.Table | None = None,
    *,
    settings: Settings | None = None,
    month: str | None = None,
    generated_at: datetime | None = None,
    progress: Progress | None = None,
    history: Path | None = None,
    refit: bool = False,
    engine: str = "local",
    spark_master: str | None = None,
    observe=None,
    offload=None,
) -> tuple[SegmentationResult, ReportModel]:
    """Run the pipeline on ``data`` (default: the bundled sample) and build the report model.

    ``data`` is a file path (CSV or Parquet), a URL the engine reads, or a pandas DataFrame or
    pyarrow Table with the contract's columns (mapped like a file's; see
    :mod:`reportgen.data.frames`).

    With a ``history`` database holding earlier months, the month is scored with the saved model
    (or refitted and matched when ``refit``) and the report gains trends and migration.
    ``observe`` hears of the pipeline's early results and ``offload`` runs some of its work in
    another process (see :func:`~reportgen.segmentation.pipeline.run_segmentation`)."""
    settings = settings or load_settings()
    stamp = generated_at or now_utc()
    month = month or stamp.strftime("%Y-%m")
    previous = _previous_model(history, month) if history else None
    k, saved = settings.segmentation.k, len(previous.model.segments) if previous else None
    if previous is not None and not refit and k and k != saved:  # a scored month keeps the saved model's k
        raise ConfigError(f"k = {k} was asked (--k or [segmentation] k), but {month} is scored with the saved "
                          f"{saved}-segment model fitted in {previous.model_month}: add --refit to fit {k} segments")
    source = resolve_source(data, engine, SAMPLE_DATA)
    with number_style(settings.locale, settings.currency):  # the sentences about the segments (risk, naming, k)
        result = run_segmentation(
            source, settings, log=progress, previous=previous, refit=refit, month=month,
            engine=engine, spark_master=spark_master, observe=observe, offload=offload,
        )
    trend = migration = cubes = campaigns = None
    if previous is not None:
        names = [s.name for s in result.model.segments]
        money = {c.lower(): result.clean.features[c].to_numpy("float64") for c in ("BALANCE", "PURCHASES", "CASH_ADVANCE")}
        current = assignments_table(result.clean.ids, result.labels, names, amounts=money).drop_columns(["segment"])
        trend = load_trend(history, previous.previous_month, settings.history.trend_months - 1)
        migration = load_migration(history, previous.previous_month, current)
        cubes = load_cubes(history, sorted(set(trend["month"])))
        campaigns = load_campaigns(history, previous.previous_month)
    with number_style(settings.locale, settings.currency):  # the model's sentences and figures
        model = build_report_model(
            result, month=month, generated_at=stamp.isoformat(timespec="seconds"), title=settings.title,
            show_ids=settings.show_customer_ids, trend=trend, migration=migration, cubes=cubes, campaigns=campaigns,
        )
    return result, model


def _previous_model(history: Path, month: str) -> PreviousModel | None:
    past = previous_run(history, month)
    if past is None:
        return None
    model = parse_model(past.model_json, f"{history} (model of {past.month})")
    reference = past.reference
    if "fit" in reference:  # {"fit": the model's fit month, "month": that run's own month}
        return PreviousModel(model, past.model_month, past.month, reference["fit"], reference.get("month"))
    return PreviousModel(model, past.model_month, past.month, reference)


def segment(
    data: Path | str | pd.DataFrame | pa.Table | None = None,
    out: Path | str = "output/segment",
    *,
    k: int | None = None,
    config: Path | str | None = None, table: str | None = None, query: str | None = None,
    engine: str = "local",
    spark_master: str | None = None,
) -> Outcome:
    """Segment ``data`` and write the segment files (see :mod:`reportgen.monthly.exports`) into ``out``."""
    from reportgen.monthly.exports import write_segment_files

    settings = load_settings(Path(config) if config else None, k=k, table=table, query=query)
    progress = Progress()
    with progress.running():
        result, model = analyse(data, settings=settings, progress=progress, engine=engine, spark_master=spark_master)
        progress("write files")
        files = write_segment_files(result, model, Path(out))
    return Outcome(result, model, tuple(files))


FORMATS_ALL = ALL_FORMATS


def parse_month(text: str | None, stamp: datetime) -> str:
    """Validate ``YYYY-MM`` (default: the month of ``stamp``)."""
    if text is None:
        return stamp.strftime("%Y-%m")
    try:
        return datetime.strptime(text, "%Y-%m").strftime("%Y-%m")
    except ValueError:
        raise InputError(f"--month {text!r} is not a month; expected YYYY-MM, e.g. 2026-11") from None


def build(
    data: Path | str | pd.DataFrame | pa.Table | None = None,
    *,
    formats: str | tuple[str, ...] = ("pdf",),
    out: Path | str = "output",
    month: str | None = None,
    k: int | None = None,
    config: Path | str | None = None, table: str | None = None, query: str | None = None,
    render: RenderSettings | None = None,
    progress: Progress | None = None,
    refit: bool = False,
    pool: RenderPool | None = None,
    engine: str = "local",
    spark_master: str | None = None,
) -> Outcome:
    """Analyse ``data`` and write the deliverables of ``formats`` into ``out/<month>/``.

    ``formats`` is a name or names (``"pdf"``, ``("PDF", "pptx")``, ``"pdf,pptx"``, ``"all"``).

    The run is recorded in the history database (``[history] database``, default
    ``out/history.duckdb``); earlier months make this one scored with the saved model (or
    refitted and matched with ``refit``) and add trends and migration to the report. Two builds
    of the same month cannot run at once. ``table``/``query``: what to read at a database URL."""
    render = render or RenderSettings()
    formats = parse_formats(formats)  # unknown formats fail before any work,
    check_settings(formats, render)  # and so do a wrong master and broken user templates
    stamp = now_utc()
    month = parse_month(month, stamp)
    settings = load_settings(Path(config) if config else None, k=k, table=table, query=query)
    database = history_path(settings, out)
    progress = progress or Progress()
    own_pool = pool is None
    pool = pool or RenderPool(workers=1)
    try:
        with month_lock(Path(out), month), progress.running(), number_style(settings.locale, settings.currency):
            for lane in filter(None, RENDER_LANES.values()):  # the lanes format numbers in the build's style too
                pool.submit(lane, "reportgen.report.formatting", "use_style", settings.locale, settings.currency,
                            analysis=True)
            folder = Path(out) / month
            remove_stale_temps(folder)
            early = EarlyCharts(pool)
            result, model = analyse(
                data, settings=settings, month=month, generated_at=stamp, progress=progress, history=database,
                refit=refit, engine=engine, spark_master=spark_master, observe=early.observe,
                offload=offload_to(pool),
            )
            progress("charts")
            charts = draw_charts(model, pool, early) if set(formats) & set(RENDERERS) else {}
            rendering_step = "render " + ", ".join(formats)
            progress(rendering_step)
            rendering = submit_renders(model, charts, render, [f for f in formats if f in RENDERERS], pool)  # xlsx: below
            if any(RENDER_LANES.get(f) for f in rendering):
                pool.lanes_first()  # the files below are written in the gaps the renderers leave
            with StagedFiles() as staged:
                # While the lanes render, this process stages everything else: the target lists
                # first (a mailer that sees the report relies on them), then the model files and
                # each format as it is ready. Nothing reaches a final name unless all are ready.
                targets_folder = folder / TARGETS_FOLDER
                grouped = GroupedColumns.of(result, len(model.segments))  # gathered once for both kinds of list
                write_target_lists(result, model, staged, targets_folder, grouped)
                staged.add(targets_folder, {RECOMMENDATIONS_FILE: recommendations_csv(model)})
                del grouped
                model_bytes = save_model(result.model)
                staged.add(folder, {"model.json": model_bytes, "report-model.json": model_to_json(model).encode("utf-8")})
                staged.add(folder, {file_name(f, month): build_workbook(result, model) for f in formats if f == "xlsx"})
                records = history_records(result, model, model_bytes)
                load_history_engine()
                for fmt in (f for f in rendering if rendering[f].done()):
                    rendering[fmt].result()  # a format that has failed already fails the build here
                # Records, then files, then the commit (undone if it fails): both have the month or
                # neither. The records go into their transaction while the lanes still render (a
                # failed render leaves the block uncommitted, which rolls them back; a database
                # this build created is removed again).
                progress("record history")
                new_database = not database.exists()
                try:
                    with recording(database, **records) as commit_history:
                        if any(not rendering[f].done() for f in rendering):
                            progress(rendering_step)
                        for fmt in sorted(rendering, key=lambda f: RENDER_LANES.get(f) is not None):
                            staged.add(folder, {file_name(fmt, month): rendering[fmt].result()})
                        progress("write files")
                        written = staged.commit()
                        try:
                            commit_history()
                        except BaseException:
                            staged.undo()
                            raise
                except BaseException:
                    if new_database:
                        discard_unused(database)
                    raise
            remove_stale_targets(targets_folder, written)
    finally:
        if own_pool:
            pool.close()
    order = [file_name(fmt, month) for fmt in formats] + ["model.json", "report-model.json"]
    report = sorted((p for p in written if p.parent == folder), key=lambda p: order.index(p.name))
    return Outcome(result, model, tuple(report + [p for p in written if p.parent != folder]))


def export(
    data: Path | str | None = None,
    *,
    fmt: str = "parquet",
    out: Path | str = "output",
    month: str | None = None,
    k: int | None = None,
    config: Path | str | None = None, table: str | None = None, query: str | None = None,
) -> list[Path]:
    """Write the BI extracts (see :mod:`reportgen.monthly.bi`) for ``data`` into ``out/<month>/bi/``.

    Reads the history database (scoring with the saved model, and migration) but records nothing."""
    from reportgen.monthly.bi import write_bi_extracts

    stamp = now_utc()
    month = parse_month(month, stamp)
    settings = load_settings(Path(config) if config else None, k=k, table=table, query=query)
    database = history_path(settings, out)
    progress = Progress()
    with progress.running():
        result, model = analyse(data, settings=settings, month=month, generated_at=stamp, progress=progress,
                                history=database if database.exists() else None)
        progress("write files")
        return write_bi_extracts(result, model, Path(out) / month / "bi", fmt)


def history_path(settings: Settings, out: Path | str) -> Path:
    """The history database: the configured path, else ``out/history.duckdb``."""
    return settings.history.database or Path(out) / "history.duckdb"


def record_history(database: Path, result: SegmentationResult, model: ReportModel, model_bytes: bytes) -> None:
    """Record the month's run, assignments and segment KPIs (replacing that month's records)."""
    record_run(database, **history_records(result, model, model_bytes))


def history_records(result: SegmentationResult, model: ReportModel, model_bytes: bytes) -> dict:
    """The month's records for :func:`reportgen.monthly.history.record_run`: ``run``, ``assignments``, ``segments``."""
    import hashlib
    import json

    month = model.facts.month
    chosen = next(r for r in model.k_choice.rows if r.chosen) if any(r.chosen for r in model.k_choice.rows) else None
    c = result.continuity
    run = {
        "month": month, "built_at": model.facts.generated_at, "input_name": model.facts.input_name,
        "input_sha256": model.facts.input_sha256, "mode": c.mode, "model_month": c.model_month or month,
        "model_version": hashlib.sha256(model_bytes).hexdigest()[:16], "k": model.facts.k,
        "silhouette": chosen.silhouette if chosen else None, "stability": chosen.stability if chosen else None,
        "customers": model.facts.customers, "versions": json.dumps(dict(model.facts.versions)),
        "model_json": model_bytes.decode("utf-8"), "reference_json": json.dumps({"fit": c.reference, "month": c.month_reference}),
        "cube_json": json.dumps({"names": [s.name for s in model.segments], "rows": model.cube.rows}),
    }
    # each customer's amounts this month, so next month can value the movers with what they had
    amounts = {c.lower(): result.clean.features[c].to_numpy("float32") for c in ("BALANCE", "PURCHASES", "CASH_ADVANCE")}
    assignments = assignments_table(result.clean.ids, result.labels, [s.name for s in result.model.segments], month,
                                    amounts)
    kpis = lambda s, key: next(k.value for k in s.kpis if k.key == key)  # noqa: E731
    segments = pd.DataFrame(
        [
            {"month": month, "segment": s.id, "name": s.name, "persona_key": s.persona_key or "", "color": s.color,
             "customers": s.customers, "share": s.share, "balance": kpis(s, "balance"),
             "purchases": kpis(s, "purchases"), "payments": kpis(s, "payments"),
             "utilisation": kpis(s, "utilisation"), "avg_balance": kpis(s, "avg_balance"),
             "avg_purchases": kpis(s, "avg_purchases"), "full_payment": kpis(s, "full_payment")}
            for s in model.segments
        ]
    )
    return {"run": run, "assignments": assignments, "segments": segments, "campaigns": campaign_members(result, model)}
