"""Benchmark: recording a month into the history database, and reading it back, at 10M customers.

Not a test: prints figures, asserts no time. Builds the records of a month in memory, shaped as a
build makes them (:func:`reportgen.monthly.history.assignments_table` over ids ``C10001…`` with
segments 0..4 and three float32 amounts, and the campaign members of ``--actions`` actions over
about ``--members`` eligible customers with a 10% control group), then, ``--runs`` times, in a
fresh database file:

- *record*: :func:`~reportgen.monthly.history.recording` of the month, committed (wall and
  CPU-seconds of the process, DuckDB's threads included), and the file's size;
- *rebuild*: recording a second month, then the first month again (replacing its rows);
- *load campaigns*: :func:`~reportgen.monthly.history.load_campaigns` of the first month (the
  next month's closed loop reads it);
- *migration*: :func:`~reportgen.monthly.history.load_migration` from the first month to the
  month's customers.

``--baseline REV`` (repeatable) also times the history module of git revision ``REV`` (e.g. ``main``), fed
the campaign members in the shape that revision's ``campaign_members`` returned if it predates
:class:`~reportgen.monthly.history.CampaignRecord`, in alternation with the working tree's.

    python tests/benchmarks/history_store.py                          # 10M customers, 3 runs
    python tests/benchmarks/history_store.py --customers 1M --runs 5 --baseline main
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["High Balance Holders", "Frequent Spenders", "Balanced Users", "Dormant Users", "Revolvers"]


def count(text: str) -> int:
    """'10M' -> 10_000_000, '19.75M' -> 19_750_000, '300k' -> 300_000."""
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "kM" else text) * scale)


def inputs(customers: int, members: int, actions: int, seed: int = 7):
    """(ids, labels, amounts, actions [(segment, key, text, kpi)], eligible positions, control flags)."""
    rng = np.random.default_rng(seed)
    ids = pc.binary_join_element_wise("C", pc.cast(pa.array(np.arange(10001, 10001 + customers)), pa.string()), "")
    labels = rng.integers(0, len(NAMES), customers).astype(np.int32)
    amounts = {c: rng.gamma(1.0, 1000.0, customers).astype(np.float32) for c in ("balance", "purchases", "cash_advance")}
    per_segment = np.bincount(labels, minlength=len(NAMES))
    share = members / sum(per_segment[a % len(NAMES)] for a in range(actions))
    specs, eligible, control = [], [], []
    for a in range(actions):
        segment = a % len(NAMES)
        positions = np.flatnonzero((labels == segment) & (rng.random(customers) < share))
        specs.append((NAMES[segment], f"action-{a}", f"Offer number {a} to the eligible customers", "no-cash-advance"))
        eligible.append(positions)
        control.append(rng.random(len(positions)) < 0.1)
    return ids.to_numpy(zero_copy_only=False), labels, amounts, specs, eligible, control


def old_members(month, ids, specs, eligible, control) -> pa.Table:
    """The campaign members as ``campaign_members`` returned them before CampaignRecord (cust_id text)."""
    column = pa.array(ids)
    parts = []
    for (segment, key, text, kpi), rows, held in zip(specs, eligible, control):
        texts = {"month": month, "segment": segment, "action": key, "text": text, "kpi": kpi}
        zeros = pa.array(np.zeros(len(rows), dtype=np.int8))
        parts.append(pa.table({
            **{name: pa.DictionaryArray.from_arrays(zeros, pa.array([value])) for name, value in texts.items()},
            "cust_id": column.take(pa.array(rows)).cast(pa.string()),
            "control": pa.array(held, type=pa.bool_()),
        }))
    return pa.concat_tables(parts)


def history_module(revision: str | None):
    """The working tree's history module, or that of git ``revision`` loaded from its source."""
    if revision is None:
        from reportgen.monthly import history

        return history
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:reportgen/monthly/history.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"history_{revision.replace('/', '_')}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def records(history, month, data):
    """(assignments, campaigns) of ``month`` for ``history``, and the seconds it took to build them."""
    ids, labels, amounts, specs, eligible, control = data
    started = time.process_time()
    assignments = history.assignments_table(ids, labels, NAMES, month, amounts)
    if hasattr(history, "CampaignRecord"):
        campaigns = history.CampaignRecord.of(specs, eligible, control)
    else:
        campaigns = old_members(month, ids, specs, eligible, control)
    return assignments, campaigns, time.process_time() - started


