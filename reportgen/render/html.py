"""The HTML report: one self-contained file rendered from the Jinja2 templates in ``templates/report``.

The same templates make the PDF (:mod:`reportgen.render.pdf` renders them with ``media="print"`` and the
print stylesheet); this module owns the context every template receives. The contract (variables,
filters, overriding) is documented in ``templates/report/README.md``; :func:`build_context` is the
one place that builds it. The environment (loader chain with the user's ``--templates`` folder
first, autoescape, ``StrictUndefined``, filters, located template errors) is
:mod:`reportgen.render.templating`'s.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from types import MappingProxyType

from markupsafe import Markup

from reportgen.errors import RenderError
from reportgen.render.fonts import FONT_MARK, embed_fonts
from reportgen.render.policy import REPORT_CSP, check_page, with_csp
from reportgen.render.settings import Chart, RenderSettings
from reportgen.render.templating import build_environment, inline_source, render_template, template_roots

#: The template every report format starts from.
ENTRY_TEMPLATE = "report/report.html"
#: Stylesheets, looked up through the same loader chain as the templates.
SCREEN_CSS = "report/report.css"
PRINT_CSS = "report/print.css"
#: Chart keys the report templates show.
CHART_KEYS = ("sizes", "k_evidence", "pca", "comparison", "profile_heat", "correlation")
#: Chart keys shown when present: drawn only when the model has history (earlier months recorded).
HISTORY_CHART_KEYS = ("trend", "migration")
#: model.kpis keys shown as tiles in the executive summary, in this order.
HEADLINE_KPIS = ("customers", "balance", "purchases", "payments", "utilisation")
MEDIA = ("screen", "print")
#: URL scheme of the charts in the print document, served from memory by :mod:`reportgen.render.pdf`.
CHART_SCHEME = "reportgen-chart"


@dataclass(frozen=True)
class ChartImage:
    """A chart as the templates see it: the :class:`~reportgen.render.formats.Chart` fields with the
    PNG as a ``data:`` URI (``src``), so the HTML file needs no side files."""

    key: str
    title: str
    alt: str
    src: str
    width_px: int
    height_px: int


def chart_image(chart: Chart, media: str = "screen") -> ChartImage:
    """A chart for the templates: on screen its PNG embedded as a ``data:`` URI; in print a
    ``reportgen-chart:`` URL that the PDF's fetcher serves from memory (WeasyPrint parses a
    megabyte of base64 in attributes slowly)."""
    if media == "print":
        src = f"{CHART_SCHEME}:{chart.key}"
    else:
        src = "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")
    return ChartImage(chart.key, chart.title, chart.alt, src, chart.width_px, chart.height_px)


def build_context(model, charts: dict[str, Chart], settings: RenderSettings, *, media: str = "screen") -> dict:
    """The context every report template receives (the contract in ``templates/report/README.md``).

    - ``model``: the :class:`~reportgen.report.model.ReportModel`, as it is.
    - ``charts``: chart key -> :class:`ChartImage` (all of :data:`CHART_KEYS` are present, those of
      :data:`HISTORY_CHART_KEYS` when the model has history);
      ``src`` is a ``data:`` URI on screen, a ``reportgen-chart:KEY`` URL in print.
    - ``css``: the stylesheet text, inlined by ``base.html``: ``report.css``, plus ``print.css``
      when ``media`` is ``"print"``.
    - ``media``: ``"screen"`` (the HTML file) or ``"print"`` (the PDF).
    - ``headline_kpis``: the executive-summary KPIs of ``model.kpis`` (:data:`HEADLINE_KPIS`).
    - ``portfolio_kpis``: KPI key -> portfolio :class:`~reportgen.report.model.Kpi`, to set a segment's
      KPIs against the portfolio.
    - ``template_roots``: the folders templates come from, user folder first (for the appendix).
    """
    if media not in MEDIA:
        raise RenderError(f"unknown media {media!r}; valid: {', '.join(MEDIA)}")
    missing = [key for key in CHART_KEYS if key not in charts]
    if missing:
        raise RenderError(f"charts missing for the report: {', '.join(missing)}; got: {', '.join(sorted(charts)) or 'none'}")
    env = build_environment(settings)
    portfolio = {kpi.key: kpi for kpi in model.kpis}
    absent = [key for key in HEADLINE_KPIS if key not in portfolio]
    if absent:
        raise RenderError(f"report model lacks headline KPI(s) {', '.join(absent)}; has: {', '.join(portfolio)}")
    return {
        "model": model,
        "charts": MappingProxyType({key: chart_image(chart, media) for key, chart in charts.items()}),
        "css": _stylesheets(env, media),
        "media": media,
        "headline_kpis": tuple(portfolio[key] for key in HEADLINE_KPIS),
        "portfolio_kpis": MappingProxyType(portfolio),
        "template_roots": template_roots(settings),
    }


def _stylesheets(env, media: str) -> Markup:
    names = (SCREEN_CSS, PRINT_CSS) if media == "print" else (SCREEN_CSS,)
    # Inlined in <style>: a closing tag would end the stylesheet and start markup.
    texts = (inline_source(env, name, ("</style",), "it is inlined in <style>") for name in names)
    sheets = "\n".join(f"/* {name} */\n{text}" for name, text in zip(names, texts))
    # On screen the bundled fonts are embedded once the page exists (render.fonts); print.css loads the files.
    return Markup(sheets if media == "print" else f"{FONT_MARK}\n{sheets}")


def render_document(model, charts: dict[str, Chart], settings: RenderSettings, *, media: str) -> str:
    """The report as HTML text for ``media`` (``"screen"`` or ``"print"``); template errors become
    :class:`~reportgen.errors.ConfigError` (the fault is in the user's template folder) or
    :class:`~reportgen.errors.RenderError` (anywhere else), naming the template file and line."""
    context = build_context(model, charts, settings, media=media)
    return render_template(build_environment(settings), ENTRY_TEMPLATE, context)


def render_html(model, charts: dict[str, Chart], settings: RenderSettings) -> bytes:
    """The report as one self-contained HTML file (UTF-8): CSS inlined, charts and the bundled
    fonts (cut down to the page's characters) as ``data:`` URIs, and a Content-Security-Policy."""
    page = embed_fonts(render_document(model, charts, settings, media="screen"))
    check_page(page, "HTML report")
    return with_csp(page, REPORT_CSP).encode("utf-8")
