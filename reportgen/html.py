"""The HTML report: one self-contained file rendered from the Jinja2 templates in ``templates/report``.

The same templates make the PDF (:mod:`reportgen.pdf` renders them with ``media="print"`` and the
print stylesheet); this module owns the template environment and the context every template
receives. The contract (variables, filters, overriding) is documented in
``templates/report/README.md``; :func:`build_context` is the one place that builds it.

Templates are looked up through a loader chain: the user's ``--templates`` folder first (a file
there with the same name replaces the default), then the bundled folder. The bundled templates are
also reachable under the ``default/`` prefix, so a user's ``report/report.html`` can extend
``default/report/report.html`` and replace single blocks.
"""

from __future__ import annotations

import base64
import functools
import mimetypes
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

import jinja2
from markupsafe import Markup

from reportgen.errors import ConfigError, RenderError
from reportgen.formatting import FILTERS
from reportgen.rendering import Chart, RenderSettings
from reportgen.resources import bundled_root

#: The template every report format starts from.
ENTRY_TEMPLATE = "report/report.html"
#: Stylesheets, looked up through the same loader chain as the templates.
SCREEN_CSS = "report/report.css"
PRINT_CSS = "report/print.css"
#: Prefix under which the bundled templates stay reachable when a user file shadows them.
DEFAULT_PREFIX = "default"
#: Chart keys the report templates show.
CHART_KEYS = ("sizes", "k_evidence", "pca", "comparison", "profile_heat", "correlation")
#: Chart keys shown when present: drawn only when the model has history (earlier months recorded).
HISTORY_CHART_KEYS = ("trend", "migration")
#: model.kpis keys shown as tiles in the executive summary, in this order.
HEADLINE_KPIS = ("customers", "balance", "purchases", "payments", "utilisation")
MEDIA = ("screen", "print")
#: URL scheme of the charts in the print document, served from memory by :mod:`reportgen.pdf`.
CHART_SCHEME = "reportgen-chart"

# C0 controls other than tab, newline and carriage return, lone surrogates and the two
# non-characters U+FFFE/U+FFFF are illegal in XML 1.0 and break PDF text and HTML parsers.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_CSS_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
_FALLBACK_COLOR = "#888888"
_STYLE_END = re.compile(r"</style", re.IGNORECASE)


@dataclass(frozen=True)
class ChartImage:
    """A chart as the templates see it: the :class:`~reportgen.rendering.Chart` fields with the
    PNG as a ``data:`` URI (``src``), so the HTML file needs no side files."""

    key: str
    title: str
    alt: str
    src: str
    width_px: int
    height_px: int


def clean_text(value):
    """``value`` without XML-illegal characters (strings only; ``Markup`` stays ``Markup``)."""
    if isinstance(value, str) and _XML_ILLEGAL.search(value):
        return value.__class__(_XML_ILLEGAL.sub("", value))
    return value


def css_color(value) -> str:
    """A ``#rgb``/``#rrggbb`` colour as is; anything else becomes neutral grey (never raw CSS)."""
    value = str(value).strip()
    return value if _CSS_COLOR.fullmatch(value) else _FALLBACK_COLOR


def key_features(profile, n: int = 8):
    """The ``n`` profile rows furthest from the portfolio (largest ``|z|``), furthest first."""
    return sorted(profile, key=lambda row: -abs(row.z))[:n]


def month_label(month: str) -> str:
    """``'2026-11' -> 'November 2026'``; anything unparsable is shown as it is."""
    try:
        return datetime.strptime(str(month), "%Y-%m").strftime("%B %Y")
    except ValueError:
        return str(month)


def date_label(stamp: str) -> str:
    """An ISO timestamp as ``'26 November 2026, 22:20 UTC+00:00'``; unparsable text as it is."""
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    zone = f" UTC{moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:]}" if moment.tzinfo else ""
    return f"{moment.day} {moment.strftime('%B %Y, %H:%M')}{zone}".replace("UTC+00:00", "UTC")


def at_risk(segments):
    """The segments whose persona is an at-risk one (Dormant Users, Revolvers: ``report.AT_RISK``)."""
    from reportgen.report import AT_RISK

    return [s for s in segments if s.persona_key in AT_RISK]


def moved_into(migration, name: str) -> int:
    """Customers who moved into segment ``name`` from another segment (0 if it is not a column)."""
    if name not in migration.names_to:
        return 0
    column = migration.names_to.index(name)
    return sum(row[column] for source, row in zip(migration.names_from, migration.counts) if source != name)


#: Filters besides :data:`reportgen.formatting.FILTERS` (documented in the templates README).
REPORT_FILTERS = {
    "clean": clean_text,
    "css_color": css_color,
    "key_features": key_features,
    "month_label": month_label,
    "date_label": date_label,
    "at_risk": at_risk,
    "moved_into": moved_into,
}


def template_roots(settings: RenderSettings) -> tuple[Path, ...]:
    """The template folders, searched in order: the user's ``--templates`` folder, then the bundled one."""
    bundled = bundled_root("templates").resolve()
    if settings.templates is None:
        return (bundled,)
    user = Path(settings.templates).expanduser()
    if not user.is_dir():
        raise ConfigError(f"{user}: templates folder not found (--templates must name a folder)")
    return (user.resolve(), bundled)


