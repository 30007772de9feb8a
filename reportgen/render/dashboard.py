"""The interactive dashboard: one self-contained HTML file that works offline.

Opened from an e-mail attachment or a file share, the page makes no network request at all:
plotly.js (from the installed ``plotly`` package), the stylesheet, the script and the data are all
inlined. The page is rendered from the Jinja2 templates in ``templates/dashboard`` through
:mod:`reportgen.render.templating` (a user's ``--templates`` folder is searched first; the bundled files
stay reachable as ``default/...``); the context each template receives is documented in
``templates/dashboard/README.md`` and built in one place, :func:`build_context`.

What the page computes, and from what:

- KPI tiles, the segment summary and the cube charts come from the model's ``cube`` (exact sums
  per segment x tenure x credit-limit band x utilisation band cell), so every filter combination
  shows exact figures, formatted in JavaScript exactly as :mod:`reportgen.report.formatting` does
  (:data:`reportgen.report.model.KPI_FORMULAS` tells the script how each KPI of ``model.kpis`` is made from the sums).
- Distributions and the customer table come from the model's fixed-size random ``sample``
  (ids masked unless the build allows them); the page says so.
- The PCA map comes from the model's ``scatter`` sample.

The data travel as JSON in a ``<script type="application/json">`` block (:func:`embed_json`
escapes ``<``, ``>`` and ``&`` so no text can close the block). Every text from the model
(persona names and playbook texts may contain HTML) is set with ``textContent`` by the script
and escaped for Plotly's pseudo-HTML labels; colours are checked to be ``#rgb``/``#rrggbb``.

File size and load time do not grow with the number of customers: the cube's size depends on k
and the bands, the sample and the scatter are fixed-size. With plotly.js (about 4.8 MB) the file is
about 5.4 MB whether the portfolio has 8,950 or 1,000,000 customers.

plotly.js is embedded as text and started from a ``blob:`` URL once the page's own script has
filled the tiles, tables and filters: the page answers input within about 0.1 s while the browser
compiles plotly.js off the main thread (running it inline would block the page for a second or
more first). The Content-Security-Policy allows exactly that: inline code, ``blob:`` scripts,
``data:``/``blob:`` images, and nothing from any network.
"""

from __future__ import annotations

import functools
import json
import math
import re

from reportgen.errors import RenderError
from reportgen.render.fonts import FONT_MARK, embed_fonts
from reportgen.render.formats import action_file_name, target_stems
from reportgen.render.policy import DASHBOARD_CSP, check_page, with_csp
from reportgen.render.settings import Chart, RenderSettings
from reportgen.render.templating import (
    Verbatim,
    build_environment,
    clean_text,
    css_color,
    inline_source,
    key_features,
    render_template,
)
from reportgen.report.formatting import (
    format_count,
    format_index,
    format_value,
    index_strength,
    month_label,
    style_symbols,
)
from reportgen.report.model import KPI_FORMULAS, LIMIT_BANDS, UTILISATION_BANDS, ReportModel

