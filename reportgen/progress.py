"""Progress reporting: a live display on a terminal, plain log lines for schedulers.

When stderr is a terminal, the running step shows as a Rich status line; otherwise (cron, CI,
Airflow) each *finished* step is one timestamped log line with its duration, so a run that
fails prints only its one-line error. ``--quiet`` shows warnings and errors only;
``--verbose`` adds debug detail.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

logger = logging.getLogger("reportgen")


def configure_logging(verbosity: int) -> None:
    """0 = normal, -1 = quiet, 1 = verbose. Log lines go to stderr."""
    level = {-1: logging.ERROR, 0: logging.INFO, 1: logging.DEBUG}[max(-1, min(1, verbosity))]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s reportgen %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class Progress:
    """Reports named steps: call the object with a step's name as the step starts."""

    def __init__(self, *, live: bool | None = None):
        self.live = sys.stderr.isatty() if live is None else live
        self._status = None
        self._step: str | None = None
        self._since = time.perf_counter()
        self.durations: dict[str, float] = {}

    def __call__(self, step: str) -> None:
        self._finish()
        self._step, self._since = step, time.perf_counter()
        if self._status is not None:
            self._status.update(f"[bold]{step}[/bold] …")

    def _finish(self) -> None:
        if self._step is None:
            return
        took = time.perf_counter() - self._since
        self.durations[self._step] = self.durations.get(self._step, 0.0) + took
        level = logging.DEBUG if self._status is not None else logging.INFO
        logger.log(level, "%s: %.2fs", self._step, took)
        self._step = None

    @contextmanager
    def running(self):
        """Run a block of steps; the last step is logged when the block ends without error."""
        live = self.live and logger.getEffectiveLevel() <= logging.INFO
        if not live:
            yield self
            self._finish()
            return
        from rich.console import Console

        with Console(stderr=True).status("starting …") as status:
            self._status = status
            try:
                yield self
                self._finish()
            finally:
                self._status = None
