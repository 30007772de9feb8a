"""Benchmark: ``reportgen build --format all`` against a seed-style notebook pipeline, on the real file.

Not a test: prints figures. Runs the two in alternation (seed, reportgen, seed, reportgen, ...)
in fresh processes, so both see the same machine load, and reports each one's median wall time
and peak resident memory (the process and its children, ``os.wait4`` rusage: for reportgen that
is the largest of the main process and its render lanes) and the ratio of the medians.

    python tests/benchmarks/versus_seed.py --runs 5
    python tests/benchmarks/versus_seed.py --data "../shared/data/CC GENERAL.csv" --runs 7

The seed-style pipeline is ``seed_notebook.py`` beside this script (pandas, K-Means with the full
silhouette for k = 2..10, seaborn charts, Jinja2 + WeasyPrint, python-pptx, CSV target lists),
written plainly, as a notebook author would. One warm-up run of each (file cache, byte-code)
is not counted. A fixed pure-Python loop is timed before and after (``machine check``, about
0.6 s when this project's machine is quiet) and the load average is printed, so figures taken
at different times can be compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cli_times import machine_check  # the same load gauge (this folder is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_DATA = Path(os.environ.get("REPORTGEN_REAL_DATA", ROOT.parent / "shared" / "data" / "CC GENERAL.csv"))


def run_once(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, largest process of the tree) of one fresh-process run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{' '.join(args[:4])} failed: {err.read().strip()[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # KiB -> MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data}: not found (set REPORTGEN_REAL_DATA or pass --data)")
    with tempfile.TemporaryDirectory(prefix="reportgen-vs-seed-") as tmp:
        commands = {
            "seed notebook": lambda i: [sys.executable, str(HERE / "seed_notebook.py"), str(args.data), f"{tmp}/seed{i}"],
            "reportgen build --format all": lambda i: [
                sys.executable, "-m", "reportgen", "build", "--format", "all", "--data", str(args.data),
                "--out", f"{tmp}/build{i}",
            ],
        }
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        before, load_before = machine_check(), os.getloadavg()[0]
        for name, command in commands.items():  # warm-up: file cache and byte-code
            run_once(command("warm"))
        for i in range(args.runs):
            for name, command in commands.items():
                wall, rss = run_once(command(i))
                figures[name].append((wall, rss))
                print(f"run {i + 1}/{args.runs} {name}: {wall:.2f}s, {rss:.0f} MiB", file=sys.stderr)
        after, load_after = machine_check(), os.getloadavg()[0]
    print(f"real file {args.data.name}, {args.runs} runs each in alternation, {os.cpu_count()} cores")
    print(f"machine check: {before:.2f}s before, {after:.2f}s after (about 0.6 s when quiet); "
          f"load average {load_before:.1f} before, {load_after:.1f} after")
    medians = {}
    for name, values in figures.items():
        walls = [w for w, _ in values]
        medians[name] = statistics.median(walls)
        print(f"  {name:<30} median {medians[name]:.2f}s (min {min(walls):.2f}, max {max(walls):.2f}), "
              f"peak RSS median {statistics.median(r for _, r in values):.0f} MiB")
    ratio = medians["seed notebook"] / medians["reportgen build --format all"]
    print(f"ratio of medians (seed / reportgen): {ratio:.2f}x (target >= 4x)")


if __name__ == "__main__":
    main()
