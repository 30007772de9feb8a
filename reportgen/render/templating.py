"""The Jinja2 environment every HTML-based renderer uses: loader chain, autoescape, StrictUndefined,
filters, and template errors that name the file and line.

The HTML report, the PDF (the same templates in print) and the dashboard all render through
:func:`build_environment`. Templates are looked up through a loader chain: the user's
``--templates`` folder first (a file there with the same name replaces the default), then the
bundled folder. The bundled templates are also reachable under the ``default/`` prefix, so a
user's ``report/report.html`` can extend ``default/report/report.html`` and replace single blocks.

Every ``{{ … }}`` output passes :func:`clean_text` (the environment's ``finalize``), which drops
the characters XML 1.0 forbids; :class:`Verbatim` text (inlined source code) is left exactly as
it is. The filters are one registry, :data:`FILTERS`. A template failure becomes a one-line
:class:`~reportgen.errors.ConfigError` when the faulty file is in the user's folder, else a
:class:`~reportgen.errors.RenderError`, naming the template file and line.
"""

from __future__ import annotations

import base64
import functools
import mimetypes
import re
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from reportgen.errors import ConfigError, RenderError, ReportgenError
from reportgen.render.settings import RenderSettings
from reportgen.report.formatting import FILTERS as NUMBER_FILTERS
from reportgen.report.formatting import XML_ILLEGAL, date_label, month_label
from reportgen.resources import bundled_root

#: Prefix under which the bundled templates stay reachable when a user file shadows them.
DEFAULT_PREFIX = "default"

# C0 controls other than tab, newline and carriage return, DEL, lone surrogates and the two
# non-characters U+FFFE/U+FFFF: illegal in XML 1.0 (or invisible), they break PowerPoint, PDF
# text and HTML parsers.
_CSS_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
_FALLBACK_COLOR = "#888888"


class Verbatim(Markup):
    """Markup written out exactly as it is, even by :func:`clean_text`: inlined source code
    (plotly.js carries control characters inside its JavaScript strings)."""


# -- text and colour ----------------------------------------------------------------------------


def clean_text(value):
    """``value`` without XML-illegal characters. Strings only (``Markup`` stays ``Markup``);
    other values and :class:`Verbatim` text are returned as they are."""
    if isinstance(value, str) and not isinstance(value, Verbatim) and XML_ILLEGAL.search(value):
        return value.__class__(XML_ILLEGAL.sub("", value))
    return value


def css_color(value) -> str:
    """A ``#rgb``/``#rrggbb`` colour as is; anything else becomes neutral grey (never raw CSS)."""
    value = str(value).strip()
    return value if _CSS_COLOR.fullmatch(value) else _FALLBACK_COLOR


# -- report filters: questions the templates ask of the model ----------------------------------


def key_features(profile, n: int = 8):
    """The ``n`` profile rows furthest from the portfolio (largest ``|z|``), furthest first (rows
    without a z, those of a segment with no customers, last)."""
    return sorted(profile, key=lambda row: (row.z is None, -abs(row.z or 0.0)))[:n]


def at_risk(segments):
    """The segments whose persona is an at-risk one (Dormant Users, Revolvers: ``report.AT_RISK``)."""
    from reportgen.report.model import AT_RISK

    return [s for s in segments if s.persona_key in AT_RISK]


def moved_into(migration, name: str) -> int:
    """Customers who moved into segment ``name`` from another segment (0 if it is not a column)."""
    if name not in migration.names_to:
        return 0
    column = migration.names_to.index(name)
    return sum(row[column] for source, row in zip(migration.names_from, migration.counts) if source != name)


#: Every template filter (documented in the templates' READMEs): the number filters of
#: :mod:`reportgen.report.formatting`, then text, colour and report filters. ``asset`` is added per
#: environment (it reads the environment's template folders).
def _at_render(function):
    """``function`` as a filter Jinja never runs at compile time. Jinja folds ``{{ 0.85|number(2) }}``
    into the compiled template; a render lane compiles ahead of time, before it learns the build's
    locale, so the folded text would be en-US. A filter that takes the context is never folded."""

    @functools.wraps(function)
    @jinja2.pass_context
    def filter_(_context, *args, **kwargs):
        return function(*args, **kwargs)

    return filter_


FILTERS = {
    **{name: _at_render(function) for name, function in NUMBER_FILTERS.items()},
    "clean": clean_text,
    "css_color": css_color,
    "month_label": _at_render(month_label),
    "date_label": _at_render(date_label),
    "key_features": key_features,
    "at_risk": at_risk,
    "moved_into": moved_into,
}


