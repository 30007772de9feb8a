"""Safe unattended runs: a build killed at any moment leaves the previous deliverables intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def _build(out, *extra, env=None, wait=True):
    args = [sys.executable, "-m", "reportgen", "build", "--format", "html", "--format", "pptx",
            "--month", "2026-11", "--out", str(out), "-q", *extra]
    if not wait:
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def _final_files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_killed_build_leaves_previous_month_intact(tmp_path):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1795000000")
    out, reference = tmp_path / "out", tmp_path / "reference"
    _build(out, env=env)                      # last good run: k chosen by the rule
    before = _final_files(out / "2026-11")
    _build(reference, "--k", "4", env=env)    # what a complete rerun with --k 4 writes
    after = _final_files(reference / "2026-11")
    assert before != after and set(after) <= set(before)  # --k 4 has fewer segments, so fewer target lists

    killed_mid_write = False
    for delay in (None, 0.5, 1.5, 3.0):
        started = time.monotonic()
        proc = _build(out, "--k", "4", env=env, wait=False)
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
    _build(out, "--k", "4", env=env)
    assert not list((out / "2026-11").rglob(".*.tmp"))
    assert _final_files(out / "2026-11") == after  # stale target lists of vanished segments removed too