#: The page every dashboard starts from, and the inlined stylesheet and script.
ENTRY_TEMPLATE = "dashboard/dashboard.html"
DASHBOARD_CSS = "dashboard/dashboard.css"
DASHBOARD_JS = "dashboard/dashboard.js"
#: model.kpis keys shown as large tiles, in this order; the other KPIs are shown smaller.
HEADLINE_KPIS = ("customers", "balance", "purchases", "payments", "utilisation")
#: Sample columns drawn as distributions (overview box plots and drill-down histograms).
DISTRIBUTIONS = (
    ("BALANCE", "Balance", "$"),
    ("PURCHASES", "Purchases", "$"),
    ("PAYMENTS", "Payments", "$"),
    ("UTILISATION", "Utilisation", "share"),
)
#: Columns of the drill-down customer table (sample column, heading, unit).
TABLE_COLUMNS = (
    ("BALANCE", "Balance", "$"),
    ("PURCHASES", "Purchases", "$"),
    ("PAYMENTS", "Payments", "$"),
    ("CREDIT_LIMIT", "Credit limit", "$"),
    ("UTILISATION", "Utilisation", "share"),
    ("PRC_FULL_PAYMENT", "Paid in full", "share"),
    ("TENURE", "Tenure (months)", "count"),
)
#: Figures of ``model.history`` trend series the trend chart can show: (key, label, format).
TREND_MEASURES = (
    ("customers", "Customers", "count"),
    ("share", "Share of customers", "share"),
    ("avg_balance", "Average balance", "money"),
    ("avg_purchases", "Average purchases", "money"),
    ("utilisation", "Utilisation (balance / limit)", "share"),
)
#: Profile medians shown when hovering a point of the PCA map.
HOVER_FEATURES = ("BALANCE", "PURCHASES", "PAYMENTS")
TABLE_PAGE_SIZE = 25

_SCRIPT_CLOSE = re.compile(r"</(script)", re.IGNORECASE)


def render_dashboard(model: ReportModel, charts: dict[str, Chart], settings: RenderSettings) -> bytes:
    """The dashboard as one self-contained, offline HTML file (UTF-8).

    ``charts`` (the PNG bundle) is not used: the dashboard draws its own interactive charts from
    the model's data. Template errors become :class:`~reportgen.errors.ConfigError` when the
    faulty file is in the user's templates folder, else :class:`~reportgen.errors.RenderError`.
    """
    return render_context(build_context(model, settings), settings)


def render_context(context: dict, settings: RenderSettings) -> bytes:
    """Render the dashboard page with ``context`` (from :func:`build_context`) as UTF-8 bytes."""
    page = embed_fonts(render_template(build_environment(settings), ENTRY_TEMPLATE, context))
    check_page(page, "dashboard")
    return with_csp(page, DASHBOARD_CSP).encode("utf-8")


def build_context(model: ReportModel, settings: RenderSettings, *, data: dict | None = None) -> dict:
    """The context every dashboard template receives (documented in ``templates/dashboard/README.md``).

    ``data`` replaces the JSON payload (default :func:`build_dashboard_data` of ``model``).
    """
    env = build_environment(settings)
    portfolio = {kpi.key: kpi for kpi in model.kpis}
    missing = [key for key in HEADLINE_KPIS if key not in portfolio]
    if missing:
        raise RenderError(f"report model lacks headline KPI(s) {', '.join(missing)}; has: {', '.join(portfolio)}")
    data = build_dashboard_data(model) if data is None else data
    sample = model.sample
    stems = target_stems((s.id, s.name, s.persona_key) for s in model.segments)  # the files the build writes
    return {
        "model": model,
        "headline_kpis": tuple(portfolio[key] for key in HEADLINE_KPIS),
        "other_kpis": tuple(k for k in model.kpis if k.key not in HEADLINE_KPIS and k.key in KPI_FORMULAS),
        "segments": tuple({"segment": s, "color": css_color(s.color)} for s in model.segments),
        "recommendations": tuple({"segment": s, "color": css_color(s.color), "target_csv": f"targets/{stems[s.id]}.csv"}
                                 for s in model.segments),
        # the sized actions, largest money at stake first; a list exists only for eligible customers
        "actions": tuple({"action": a, "color": css_color(a.color),
                          "target_csv": f"targets/{action_file_name(stems[a.segment_id], a.key)}" if a.eligible else None}
                         for a in model.actions),
        "tenures": tuple(sorted({int(row[1]) for row in model.cube.rows})),
        "limit_bands": tuple(enumerate(model.cube.limit_bands)),
        "utilisation_bands": tuple(enumerate(model.cube.utilisation_bands)),
        "distributions": DISTRIBUTIONS,
        "table_columns": TABLE_COLUMNS,
        "has_history": bool(data.get("history")),
        "history_months": _filter_months(data),
        "trend_measures": TREND_MEASURES,
        "monitoring": getattr(model, "monitoring", None),
        "sample_note": sample_note(len(sample.ids), sample.total_customers),
        "ids_masked": sample.ids_masked,
        "data_json": embed_json(data),
        # the bundled fonts' @font-face rules replace the mark once the page exists (render.fonts)
        "css": Verbatim(FONT_MARK + "\n" + inline_source(env, DASHBOARD_CSS, ("</",), "it is inlined in <style>")),
        "script": Verbatim(inline_source(env, DASHBOARD_JS, ("</script", "<!--"), "it is inlined in <script>")),
        "plotly_js": Verbatim(plotly_source()),
    }


