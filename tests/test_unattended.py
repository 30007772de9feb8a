"""Safe unattended runs: a build killed at any moment leaves the previous deliverables intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def _args(out, *extra) -> list[str]:
    return ["build", "--format", "html", "--format", "pptx", "--month", "2026-11", "--out", str(out), "-q", *extra]


def _start(out, *extra) -> subprocess.Popen:
    """A build in its own process group, to be killed."""
    return subprocess.Popen([sys.executable, "-m", "reportgen", *_args(out, *extra)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _complete(cli, out, *extra) -> None:
    """A build that runs to the end: in-process (the process is not what these runs test)."""
    code, _out, err = cli(*_args(out, *extra))
    assert code == 0, err


def _final_files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_killed_build_leaves_previous_month_intact(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")  # for the killed builds' processes too
    out, reference = tmp_path / "out", tmp_path / "reference"
    _complete(cli, out)                       # last good run: k chosen by the rule
    before = _final_files(out / "2026-11")
    _complete(cli, reference, "--k", "4")     # what a complete rerun with --k 4 writes
    after = _final_files(reference / "2026-11")
    assert before != after and set(after) <= set(before)  # --k 4 has fewer segments, so fewer target lists

    killed_mid_write = False
    for delay in (None, 0.5, 1.5, 3.0):
        started = time.monotonic()
        proc = _start(out, "--k", "4")
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            temps = list((out / "2026-11").rglob(".*.tmp"))
            if (delay is None and temps) or (delay is not None and time.monotonic() - started > delay):
                os.killpg(proc.pid, signal.SIGKILL)
                killed_mid_write = killed_mid_write or bool(temps)
                break
            time.sleep(0.005)
        proc.wait(timeout=60)
        # every file under a final name is whole: either last run's or the new run's, never partial
        for name, data in _final_files(out / "2026-11").items():
            assert data in (before.get(name), after.get(name)), f"{name} is neither the old nor the new file"
        assert proc.returncode in (0, -signal.SIGKILL)
    assert killed_mid_write, "the kill never landed while files were being written"

    # the next run cleans what the killed ones left and completes
    _complete(cli, out, "--k", "4")
    assert not list((out / "2026-11").rglob(".*.tmp"))
    assert _final_files(out / "2026-11") == after  # stale target lists of vanished segments removed too
