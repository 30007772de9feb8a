"""How a build spreads its work over the two cores: which charts are drawn early and where,
which render lane makes which format, which lane takes a share of the analysis (half of the k
evidence), and the report model the lanes receive (without the dashboard's customer sample).
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace

from reportgen.render.formats import RENDERERS
from reportgen.render.pool import RenderPool
from reportgen.render.settings import RenderSettings
from reportgen.report.build import correlation_of, k_choice_of
from reportgen.report.model import ReportModel


class EarlyCharts:
    """Charts started on the pool's ``pdf`` lane while the pipeline is still running, from the
    parts of the model that exist early (:data:`reportgen.render.charts.PARTS`): the correlation heatmap
    once the data are validated, the k evidence once k is chosen. They are drawn at a lower
    priority (:meth:`RenderPool.submit`'s ``yielding``): the analysis keeps both cores busy
    (the k evidence runs in this process and the deck lane), nothing waits for these charts
    until it ends, so they fill the gaps (choose k 0.83 s against 0.95, median of 5 at 1M)."""

    def __init__(self, pool: RenderPool):
        self.pool = pool
        self.started: dict[str, tuple[object, Future]] = {}  # chart key -> (its part, future)

    def observe(self, stage: str, **values) -> None:
        """The pipeline's ``observe`` callback."""
        if stage == "data":
            self._start("correlation", correlation_of(values["correlation"]))
        elif stage == "selection":
            self._start("k_evidence", k_choice_of(values["selection"], values["customers"]))

    def _start(self, key: str, part) -> None:
        self.started[key] = (part, self.pool.submit("pdf", "reportgen.render.charts", "draw_part", key, part, yielding=True))

    def ready(self, model: ReportModel) -> dict[str, Future]:
        """The started charts whose part is the model's (any other is drawn again from the model)."""
        from reportgen.render.charts import PARTS

        return {key: future for key, (part, future) in self.started.items() if getattr(model, PARTS[key]) == part}


# Relative drawing cost of each chart (measured), to share the charts out between the lanes.
CHART_COSTS = {
    "sizes": 1, "k_evidence": 3, "pca": 2, "comparison": 3, "profile_heat": 2, "correlation": 2, "trend": 3,
    "migration": 2,
}


# The lane each format renders on; None = this process (cheap formats, while the lanes work).
RENDER_LANES = {"pdf": "pdf", "pptx": "deck", "dashboard": None, "html": None}


# Formats rendered at a lower priority: the deck takes less time than the PDF, so it fills the
# gaps instead of slowing the PDF down.
BACKGROUND_FORMATS = {"pptx"}


#: The lane that takes a share of the analysis (:func:`offload_to`): idle until the charts.
ANALYSIS_LANE = "deck"


def offload_to(pool: RenderPool):
    """The pipeline's ``offload`` (half of the k evidence) on the pool's :data:`ANALYSIS_LANE`,
    or ``None`` when the pool runs everything in this process."""
    if not pool.parallel:
        return None

    def offload(module: str, function: str, *args) -> Future:
        future = pool.submit(ANALYSIS_LANE, module, function, *args, analysis=True)
        pool.warm_renderers(ANALYSIS_LANE)  # the lane's renderers import after its share, not before
        return future

    return offload


def draw_charts(model: ReportModel, pool: RenderPool, early: EarlyCharts | None = None) -> dict:
    """All charts (keys in the charts module's order): those started early, and the rest shared
    out between the two lanes by drawing cost."""
    from reportgen.render.charts import CHARTS, chart_applies

    futures = early.ready(model) if early else {}
    load = {"pdf": 0, "deck": 0}
    shares: dict[str, list[str]] = {"pdf": [], "deck": []}
    for key in sorted((k for k in CHARTS if k not in futures and chart_applies(k, model)), key=CHART_COSTS.get, reverse=True):
        lane = min(load, key=lambda name: (load[name], name == "pdf"))
        shares[lane].append(key)
        load[lane] += CHART_COSTS[key]
    sent = for_lanes(model, pool)
    pending = [pool.submit(lane, "reportgen.render.charts", "build_charts", sent, tuple(keys)) for lane, keys in shares.items() if keys]
    drawn = {key: future.result() for key, future in futures.items()}
    for future in pending:
        drawn.update(future.result())
    return {key: drawn[key] for key in CHARTS if key in drawn}


def for_lanes(model: ReportModel, pool: RenderPool) -> ReportModel:
    """The model as sent to the worker lanes: without the dashboard's customer sample, which
    only the dashboard reads (it renders in this process). The sample is four fifths of the
    model's pickled size and of the time a lane spends unpickling it (about 0.05 s per call)."""
    return replace(model, sample=None) if pool.parallel else model


def submit_renders(model, charts, render: RenderSettings, formats, pool: RenderPool) -> dict:
    """Start every format's rendering (the PDF and the deck on the pool's lanes first, then the
    in-process ones); format -> future of its bytes, in ``formats`` order."""
    ordered = sorted(formats, key=lambda f: RENDER_LANES.get(f) is None)
    sent = for_lanes(model, pool)
    futures = {
        fmt: pool.submit(
            RENDER_LANES.get(fmt), *RENDERERS[fmt][:2], model if RENDER_LANES.get(fmt) is None else sent, charts, render,
            background=fmt in BACKGROUND_FORMATS and "pdf" in formats,
        )
        for fmt in ordered
    }
    return {fmt: futures[fmt] for fmt in formats}
