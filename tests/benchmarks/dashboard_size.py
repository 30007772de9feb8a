"""Benchmark: size and time to interactive of the dashboard for a large synthetic portfolio.

Not a test: prints figures. Generates ``--customers`` synthetic customers
(:func:`reportgen.data.synth.generate_customers`) into a Parquet file, analyses it, renders the
dashboard, and opens it ``--runs`` times in headless Chromium (a fresh page each time, file://
URL), reporting the file size and the median of

- *interactive*: the page's script has filled tiles, segment table and filters and answers
  input (``window.__dashboardReadyAt``, ms from navigation start);
- *charts drawn*: plotly.js has started and every chart is drawn (``window.__chartsDrawnAt``);
- *wall*: from ``page.goto`` until the charts are drawn, as the test harness sees it.

Every run also checks that the page made no request other than the file itself and ``blob:``/
``data:`` URLs and logged no console error.

    python tests/benchmarks/dashboard_size.py                      # 1,000,000 customers, 3 runs
    python tests/benchmarks/dashboard_size.py --customers 8950 --runs 5
    python tests/benchmarks/dashboard_size.py --data "../shared/data/CC GENERAL.csv"
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def build_dashboard(data: Path | None, customers: int, seed: int, folder: Path) -> tuple[Path, int, dict[str, float]]:
    """Generate (unless ``data``), analyse and render; return the file, customers and step times."""
    from reportgen.api import analyse
    from reportgen.data.synth import generate_customers
    from reportgen.render.dashboard import render_dashboard
    from reportgen.render.settings import RenderSettings

    times = {}
    if data is None:
        started = time.perf_counter()
        frame, _labels = generate_customers(customers, seed)
        data = folder / "customers.parquet"
        frame.to_parquet(data, index=False)
        times["generate"] = time.perf_counter() - started
    started = time.perf_counter()
    _result, model = analyse(data)
    times["analyse"] = time.perf_counter() - started
    started = time.perf_counter()
    html = render_dashboard(model, {}, RenderSettings())
    times["render"] = time.perf_counter() - started
    path = folder / f"segment-dashboard-{model.facts.month}.html"
    path.write_bytes(html)
    return path, model.facts.customers, times


def open_once(browser, path: Path) -> tuple[float, float, float]:
    """Open ``path`` in a fresh page; return (interactive ms, charts drawn ms, wall ms)."""
    url = path.resolve().as_uri()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, foreign = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: foreign.append(r.url) if r.url != url and not r.url.startswith(("blob:", "data:")) else None)
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("html[data-charts=drawn]", state="attached", timeout=60_000)
    wall = (time.perf_counter() - started) * 1000
    ready, drawn = page.evaluate("[window.__dashboardReadyAt, window.__chartsDrawnAt]")
    page.close()
    if errors or foreign:
        sys.exit(f"the page misbehaved: console errors {errors}, requests {foreign}")
    return ready, drawn, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="an extract to use instead of synthetic customers")
    parser.add_argument("--keep", type=Path, help="copy the dashboard here")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        path, customers, times = build_dashboard(args.data, args.customers, args.seed, Path(tmp))
        size = path.stat().st_size
        if args.keep:
            args.keep.write_bytes(path.read_bytes())
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            open_once(browser, path)  # warm the file cache and the browser
            runs = [open_once(browser, path) for _ in range(args.runs)]
            browser.close()

    ready, drawn, wall = (statistics.median(r[i] for r in runs) for i in range(3))
    print(f"dashboard for {customers:,} customers: {size / 1e6:.2f} MB ({size:,} bytes)")
    print("  build: " + ", ".join(f"{step} {seconds:.1f}s" for step, seconds in times.items()))
    print(f"  interactive (tiles, filters, tables): median {ready:.0f} ms")
    print(f"  all charts drawn:                     median {drawn:.0f} ms")
    print(f"  wall, goto to charts drawn:           median {wall:.0f} ms   ({args.runs} runs: "
          + ", ".join(f"{r[2]:.0f}" for r in runs) + " ms)")


if __name__ == "__main__":
    main()
