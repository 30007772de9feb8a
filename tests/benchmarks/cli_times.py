"""Benchmark: wall time of a reportgen command (interpreter start included) and of each step.

Not a test: prints figures. Runs the command several times in fresh processes and reports the
median wall time and the median duration of every step the CLI logs (``step: 0.52s`` lines,
printed on stderr when it is not a terminal).

    python tests/benchmarks/cli_times.py --runs 5 -- segment --data "../shared/data/CC GENERAL.csv" --k 5
    python tests/benchmarks/cli_times.py --runs 5 -- build --format all --data "../shared/data/CC GENERAL.csv"

``--out`` is added (a fresh temporary folder per run) unless given. The first run only warms
the file cache and writes the byte-code caches (the child runs with ``PYTHONDONTWRITEBYTECODE``
unset, as on a user's machine, even if this sandbox sets it).

Shared machines drift: the script also times a fixed pure-Python loop before and after the runs
(``machine check``), so figures taken at different times can be compared (on this project's
machine the loop takes about 0.6 s when it is quiet).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

STEP = re.compile(r"reportgen INFO (.+): ([0-9.]+)s$")


def run_once(command: list[str]) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as out:
        args = command if "--out" in command else [*command, "--out", out]
        started = time.perf_counter()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        proc = subprocess.run([sys.executable, "-m", "reportgen", *args], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {proc.stderr.strip()}")
    steps = {}
    for line in proc.stderr.splitlines():
        match = STEP.search(line)
        if match:
            steps[match.group(1)] = steps.get(match.group(1), 0.0) + float(match.group(2))
    return wall, steps


def machine_check() -> float:
    """Seconds a fixed pure-Python loop takes (a gauge of how busy the machine is)."""
    started = time.perf_counter()
    total = 0
    for i in range(20_000_000):
        total += i
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = [a for a in args.command if a != "--"]
    walls, steps = [], defaultdict(list)
    before = machine_check()
    run_once(command)  # warm the file cache and byte-code
    for _ in range(args.runs):
        wall, step_times = run_once(command)
        walls.append(wall)
        for name, seconds in step_times.items():
            steps[name].append(seconds)
    after = machine_check()
    print(f"reportgen {' '.join(command)}")
    print(f"machine check: the fixed loop took {before:.2f}s before and {after:.2f}s after the runs")
    print(f"wall time, interpreter start included: median {statistics.median(walls):.2f}s "
          f"(min {min(walls):.2f}s, max {max(walls):.2f}s, {args.runs} runs)")
    for name, values in steps.items():
        print(f"  {name:<20} median {statistics.median(values):.3f}s")


if __name__ == "__main__":
    main()
