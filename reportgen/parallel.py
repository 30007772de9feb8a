"""Running the build's independent rendering work on both cores.

A build spends most of its time importing and running the renderers (matplotlib, WeasyPrint,
python-pptx) after the analysis. :class:`RenderPool` forks worker processes once the analysis
libraries are imported (the workers share them, copy-on-write) and before the analysis starts
(so no OpenMP thread pool exists yet); the workers import the rendering libraries while the
main process analyses; charts are then drawn in two halves and
the PDF renders beside the deck, HTML and dashboard. Results are identical to a serial run (each
piece is a pure function of the report model); where ``fork`` is unavailable, or with one core,
everything runs in the main process.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

_WARM_MODULES = (
    "matplotlib.figure", "matplotlib.backends.backend_agg", "reportgen.charts",
    "weasyprint", "reportgen.pdf", "pptx", "reportgen.deck", "reportgen.dashboard",
)


def _warm() -> int:
    """Import the rendering libraries in a worker (runs while the main process analyses)."""
    import importlib

    for name in _WARM_MODULES:
        importlib.import_module(name)
    return os.getpid()


def _call(module: str, function: str, *args):
    import importlib

    return getattr(importlib.import_module(module), function)(*args)


class RenderPool:
    """A small process pool for rendering, or an in-process stand-in."""

    def __init__(self, workers: int | None = None):
        cores = os.cpu_count() or 1
        workers = min(2, cores) if workers is None else workers
        can_fork = "fork" in multiprocessing.get_all_start_methods()
        self._pool = None
        if workers > 1 and can_fork:
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            self._warming = [self._pool.submit(_warm) for _ in range(workers)]

    @property
    def parallel(self) -> bool:
        """Whether work runs in worker processes."""
        return self._pool is not None

    def submit(self, module: str, function: str, *args) -> Future:
        """Run ``module.function(*args)``; in-process when the pool is not parallel."""
        if self._pool is not None:
            return self._pool.submit(_call, module, function, *args)
        future: Future = Future()
        try:
            future.set_result(_call(module, function, *args))
        except BaseException as exc:  # delivered through the future, as a worker would
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Stop the workers (cancelling anything not started)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