def build_environment(settings: RenderSettings) -> jinja2.Environment:
    """The Jinja2 environment: loader chain, autoescape, ``StrictUndefined``, the report filters."""
    return _environment(template_roots(settings))


@functools.lru_cache(maxsize=8)
def _environment(roots: tuple[Path, ...]) -> jinja2.Environment:
    bundled = roots[-1]
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(str(root), encoding="utf-8") for root in roots]
        + [jinja2.PrefixLoader({DEFAULT_PREFIX: jinja2.FileSystemLoader(str(bundled), encoding="utf-8")})]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(("html", "htm", "xml"), default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        finalize=clean_text,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters.update(REPORT_FILTERS)
    env.filters["asset"] = functools.partial(asset_uri, roots)
    return env


def asset_uri(roots: tuple[Path, ...], name: str) -> str:
    """A file of the template folders (e.g. ``report/logo.png``) as a ``data:`` URI, so the HTML
    stays one file. Found through the same chain as templates; nothing outside them is read."""
    for root in roots:
        path = (root / str(name)).resolve()
        if path.is_relative_to(root) and path.is_file():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    raise RenderError(f"asset {name!r} not found in the template folders {', '.join(map(str, roots))}")


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

    - ``model``: the :class:`~reportgen.report.ReportModel`, as it is.
    - ``charts``: chart key -> :class:`ChartImage` (all of :data:`CHART_KEYS` are present, those of
      :data:`HISTORY_CHART_KEYS` when the model has history);
      ``src`` is a ``data:`` URI on screen, a ``reportgen-chart:KEY`` URL in print.
    - ``css``: the stylesheet text, inlined by ``base.html``: ``report.css``, plus ``print.css``
      when ``media`` is ``"print"``.
    - ``media``: ``"screen"`` (the HTML file) or ``"print"`` (the PDF).
    - ``headline_kpis``: the executive-summary KPIs of ``model.kpis`` (:data:`HEADLINE_KPIS`).
    - ``portfolio_kpis``: KPI key -> portfolio :class:`~reportgen.report.Kpi`, to set a segment's
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


def _stylesheets(env: jinja2.Environment, media: str) -> Markup:
    names = (SCREEN_CSS, PRINT_CSS) if media == "print" else (SCREEN_CSS,)
    parts = []
    for name in names:
        try:
            text, filename, _uptodate = env.loader.get_source(env, name)
        except jinja2.TemplateNotFound:
            raise RenderError(f"stylesheet {name} not found in the template folders") from None
        if _STYLE_END.search(text):
            # Inlined in <style>: a closing tag would end the stylesheet and start markup.
            raise _located_error("stylesheet must not contain '</style' (it is inlined in <style>)", filename, None, env)
        parts.append(f"/* {name} */\n{text}")
    return Markup("\n".join(parts))


def render_document(model, charts: dict[str, Chart], settings: RenderSettings, *, media: str) -> str:
    """The report as HTML text for ``media`` (``"screen"`` or ``"print"``); template errors become
    :class:`~reportgen.errors.ConfigError` (the fault is in the user's template folder) or
    :class:`~reportgen.errors.RenderError` (anywhere else), naming the template file and line."""
    context = build_context(model, charts, settings, media=media)
    env = build_environment(settings)
    try:
        return env.get_template(ENTRY_TEMPLATE).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise _located_error(f"template syntax error: {exc.message}", exc.filename or exc.name, exc.lineno, env) from None
    except jinja2.TemplateNotFound as exc:
        filename, line = _template_frame(sys.exc_info()[2], env)
        searched = ", ".join(str(r) for r in _roots_of(env))
        message = f"template {exc.name!r} not found (searched {searched})"
        raise _located_error(message, filename, line, env) from None
    except jinja2.UndefinedError as exc:
        filename, line = _template_frame(sys.exc_info()[2], env)
        raise _located_error(f"undefined name in template: {exc.message}", filename, line, env) from None
    except (RenderError, ConfigError):
        raise
    except Exception as exc:  # a filter or expression failing inside a template
        filename, line = _template_frame(sys.exc_info()[2], env)
        raise _located_error(f"template failed: {exc.__class__.__name__}: {exc}", filename, line, env) from None


def render_html(model, charts: dict[str, Chart], settings: RenderSettings) -> bytes:
    """The report as one self-contained HTML file (UTF-8): CSS inlined, charts as ``data:`` URIs."""
    return render_document(model, charts, settings, media="screen").encode("utf-8")


def _roots_of(env: jinja2.Environment) -> list[Path]:
    return [Path(loader.searchpath[0]) for loader in env.loader.loaders[:-1]]


def _template_frame(tb, env: jinja2.Environment) -> tuple[str | None, int | None]:
    """The innermost traceback frame inside a template file (Jinja rewrites frames to template lines)."""
    roots = _roots_of(env)
    found = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if any(Path(filename).is_relative_to(root) for root in roots):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _located_error(message: str, filename: str | None, line: int | None, env: jinja2.Environment):
    """``ConfigError`` when the file is in the user's folder, else ``RenderError``; one line."""
    message = " ".join(str(message).split())
    if filename is None:
        return RenderError(message)
    roots = _roots_of(env)
    where = f"{filename}:{line}" if line else str(filename)
    path = Path(filename)
    user_file = len(roots) > 1 and path.is_absolute() and path.is_relative_to(roots[0])
    return (ConfigError if user_file else RenderError)(f"{where}: {message}")
