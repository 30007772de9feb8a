"""The URL policy every HTML-based deliverable obeys, and the Content-Security-Policy that states it.

The report (HTML), the dashboard and the PDF are rendered from templates a user may supply, so
what a rendered page may load is checked on the rendered text, not trusted to the templates:

- Resources (``src``, ``srcset``, ``poster``, ``data``, ``background``, ``<link href>``, SVG
  ``href``, CSS ``url(...)`` and ``@import``, a ``<meta http-equiv="refresh">`` target, form
  actions) may only be ``data:`` or ``blob:`` URLs or fragments (``#id``); the PDF may also use
  this build's charts (``reportgen-chart:``) and files inside the template folders, which its
  fetcher (:class:`reportgen.render.pdf.TemplateFetcher`) serves. Anything else (``http:``,
  ``https:``, ``file:``, protocol-relative ``//host``, a relative path) fails the build with a
  :class:`~reportgen.errors.RenderError` naming the URL: an e-mailed page must not call home
  or read local files when it is opened.
- Links a reader clicks (``<a href>``) are navigation, not loads, and may point anywhere.
- Every HTML page gets a ``Content-Security-Policy`` ``<meta>`` at the top of its ``<head>``
  (after the charset declaration), whatever the templates say, so a browser enforces the same rule on what the
  check cannot see (scripts building URLs at run time).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from reportgen.errors import RenderError

#: The report page: no script at all, inline styles, embedded images and fonts.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "connect-src 'none'; form-action 'none'; base-uri 'none'"
)
#: The dashboard: its inline script starts plotly.js from a ``blob:`` URL; nothing from any network.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)

_RESOURCE_ATTRIBUTES = {"src", "srcset", "poster", "data", "background", "action", "formaction", "xlink:href", "ping"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.IGNORECASE | re.DOTALL)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_CHARSET = re.compile(r"\s*<meta\s+charset=[^>]*>", re.IGNORECASE)
_DOCTYPE = re.compile(r"\A\s*<!doctype[^>]*>", re.IGNORECASE)


def allowed_resource(url: str, *, print_media: bool = False) -> bool:
    """Whether a page may load ``url``: ``data:``/``blob:`` URLs and fragments; in print
    (the PDF) also this build's charts and files, which the PDF's fetcher confines to the
    template folders."""
    text = url.strip().lower()
    if text.startswith(("data:", "blob:", "#")):
        return True
    if not print_media:
        return False
    return text.startswith(("reportgen-chart:", "file:")) or not _has_scheme(text) and not text.startswith("//")


def resource_urls(html_text: str) -> list[str]:
    """Every URL the page would load (not the links a reader may click), in order."""
    parser = _ResourceParser()
    parser.feed(html_text)
    parser.close()
    return parser.urls


def check_page(html_text: str, what: str, *, print_media: bool = False) -> None:
    """Fail with a :class:`~reportgen.errors.RenderError` naming the first URLs ``html_text``
    would load against the policy (``what`` names the deliverable)."""
    blocked = [u for u in dict.fromkeys(resource_urls(html_text)) if not allowed_resource(u, print_media=print_media)]
    if blocked:
        shown = ", ".join(_short(u) for u in blocked[:3]) + (f" (and {len(blocked) - 3} more)" if len(blocked) > 3 else "")
        raise RenderError(
            f"blocked resource URL(s) in the {what} templates: {shown}; a page may load only data: URLs "
            "(use the `asset` filter for a file of the template folder), never the network or local files"
        )


def with_csp(html_text: str, policy: str) -> str:
    """``html_text`` with a Content-Security-Policy ``<meta>`` first in its ``<head>`` (after a
    leading charset declaration; or, with
    no ``<head>`` tag, right after the doctype, where the parser opens the head)."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    head = _HEAD.search(html_text)
    if head:
        # after the charset declaration when it opens the head (it must come in the first 1024 bytes)
        charset = _CHARSET.match(html_text, head.end())
        at = charset.end() if charset else head.end()
        return html_text[:at] + "\n" + meta + html_text[at:]
    doctype = _DOCTYPE.search(html_text)
    at = doctype.end() if doctype else 0
    return html_text[:at] + "\n" + meta + html_text[at:]


def _has_scheme(text: str) -> bool:
    return re.match(r"[a-z][a-z0-9+.-]*:", text) is not None


def _short(url: str, limit: int = 120) -> str:
    url = " ".join(url.split())
    return url if len(url) <= limit else url[:limit] + "..."


def _css_urls(text: str) -> list[str]:
    return [m.group(2) if m.group(2) is not None and m.group(0).lower().startswith("url") else m.group(4)
            for m in _CSS_URL.finditer(text)]


class _ResourceParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in _RESOURCE_ATTRIBUTES:
                if name == "srcset":
                    self.urls += [part.split()[0] for part in value.split(",") if part.split()]
                else:
                    self.urls.append(value)
            elif name == "href" and tag not in ("a", "area"):
                self.urls.append(value)  # <link>, <base>, SVG <image>/<use>: loaded, not clicked
            elif name == "style":
                self.urls += _css_urls(value)
            elif name == "srcdoc":  # a frame's whole document, inline
                self.urls += resource_urls(value)
        if tag == "meta":
            values = {k: (v or "") for k, v in attrs}
            if values.get("http-equiv", "").lower() == "refresh":
                target = re.search(r"url\s*=\s*(.+)", values.get("content", ""), re.IGNORECASE)
                if target:
                    self.urls.append(target.group(1).strip("'\" "))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls += _css_urls(data)