def _profile_rows(segment) -> list[list]:
    """The segment's eight most distinctive features against the portfolio, as the report's profile
    table: [label, segment mean, portfolio mean, index (100 = portfolio), shade from -1 to 1]; none for
    a segment with no customers (it has no means to compare)."""
    if not segment.customers:
        return []
    return [
        [clean_text(row.label), format_value(row.mean, row.unit), format_value(row.portfolio_mean, row.unit),
         format_index(row.index), round(index_strength(row.index), 3) if row.index is not None else None]
        for row in key_features(segment.profile, 8)
    ]


def build_dashboard_data(model: ReportModel, *, cubes: dict[str, list] | None = None) -> dict:
    """The JSON payload the page's script works from (plain values only; shape in the templates README).

    ``history`` comes from ``model.history`` (trend series and the latest migration). ``cubes``
    (month -> cube rows of earlier months, same dimensions and measures as ``model.cube``) turns
    on the month filter: tiles, the segment table and the bar charts then show any recorded month
    exactly. The history store does not keep monthly cubes yet, so the month filter stays hidden.
    """
    cube, sample, scatter = model.cube, model.sample, model.scatter
    profile_medians = {s.id: {p.feature: p.median for p in s.profile} for s in model.segments}
    return {
        "title": clean_text(model.facts.title),
        "month": model.facts.month,
        "month_label": month_label(model.facts.month),
        "kpis": [
            {"key": k.key, "label": clean_text(k.label), "value": k.value, "display": k.display}
            for k in model.kpis
            if k.key in KPI_FORMULAS
        ],
        "headline": list(HEADLINE_KPIS),
        "kpi_formulas": {key: list(formula) for key, formula in KPI_FORMULAS.items()},
        "segments": [
            {
                "id": s.id,
                "name": clean_text(s.name),
                "color": css_color(s.color),
                "customers": s.customers,
                "share": s.share,
                "description": clean_text(s.description),
                "traits": [clean_text(t) for t in s.traits],
                "actions": [clean_text(t) for t in s.actions],
                "risks": [clean_text(t) for t in s.risks],
                "medians": {f: profile_medians[s.id].get(f) for f in HOVER_FEATURES},
                "profile": _profile_rows(s),
            }
            for s in model.segments
        ],
        "cube": {
            "dimensions": list(cube.dimensions),
            "measures": list(cube.measures),
            "limit_bands": list(cube.limit_bands),
            "utilisation_bands": list(cube.utilisation_bands),
            "limit_edges": [low for low, _high, _label in LIMIT_BANDS[1:]],
            "utilisation_edges": [low for low, _high, _label in UTILISATION_BANDS[1:]],
            "rows": [list(row) for row in cube.rows],
        },
        "sample": {
            "columns": list(sample.columns),
            "ids": [clean_text(i) for i in sample.ids],
            "segment": list(sample.segment),
            "values": {c: [row[j] for row in sample.values] for j, c in enumerate(sample.columns)},
            "size": len(sample.ids),
            "total_customers": sample.total_customers,
            "ids_masked": sample.ids_masked,
        },
        "scatter": {
            "x": list(scatter.x),
            "y": list(scatter.y),
            "segment": list(scatter.segment),
            "explained": list(scatter.explained),
            "total_customers": scatter.total_customers,
        },
        "distributions": [list(d) for d in DISTRIBUTIONS],
        "trend_measures": [list(m) for m in TREND_MEASURES],
        "table_columns": [list(c) for c in TABLE_COLUMNS],
        "page_size": TABLE_PAGE_SIZE,
        "history": history_payload(model, cubes),
        **({"style": style} if (style := style_symbols()) else {}),  # a locale or currency other than en_US/USD
    }


