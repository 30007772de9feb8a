"""Running the build's independent rendering work on both cores.

A build spends most of its time importing and running the renderers (matplotlib, WeasyPrint,
python-pptx) after the analysis. :class:`RenderPool` runs that work in two single-process
*lanes*, each started (forked) where it pays:

- the ``pdf`` lane at the very start of a build, before the analysis libraries are imported:
  it imports what the PDF needs (matplotlib, WeasyPrint; the report model's modules import
  neither pandas nor scipy at module level) and pays their first-use costs on the second core
  while the main process imports scikit-learn and pandas on the first;
- the ``deck`` lane once the analysis libraries are imported and before the analysis starts
  (so no OpenMP thread pool exists yet); it imports matplotlib and python-pptx while the main
  process analyses, after its share of the analysis when started with ``renderers_later``.

The build (:func:`reportgen.api.build`) computes half of the k evidence on the ``deck`` lane
(many small K-Means fits, which two threads of one process cannot run in parallel), draws the
charts that need only the data or the k evidence on the ``pdf`` lane, in a thread of lower
priority, as soon as those exist and shares the rest out between both lanes; then the PDF
renders on one lane while the deck renders on the other at a lower priority (it takes less
time, so it fills the gaps instead of slowing the PDF) and the main process writes the HTML,
the dashboard and every other file (at a lower priority too when it is the ``reportgen``
command: :meth:`RenderPool.lanes_first`). The garbage collector is paused
while a lane imports and while it renders (:func:`gc_paused`). Results are identical to a
serial run (each piece is a pure function of the report model); where ``fork`` is
unavailable, or with one core, everything runs in-process.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager

#: The renderers' part of a lane's warm-up (in :data:`LANES`), which :meth:`RenderPool.start` can
#: hold back until the lane's share of the analysis is queued (:meth:`RenderPool.warm_renderers`).
RENDERERS_WARM_UP: dict[str, tuple[str, ...]] = {
    "deck": ("reportgen.render.charts:warm_up", "reportgen.render.deck.presentation"),
}
#: What each lane prepares when it starts: modules to import, and ``module:function`` warm-ups
#: that pay a renderer's first-use costs (font caches, template compilation) ahead of time.
LANES: dict[str, tuple[str, ...]] = {
    "pdf": ("reportgen.report.model", "reportgen.render.charts:warm_up", "reportgen.render.pdf:warm_up"),
    "deck": ("reportgen.segmentation.selection", *RENDERERS_WARM_UP["deck"]),
}

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

# Niceness a lane takes for background work (see RenderPool.submit).
BACKGROUND_NICENESS = 10


@contextmanager
def gc_paused(*, freeze: bool = False):
    """Pause Python's cyclic garbage collector for a burst of allocation that leaves no garbage
    cycles worth a collection: importing libraries, or rendering one deliverable (bounded
    memory, whatever the number of customers). Collections during such bursts cost a fifth of
    a PDF's rendering time and a tenth of the imports. With ``freeze`` the objects made
    meanwhile (modules, which live until exit) are moved out of the collector's sight for good,
    so later collections do not walk them again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def bind_to_parent(parent: int) -> None:
    """Run first in every worker: die with the parent, and let go of its standard streams.

    A worker outliving a killed build (SIGKILL, SIGTERM) would hold 80-180 MB and the build's
    stdout/stderr pipes, so a supervisor reading them would wait forever. On Linux the kernel
    kills the worker when its parent dies (``PR_SET_PDEATHSIG``); the worker's standard streams
    are ``/dev/null`` (results and errors travel back through the pool, never as output)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    for fd, mode in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        null = os.open(os.devnull, mode)
        os.dup2(null, fd)
        os.close(null)


def _warm(entries: tuple[str, ...]) -> int:
    """Prepare a lane (runs while the main process analyses)."""
    import importlib

    with gc_paused(freeze=True):
        for entry in entries:
            module, _, function = entry.partition(":")
            loaded = importlib.import_module(module)
            if function:
                getattr(loaded, function)()
    return os.getpid()


def _call(module: str, function: str, *args):
    import importlib

    with gc_paused():
        return getattr(importlib.import_module(module), function)(*args)


def _lower_priority(thread: int = 0) -> None:
    """Give ``thread`` (0: the calling one; on Linux a niceness belongs to one thread) the
    background niceness, unless it is already that low (it can never be raised back)."""
    if os.getpriority(os.PRIO_PROCESS, thread) < BACKGROUND_NICENESS:
        os.setpriority(os.PRIO_PROCESS, thread, BACKGROUND_NICENESS)


def _call_in_background(module: str, function: str, *args):
    """Lower this worker's priority for good (once), then run the call."""
    _lower_priority()
    return _call(module, function, *args)