def timed(action) -> tuple[float, float, object]:
    """(wall seconds, CPU-seconds of the process, result) of ``action()``."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def record(history, db, month, assignments, campaigns):
    run = {"month": month, "built_at": "2026-12-01T00:00:00+00:00", "mode": "fit", "k": len(NAMES)}
    segments = pd.DataFrame([{"month": month, "segment": i + 1, "name": n} for i, n in enumerate(NAMES)])
    segments = segments.reindex(columns=list(history.SEGMENT_COLUMNS))
    with history.recording(db, run=run, assignments=assignments, segments=segments, campaigns=campaigns) as commit:
        commit()


def one_run(history, folder: Path, data, figures: dict) -> None:
    db = folder / "history.duckdb"
    *first, prepare = records(history, "2026-10", data)
    wall, cpu, _ = timed(lambda: record(history, db, "2026-10", *first))
    figures.setdefault("build records (CPU)", []).append(prepare)
    figures.setdefault("record wall", []).append(wall)
    figures.setdefault("record CPU", []).append(cpu)
    figures.setdefault("file MB", []).append(os.path.getsize(db) / 1e6)
    wall, cpu, frame = timed(lambda: history.load_campaigns(db, "2026-10"))
    figures.setdefault("load_campaigns wall", []).append(wall)
    figures.setdefault("load_campaigns CPU", []).append(cpu)
    figures.setdefault("campaign rows", []).append(len(frame))
    del frame
    ids, labels, amounts = data[:3]
    current = history.assignments_table(ids, labels, NAMES, amounts=amounts).drop_columns(["segment"])
    wall, cpu, _ = timed(lambda: history.load_migration(db, "2026-10", current))
    figures.setdefault("load_migration wall", []).append(wall)
    figures.setdefault("load_migration CPU", []).append(cpu)
    second = records(history, "2026-11", data)[:2]
    record(history, db, "2026-11", *second)
    wall, cpu, _ = timed(lambda: record(history, db, "2026-10", *first))
    figures.setdefault("rebuild of month 1 wall", []).append(wall)
    figures.setdefault("rebuild of month 1 CPU", []).append(cpu)
    figures.setdefault("file MB after 2 months + rebuild", []).append(os.path.getsize(db) / 1e6)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", default="10M")
    parser.add_argument("--members", default="19.75M")
    parser.add_argument("--actions", type=int, default=14)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", action="append", default=[], help="git revision to compare with, e.g. main (repeatable)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = inputs(count(args.customers), count(args.members), args.actions)
    print(f"inputs: {args.customers} customers, {sum(map(len, data[4])):,} members of {args.actions} actions "
          f"({time.perf_counter() - started:.1f}s); load average {os.getloadavg()[0]:.1f}", flush=True)
    stores = {"working tree": history_module(None)}
    for revision in args.baseline:
        stores[revision] = history_module(revision)
    results = {name: {} for name in stores}
    for run in range(args.runs):
        for name, history in stores.items():
            with tempfile.TemporaryDirectory(prefix="history-bench-") as folder:
                one_run(history, Path(folder), data, results[name])
            print(f"run {run + 1} {name}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in results[name].items()),
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    print(f"\nmedians of {args.runs} runs")
    for name, figures in results.items():
        print(f"{name}:")
        for key, values in figures.items():
            print(f"  {key:34} {statistics.median(values):10.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
