"""Running the build's independent rendering work on both cores.

A build spends most of its time importing and running the renderers (matplotlib, WeasyPrint,
python-pptx) after the analysis. :class:`RenderPool` forks two single-process *lanes* once the
analysis libraries are imported (the workers share them, copy-on-write) and before the analysis
starts (so no OpenMP thread pool exists yet). Each lane imports only what its work needs while
the main process analyses: the ``pdf`` lane matplotlib and WeasyPrint, the ``deck`` lane
matplotlib and python-pptx. Charts are then drawn in two halves, one per lane, and the PDF
renders on one lane while the deck renders on the other and the main process writes the HTML
and the dashboard. Results are identical to a serial run (each piece is a pure function of the
report model); where ``fork`` is unavailable, or with one core, everything runs in-process.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

LANES: dict[str, tuple[str, ...]] = {
    "pdf": ("reportgen.charts", "matplotlib.backends.backend_agg", "reportgen.pdf"),
    "deck": ("reportgen.charts", "matplotlib.backends.backend_agg", "reportgen.deck"),
}


def _warm(modules: tuple[str, ...]) -> int:
    """Import a lane's rendering libraries (runs while the main process analyses)."""
    import importlib

    for name in modules:
        importlib.import_module(name)
    return os.getpid()


def _call(module: str, function: str, *args):
    import importlib

    return getattr(importlib.import_module(module), function)(*args)


class RenderPool:
    """Two warm worker lanes for rendering, or an in-process stand-in."""

    def __init__(self, workers: int | None = None):
        cores = os.cpu_count() or 1
        parallel = (workers if workers is not None else cores) > 1
        self._lanes: dict[str, ProcessPoolExecutor] = {}
        if parallel and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            for lane, modules in LANES.items():
                executor = ProcessPoolExecutor(1, mp_context=context)
                executor.submit(_warm, modules)
                self._lanes[lane] = executor

    @property
    def parallel(self) -> bool:
        """Whether work runs in worker processes."""
        return bool(self._lanes)

    def submit(self, lane: str | None, module: str, function: str, *args) -> Future:
        """Run ``module.function(*args)`` on ``lane`` ("pdf" or "deck"), or in this process when
        ``lane`` is ``None`` or the pool is not parallel."""
        executor = self._lanes.get(lane) if lane else None
        if executor is not None:
            return executor.submit(_call, module, function, *args)
        future: Future = Future()
        try:
            future.set_result(_call(module, function, *args))
        except BaseException as exc:  # delivered through the future, as a worker would
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Stop the workers (cancelling anything not started)."""
        for executor in self._lanes.values():
            executor.shutdown(wait=True, cancel_futures=True)
        self._lanes = {}

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