def _call_yielding(module: str, function: str, *args):
    """Run the call in a thread of its own at a lower priority, leaving the worker's priority as
    it is (on Linux a niceness belongs to one thread; elsewhere the call runs as it is)."""
    if not sys.platform.startswith("linux"):
        return _call(module, function, *args)
    outcome: list = []

    def run() -> None:
        try:
            _lower_priority()
            outcome.append((True, _call(module, function, *args)))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name="reportgen-yielding")
    worker.start()
    worker.join()
    done, value = outcome[0]
    if not done:
        raise value
    return value


class RenderPool:
    """Two warm worker lanes for rendering, or an in-process stand-in."""

    def __init__(self, workers: int | None = None, *, start: bool = True, yield_to_lanes: bool = False):
        """A pool of the :data:`LANES` (``workers`` > 1, default: the number of cores) or an
        in-process stand-in. With ``start=False`` no lane runs until :meth:`start` forks it.

        ``yield_to_lanes`` lets :meth:`lanes_first` lower this process's priority for good: for a
        command that ends with the build (the CLI), never for a library caller."""
        self._yield_to_lanes = yield_to_lanes
        cores = os.cpu_count() or 1
        self._parallel = (workers if workers is not None else cores) > 1 and (
            "fork" in multiprocessing.get_all_start_methods()
        )
        self._lanes: dict[str, ProcessPoolExecutor] = {}
        self._held: dict[str, tuple[str, ...]] = {}  # lane -> the warm-up it has not queued yet
        if start:
            for lane in LANES:
                self.start(lane)

    def start(self, lane: str, *, renderers_later: bool = False) -> None:
        """Fork ``lane`` now (once) and let it import its rendering libraries.

        With ``renderers_later`` the lane imports the renderers (:data:`RENDERERS_WARM_UP`) only
        once its share of the analysis is queued (:meth:`warm_renderers`), or before its first
        other call: a lane works in order, and a small extract's k evidence would otherwise wait
        for the renderers' imports (0.6 s of a 5.5 s build of 10,000 customers)."""
        if not self._parallel or lane in self._lanes:
            return
        executor = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("fork"), initializer=bind_to_parent, initargs=(os.getpid(),)
        )
        held = RENDERERS_WARM_UP.get(lane, ()) if renderers_later else ()
        executor.submit(_warm, tuple(entry for entry in LANES[lane] if entry not in held))
        self._lanes[lane] = executor
        if held:
            self._held[lane] = held

    def warm_renderers(self, lane: str) -> None:
        """Queue the renderers' warm-up that :meth:`start` held back for ``lane`` (once)."""
        held = self._held.pop(lane, ())
        if held and lane in self._lanes:
            self._lanes[lane].submit(_warm, held)

    @property
    def parallel(self) -> bool:
        """Whether work runs in worker processes (any lane started)."""
        return bool(self._lanes)

    def submit(
        self, lane: str | None, module: str, function: str, *args, background: bool = False, yielding: bool = False,
        analysis: bool = False,
    ) -> Future:
        """Run ``module.function(*args)`` on ``lane`` ("pdf" or "deck"), or in this process when
        ``lane`` is ``None`` or the pool is not parallel.

        ``background`` is for work nothing waits on first (the deck while the PDF renders): the
        lane then runs at a lower priority from this call on, so the work others wait on gets
        the cores and this fills the gaps. ``yielding`` runs just this call at that lower
        priority (the charts drawn during the analysis, on the lane that renders the PDF next).
        ``analysis`` is for work that needs no renderer (the k evidence, the number style): it
        goes ahead of a held warm-up (:meth:`start`'s ``renderers_later``); other work follows it."""
        executor = self._lanes.get(lane) if lane else None
        if executor is not None:
            if not analysis:
                self.warm_renderers(lane)
            call = _call_in_background if background else _call_yielding if yielding else _call
            return executor.submit(call, module, function, *args)
        future: Future = Future()
        try:
            future.set_result(_call(module, function, *args))
        except BaseException as exc:  # delivered through the future, as a worker would
            future.set_exception(exc)
        return future

    def lanes_first(self) -> None:
        """From now on the lanes' work goes first: every thread of this process (and any it starts
        later, which inherit it) takes the background niceness, so this process's writers use
        the cores the deliverables being rendered leave free instead of slowing them (1M
        customers: the PDF renders while this process writes 0.2 GB of target lists and the
        history on several threads). Only with ``yield_to_lanes``, on Linux (a niceness per
        thread) and while lanes run; a niceness cannot be lowered again without privileges."""
        if not (self._yield_to_lanes and self._lanes and sys.platform.startswith("linux")):
            return
        try:
            threads = [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:
            return
        for thread in threads:
            try:
                _lower_priority(thread)
            except OSError:  # the thread has ended
                pass

    def close(self) -> None:
        """Stop the workers (cancelling anything not started)."""
        for executor in self._lanes.values():
            executor.shutdown(wait=True, cancel_futures=True)
        self._lanes = {}
        self._parallel = False

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