def history_payload(model: ReportModel, cubes: dict[str, list] | None = None) -> dict | None:
    """``model.history`` for the script: months, one series per segment name (with the current
    segment id, or ``None`` for a segment that no longer exists), the latest migration, and the
    optional monthly ``cubes``; ``None`` when the model has no history."""
    history = getattr(model, "history", None)
    if history is None:
        return None
    if cubes is None:  # a History that keeps monthly cubes (month -> rows) turns the month filter on
        cubes = getattr(history, "cubes", None)
    ids = {s.name: s.id for s in model.segments}
    migration = history.migration
    return {
        "months": list(history.months),
        "portfolio_customers": list(history.portfolio_customers),
        "series": [
            {
                "name": clean_text(series.name),
                "segment": ids.get(series.name),
                "color": css_color(series.color),
                **{key: list(getattr(series, key)) for key, _label, _fmt in TREND_MEASURES},
            }
            for series in history.series
        ],
        "migration": None if migration is None else {
            "month_from": migration.month_from,
            "month_to": migration.month_to,
            "names_from": [clean_text(n) for n in migration.names_from],
            "names_to": [clean_text(n) for n in migration.names_to],
            "counts": [list(row) for row in migration.counts],
            "customers_both": migration.customers_both,
            "moved": migration.moved,
            "notes": [clean_text(t) for t in (*migration.highlights, *migration.at_risk)],
        },
        "cubes": {str(month): [list(row) for row in rows] for month, rows in (cubes or {}).items()},
    }


def _filter_months(data: dict) -> tuple[str, ...]:
    """The months the month filter offers: the current one and those with a recorded cube."""
    history = data.get("history") or {}
    cubes = history.get("cubes") or {}
    months = [m for m in history.get("months", ()) if m in cubes or m == data["month"]]
    return tuple(months) if len(months) > 1 else ()


def embed_json(data: dict) -> Verbatim:
    """``data`` as JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` are
    written as ``\\uXXXX`` escapes, so no value can close the block or open a comment, and all
    non-ASCII text is escaped too (no encoding or line-separator surprises); ``JSON.parse``
    restores them."""
    text = json.dumps(_finite(data), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return Verbatim(text)


def _finite(value):
    """Plain JSON values with NaN and infinities as ``null`` (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@functools.lru_cache(maxsize=1)
def plotly_source() -> str:
    """plotly.js from the installed ``plotly`` package, safe to inline in a ``<script>`` element:
    ``</script`` becomes ``<\\/script`` (the same text inside the JavaScript strings and regular
    expressions where it can occur); a ``<!--`` would change how the browser finds the element's
    end, so it fails the build rather than risk a broken page."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise RenderError("the dashboard needs the 'plotly' package (pip install plotly)") from None
    source = get_plotlyjs()
    if "<!--" in source:
        raise RenderError("the installed plotly.js contains '<!--' and cannot be inlined safely; use another plotly version")
    return _SCRIPT_CLOSE.sub(r"<\\/\1", source)


def sample_note(size: int, total: int) -> str:
    """What the sample-based views show, in words."""
    if size >= total:
        return f"Distributions and the customer table show all {format_count(total)} customers."
    return (
        f"Distributions and the customer table show a random sample of {format_count(size)} "
        f"of {format_count(total)} customers."
    )