# -- the environment ----------------------------------------------------------------------------


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
    """The Jinja2 environment: loader chain, autoescape, ``StrictUndefined``, :data:`FILTERS`."""
    return _environment(template_roots(settings))


@functools.lru_cache(maxsize=8)
def _environment(roots: tuple[Path, ...]) -> jinja2.Environment:
    bundled = roots[-1]
    loader = jinja2.ChoiceLoader(
        [ContainedLoader(root) for root in roots]
        + [jinja2.PrefixLoader({DEFAULT_PREFIX: ContainedLoader(bundled)})]
    )
    # Templates are untrusted: the immutable sandbox refuses private attributes (``__globals__``,
    # ``__class__``...), unsafe callables and changes to the model, so a template can only read
    # the context and format it (see templates/report/README.md).
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=clean_text,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters["asset"] = functools.partial(asset_uri, roots)
    return env


class ContainedLoader(jinja2.FileSystemLoader):
    """A folder's templates, never a file outside it: a template that is (or sits under) a
    symbolic link leading out of the folder fails as a :class:`~reportgen.errors.ConfigError`
    naming it, instead of being read."""

    def __init__(self, root: Path):
        super().__init__(str(root), encoding="utf-8")
        self.root = Path(root).resolve()

    def get_source(self, environment, template):
        """The template's text, file name and up-to-date check, when the file is inside the folder."""
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(filename).resolve().is_relative_to(self.root):
            raise ConfigError(
                f"{filename}: template {template!r} leads out of the templates folder {self.root} "
                "(a symbolic link); templates must be files inside the folder"
            )
        return source, filename, uptodate


def asset_uri(roots: tuple[Path, ...], name: str) -> str:
    """A file of the template folders (e.g. ``report/logo.png``) as a ``data:`` URI, so the HTML
    stays one file. Found through the same chain as templates; nothing outside them is read."""
    for root in roots:
        path = (root / str(name)).resolve()
        if path.is_relative_to(root) and path.is_file():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    raise RenderError(f"asset {name!r} not found in the template folders {', '.join(map(str, roots))}")


def inline_source(env: jinja2.Environment, name: str, forbidden: tuple[str, ...], why: str) -> str:
    """The text of template-folder file ``name`` (found through the loader chain), to be inlined
    in the page; text containing any of ``forbidden`` (lower case, matched in any case), which
    would end the element it is inlined in, fails the build, saying ``why``."""
    try:
        text, filename, _uptodate = env.loader.get_source(env, name)
    except jinja2.TemplateNotFound:
        raise RenderError(f"{name} not found in the template folders") from None
    for bad in forbidden:
        if bad in text.lower():
            raise located_error(f"must not contain {bad!r} ({why})", filename, None, env)
    return text


# -- rendering and its errors -------------------------------------------------------------------


def render_template(env: jinja2.Environment, name: str, context: dict) -> str:
    """Template ``name`` rendered with ``context``; any failure inside the templates becomes a
    located project error (:func:`template_error`); the project's own errors pass unchanged."""
    try:
        return env.get_template(name).render(context)
    except ReportgenError:
        raise
    except Exception as exc:  # a syntax error, an undefined name, a filter or expression failing
        raise template_error(exc, env) from None


def template_error(exc: Exception, env: jinja2.Environment) -> ReportgenError:
    """A template failure as a one-line project error naming the template file and line."""
    if isinstance(exc, ReportgenError):  # already located (e.g. a template leading out of its folder)
        return exc
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return located_error(f"template syntax error: {exc.message}", exc.filename or exc.name, exc.lineno, env)
    filename, line = _template_frame(exc.__traceback__, env)
    if isinstance(exc, jinja2.TemplateNotFound):
        searched = ", ".join(str(root) for root in _roots_of(env))
        return located_error(f"template {exc.name!r} not found (searched {searched})", filename, line, env)
    if isinstance(exc, jinja2.UndefinedError):
        return located_error(f"undefined name in template: {exc.message}", filename, line, env)
    return located_error(f"template failed: {exc.__class__.__name__}: {exc}", filename, line, env)


def located_error(message: str, filename: str | None, line: int | None, env: jinja2.Environment) -> ReportgenError:
    """``ConfigError`` when ``filename`` is in the user's folder, else ``RenderError``; one line."""
    message = " ".join(str(message).split())
    if filename is None:
        return RenderError(message)
    roots = _roots_of(env)
    where = f"{filename}:{line}" if line else str(filename)
    path = Path(filename)
    user_file = len(roots) > 1 and path.is_absolute() and path.is_relative_to(roots[0])
    return (ConfigError if user_file else RenderError)(f"{where}: {message}")


def _roots_of(env: jinja2.Environment) -> list[Path]:
    return [loader.root for loader in env.loader.loaders[:-1]]


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
