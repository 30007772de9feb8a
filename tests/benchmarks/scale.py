"""Benchmark: reportgen on 100k, 1M and 10M synthetic customers (wall time, peak memory, steps).

Not a test: prints a table. For each size it generates synthetic customers as Parquet once
(``reportgen.data.synth.generate_customers``, seed 7, cached under ``--cache``), then runs

    python -m reportgen build --format pdf --data FILE --out FRESH_DIR

in a fresh process (a fresh output folder per run, so no history from an earlier run changes the
mode), measures its wall time and peak resident memory (``os.wait4`` rusage of that process),
and parses the per-step durations the CLI logs on stderr when it is not a terminal
(``... reportgen INFO choose k: 0.52s``). Sizes up to 1M run ``--runs`` times (default 3) and
report the median; 10M runs ``--big-runs`` times (default 1).

    python tests/benchmarks/scale.py                       # 100k, 1M, 10M
    python tests/benchmarks/scale.py --sizes 100k,1M --runs 3
    python tests/benchmarks/scale.py --command segment     # the segment files instead of the PDF
    python tests/benchmarks/scale.py --sizes 1M -- --engine spark   # extra CLI arguments after --

If ``build`` fails (e.g. no PDF renderer on this machine) it falls back to ``reportgen segment``
and says so. Targets on a 2-core machine: 1M < 6 s and < 2 GB; 10M < 30 s and < 5 GB, and at
most 11x the 1M time. ``--json FILE`` also writes the raw figures. To see where time goes in a
run, profile one in-process, e.g. ``py-spy record -o prof.svg -- python -m reportgen build ...``
or ``python -m cProfile -o run.prof -m reportgen build ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = re.compile(r"reportgen INFO (.+): ([0-9.]+)s$")
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
TARGETS = {"1M": (6.0, 2.0), "10M": (30.0, 5.0)}  # seconds, GB (issue 15)
SEED = 7


def data_file(cache: Path, n: int) -> Path:
    """The cached Parquet file of ``n`` synthetic customers (generated on first use)."""
    path = cache / f"customers-{n}.parquet"
    if not path.exists():
        from reportgen.data.synth import generate_customers

        cache.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        frame, _labels = generate_customers(n, seed=SEED)
        partial = path.with_suffix(".parquet.tmp")
        frame.to_parquet(partial, index=False)
        os.replace(partial, path)
        print(f"generated {path} in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return path


def run_once(command: str, data: Path, extra: list[str]) -> dict:
    """One run in a fresh process: wall seconds, peak RSS (GB), step seconds, exit code."""
    with tempfile.TemporaryDirectory(prefix="reportgen-scale-") as out:
        args = [sys.executable, "-m", "reportgen", command]
        if command == "build":
            args += ["--format", "pdf"]
        args += ["--data", str(data), "--out", out, *extra]
        with tempfile.TemporaryFile(mode="w+") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            stderr = err.read()
    steps: dict[str, float] = {}
    for line in stderr.splitlines():
        match = STEP.search(line)
        if match:
            steps[match.group(1)] = steps.get(match.group(1), 0.0) + float(match.group(2))
    # ru_maxrss is in KiB on Linux
    return {"wall": wall, "rss_gb": usage.ru_maxrss * 1024 / 1e9, "steps": steps,
            "code": proc.returncode, "error": stderr.strip().splitlines()[-1:] if proc.returncode else []}


def measure(label: str, n: int, runs: int, command: str, cache: Path, extra: list[str]) -> tuple[str, dict]:
    """Median figures of ``runs`` runs at size ``n``; falls back from build to segment if build fails."""
    data = data_file(cache, n)
    results = []
    for i in range(runs):
        result = run_once(command, data, extra)
        if result["code"] != 0 and command == "build":
            print(f"{label}: build failed ({' '.join(result['error'])}); falling back to `reportgen segment`",
                  file=sys.stderr)
            command = "segment"
            result = run_once(command, data, extra)
        if result["code"] != 0:
            sys.exit(f"{label}: {command} failed ({result['code']}): {' '.join(result['error'])}")
        load = os.getloadavg()
        result["load"] = round(load[0], 2)
        steps = ", ".join(f"{name} {seconds:.2f}" for name, seconds in result["steps"].items())
        print(f"{label} run {i + 1}/{runs}: {result['wall']:.1f}s, {result['rss_gb']:.2f} GB, load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {steps}", file=sys.stderr)
        results.append(result)
    names = list(dict.fromkeys(name for r in results for name in r["steps"]))
    summary = {
        "customers": n,
        "runs": runs,
        "command": command,
        "wall": statistics.median(r["wall"] for r in results),
        "wall_all": [round(r["wall"], 2) for r in results],
        "load_all": [r["load"] for r in results],
        "rss_gb": statistics.median(r["rss_gb"] for r in results),
        "rss_gb_max": max(r["rss_gb"] for r in results),
        "steps": {name: statistics.median(r["steps"].get(name, 0.0) for r in results) for name in names},
    }
    return command, summary


def print_table(summaries: dict[str, dict]) -> None:
    """A Markdown table: one row per size, one column per step."""
    steps = list(dict.fromkeys(name for s in summaries.values() for name in s["steps"]))
    head = ["customers", "runs", "command", "wall (s)", "peak RSS (GB)", *steps]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, s in summaries.items():
        cells = [label, str(s["runs"]), s["command"], f"{s['wall']:.1f}", f"{s['rss_gb']:.2f}",
                 *(f"{s['steps'].get(name, 0.0):.2f}" for name in steps)]
        print("| " + " | ".join(cells) + " |")


def check_targets(summaries: dict[str, dict]) -> list[str]:
    """One line per target: met or missed."""
    lines = []
    for label, (seconds, gigabytes) in TARGETS.items():
        if label in summaries:
            s = summaries[label]
            lines.append(f"{label}: wall {s['wall']:.1f}s (target < {seconds:.0f}s) "
                         f"{'met' if s['wall'] < seconds else 'MISSED'}; peak {s['rss_gb']:.2f} GB "
                         f"(target < {gigabytes:.0f} GB) {'met' if s['rss_gb'] < gigabytes else 'MISSED'}")
    lines.append(f"load average {os.getloadavg()[0]:.1f} at the end (2 cores)")
    if "1M" in summaries and "10M" in summaries:
        ratio = summaries["10M"]["wall"] / summaries["1M"]["wall"]
        lines.append(f"10M / 1M wall time: {ratio:.1f}x (target <= 11x) {'met' if ratio <= 11 else 'MISSED'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1M,10M", help="comma-separated: 100k, 1M, 10M")
    parser.add_argument("--runs", type=int, default=3, help="runs per size up to 1M (median reported)")
    parser.add_argument("--big-runs", type=int, default=1, help="runs at 10M")
    parser.add_argument("--command", choices=("build", "segment"), default="build")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "reportgen-scale")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="extra CLI arguments after --")
    args = parser.parse_args()
    extra = [a for a in args.extra if a != "--"]
    summaries: dict[str, dict] = {}
    command = args.command
    for label in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        if label not in SIZES:
            parser.error(f"unknown size {label!r}; choose from {', '.join(SIZES)}")
        runs = args.big_runs if SIZES[label] >= 10_000_000 else args.runs
        command, summaries[label] = measure(label, SIZES[label], runs, command, args.cache, extra)
    print(f"reportgen {command}{' --format pdf' if command == 'build' else ''} {' '.join(extra)} "
          f"on {os.cpu_count()} cores (median of the runs shown)")
    print_table(summaries)
    for line in check_targets(summaries):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=1) + "\n")


if __name__ == "__main__":
    main()
