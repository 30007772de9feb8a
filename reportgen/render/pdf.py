"""The PDF report: the HTML report's templates with the print stylesheet, rendered by WeasyPrint.

Not a second template tree: :func:`render_pdf` renders the same ``report/report.html`` as
:mod:`reportgen.render.html` with ``media="print"`` (which adds ``print.css``) and hands the text to
WeasyPrint as a tagged PDF/UA-1 document.

Reliability rules kept here:

- WeasyPrint fetches through :class:`TemplateFetcher`: ``data:`` URLs and files inside the
  template folders only. Anything else (http, https, ``file://`` outside, ...) stops the build
  with a :class:`~reportgen.errors.RenderError` naming the URL, instead of a silent hole.
- WeasyPrint's own logging is captured while it renders: errors (unusable resources, an image
  without alt text) fail the build; warnings (CSS it does not support) go to this module's
  logger at DEBUG; progress messages are dropped.
- Metadata (title, author, subject, keywords, dates) comes from the template's ``<head>`` and the
  model's ``generated_at``, so the same model gives the same PDF bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mimetypes
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from reportgen.errors import RenderError
from reportgen.render.html import CHART_SCHEME, render_document
from reportgen.render.settings import Chart, RenderSettings
from reportgen.render.templating import template_roots

LOG = logging.getLogger(__name__)


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def _captured_weasyprint_logs():
    """Collect WeasyPrint's warnings and errors (not propagated) and mute its progress messages."""
    main, progress = logging.getLogger("weasyprint"), logging.getLogger("weasyprint.progress")
    saved = [(lg, lg.level, lg.propagate) for lg in (main, progress)]
    handler = _ListHandler()
    main.addHandler(handler)
    main.setLevel(logging.WARNING)
    main.propagate = False
    progress.setLevel(logging.CRITICAL + 1)
    progress.propagate = False
    try:
        yield handler.records
    finally:
        main.removeHandler(handler)
        for lg, level, propagate in saved:
            lg.setLevel(level)
            lg.propagate = propagate


# WeasyPrint logs progress while it is imported (it parses its own stylesheets): keep that quiet too.
with _captured_weasyprint_logs():
    from weasyprint import HTML  # noqa: E402
    from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse  # noqa: E402

#: WeasyPrint's options for the report (PDF/UA-1 implies a tagged PDF 1.7).
PDF_OPTIONS = {
    "pdf_variant": "pdf/ua-1",
    "optimize_images": False,
    "uncompressed_pdf": False,
}

# WeasyPrint's loggers are process-wide: one PDF at a time, so captured records are our own.
_RENDER_LOCK = threading.Lock()


def warm_up() -> None:
    """Compile the bundled report templates ahead of the first PDF (a render lane calls this
    while the analysis runs; compiling them costs about 0.06 s)."""
    from reportgen.render.templating import build_environment

    env = build_environment(RenderSettings())
    for name in env.list_templates(filter_func=lambda n: n.startswith("report/") and n.endswith(".html")):
        env.get_template(name)


def render_pdf(model, charts: dict[str, Chart], settings: RenderSettings) -> bytes:
    """The report as PDF bytes (A4, tagged PDF/UA-1, fonts embedded, bookmarks from h1/h2)."""
    html_text = render_document(model, charts, settings, media="print")
    roots = template_roots(settings)
    fetcher = TemplateFetcher(roots, {key: chart.jpeg or chart.png for key, chart in charts.items()})
    # An identifier from the content keeps the bytes stable from one build of the same model to the next.
    identifier = hashlib.sha256(html_text.encode("utf-8")).hexdigest()[:32].encode("ascii")
    with _RENDER_LOCK, _captured_weasyprint_logs() as records:
        try:
            pdf = _write_pdf(html_text, roots[0], fetcher, identifier)
        except BaseException as exc:  # FatalURLFetchingError is a BaseException
            if fetcher.blocked:
                raise _blocked_error(fetcher) from None
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            detail = _short(" ".join(f"{exc.__class__.__name__}: {exc}".split()), 300)
            raise RenderError(f"WeasyPrint could not render the PDF: {detail}") from exc
    if fetcher.blocked:
        raise _blocked_error(fetcher)
    problems = [r for r in records if r.levelno >= logging.ERROR]
    for record in records:
        LOG.debug("weasyprint: %s", record.getMessage())
    if problems:
        first = _short(" ".join(problems[0].getMessage().split()), 300)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RenderError(f"WeasyPrint reported a problem: {first}{more}")
    return pdf


def _write_pdf(html_text: str, base: Path, fetcher, identifier: bytes) -> bytes:
    document = HTML(string=html_text, base_url=base.as_uri() + "/", url_fetcher=fetcher)
    return document.write_pdf(pdf_identifier=identifier, **PDF_OPTIONS)


def _blocked_error(fetcher: TemplateFetcher) -> RenderError:
    urls = ", ".join(_short(u) for u in dict.fromkeys(fetcher.blocked))
    return RenderError(
        f"blocked resource URL(s) in the report templates: {urls}; only data: URLs and files inside "
        f"the template folder(s) may be used"
    )


def _short(url: str, limit: int = 120) -> str:
    return url if len(url) <= limit else url[:limit] + "..."


class TemplateFetcher(URLFetcher):
    """A WeasyPrint URL fetcher serving ``data:`` URLs, this build's charts
    (``reportgen-chart:KEY``) and files inside ``roots`` only.

    Any other URL is recorded in ``blocked`` and stops the rendering (WeasyPrint would otherwise
    log the failure and leave a hole). A ``file:`` URL inside one root that does not exist there
    is looked up under the same relative path in the other roots, in order, like templates are.
    """

    def __init__(self, roots: tuple[Path, ...], charts: dict[str, bytes] | None = None):
        super().__init__(allowed_protocols=("data",), allow_redirects=False, fail_on_errors=True)
        self.roots = tuple(Path(r).resolve() for r in roots)
        self.charts = dict(charts or {})
        self.blocked: list[str] = []

    def fetch(self, url, headers=None):
        """The resource at ``url``, or :class:`FatalURLFetchingError` (and ``url`` in ``blocked``)."""
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == CHART_SCHEME and url.split(":", 1)[1] in self.charts:
            data = self.charts[url.split(":", 1)[1]]
            kind = "image/jpeg" if data.startswith(b"\xff\xd8") else "image/png"
            return URLFetcherResponse(url, data, {"Content-Type": kind})
        if scheme == "file":
            path = self._template_file(url)
            if path is not None:
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": kind})
        self.blocked.append(url)
        raise FatalURLFetchingError(f"blocked URL {_short(url)}")

    def _template_file(self, url: str) -> Path | None:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return None
        wanted = Path(unquote(parts.path)).resolve()
        relative = next((wanted.relative_to(r) for r in self.roots if wanted.is_relative_to(r)), None)
        if relative is None:
            return None
        for root in self.roots:
            candidate = (root / relative).resolve()
            # resolve() follows symlinks: a link pointing out of the folder is blocked too.
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None
