"""Progress reporting: a live display on a terminal, plain log lines for schedulers.

When stderr is a terminal, steps show as a Rich status line with elapsed time; otherwise (cron,
CI, Airflow) every step is one timestamped log line. ``--quiet`` shows warnings and errors
only; ``--verbose`` adds debug detail.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

logger = logging.getLogger("reportgen")


def configure_logging(verbosity: int) -> None:
    """0 = normal, -1 = quiet, 1 = verbose. Log lines go to stderr."""
    level = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}[max(-1, min(1, verbosity))]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s reportgen %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class Progress:
    """Reports named steps; call the object with a step name as it starts."""

    def __init__(self, *, live: bool | None = None):
        self.live = sys.stderr.isatty() if live is None else live
        self.started = time.perf_counter()
        self._status = None

    def __call__(self, step: str) -> None:
        elapsed = time.perf_counter() - self.started
        if self._status is not None:
            self._status.update(f"[bold]{step}[/bold] … {elapsed:.1f}s")
        logger.log(logging.DEBUG if self._status is not None else logging.INFO, "%s (%.1fs)", step, elapsed)

    @contextmanager
    def running(self):
        """Show the live display (terminal only, not when quiet) while the block runs."""
        if not self.live or logger.level > logging.INFO:
            yield self
            return
        from rich.console import Console

        with Console(stderr=True).status("starting …") as status:
            self._status = status
            try:
                yield self
            finally:
                self._status = None
