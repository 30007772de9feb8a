"""The registry of formats: which renderer makes which file, and the checks made before a build.

A renderer is a function ``(model, charts, settings) -> bytes``. It never sees the raw data or
scikit-learn: only the :class:`~reportgen.report.model.ReportModel` and the charts made from it once
per build. Registry misses raise an error that lists the valid formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reportgen.errors import ConfigError
from reportgen.render.settings import RenderSettings

# format -> (module, function, file name pattern); modules are imported only when used.
RENDERERS: dict[str, tuple[str, str, str]] = {
    "html": ("reportgen.render.html", "render_html", "segment-report-{month}.html"),
    "pdf": ("reportgen.render.pdf", "render_pdf", "segment-report-{month}.pdf"),
    "pptx": ("reportgen.render.deck.presentation", "render_pptx", "segment-report-{month}.pptx"),
    "dashboard": ("reportgen.render.dashboard", "render_dashboard", "segment-dashboard-{month}.html"),
}
# Formats made from the customers themselves, not rendered from the model: written by the build
# (reportgen.monthly) with the target lists. format -> file name pattern.
DATA_FORMATS: dict[str, str] = {
    "xlsx": "segment-targets-{month}.xlsx",
}


#: The order "all" expands to.
ALL_FORMATS = ("pdf", "pptx", "html", "dashboard")


def parse_formats(values) -> tuple[str, ...]:
    """Format names from ``values`` (a string or strings, each a name or a comma list such as
    ``"PDF,pptx"``): lower-cased, ``all`` expanded, repeats dropped, order kept; an unknown name
    fails listing the valid ones."""
    names = []
    for value in [values] if isinstance(values, str) else values:
        names += [part.strip().lower() for part in str(value).split(",") if part.strip()]
    for name in names:
        if name != "all":
            check_format(name)
    return tuple(dict.fromkeys(f for name in names for f in (ALL_FORMATS if name == "all" else (name,))))


def check_format(fmt: str) -> None:
    """An unknown format fails, listing the valid ones (without importing any renderer)."""
    if fmt not in RENDERERS and fmt not in DATA_FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; valid formats: {', '.join(sorted({*RENDERERS, *DATA_FORMATS}))}, all")


def check_settings(formats, settings: RenderSettings) -> None:
    """Fail before any work when the renderers' inputs are wrong: a user's PowerPoint master
    lacking a needed layout or without room for content clear of its logos (its
    other problems are logged as warnings), or user templates that do not compile. (The bundled master and
    templates are checked by the test suite; opening them here would only cost start-up time.)"""
    if "pptx" in formats and settings.pptx_template is not None:
        from reportgen.render.deck.template_check import check_master_for_build

        check_master_for_build(settings.pptx_template, dict(settings.pptx_layouts))
    if settings.templates is not None and {"html", "pdf", "dashboard"} & set(formats):
        from reportgen.render.templating import build_environment, template_error

        env = build_environment(settings)
        for name in env.list_templates(filter_func=lambda n: n.endswith(".html") and not n.startswith("default/")):
            try:
                env.get_template(name)
            except Exception as exc:  # a syntax error in a user template: name file and line
                raise template_error(exc, env) from None


def file_name(fmt: str, month: str) -> str:
    """The deliverable's file name, e.g. ``segment-report-2026-11.pdf``."""
    pattern = RENDERERS[fmt][2] if fmt in RENDERERS else DATA_FORMATS[fmt]
    return pattern.format(month=month)


_UNSAFE = re.compile(r"[^a-z0-9_]+")


def target_stems(segments: Iterable[tuple[int, str, str | None]]) -> dict[int, str]:
    """File stems by segment id, e.g. ``{5: "targets-revolvers"}``, from ``(id, name, persona_key)``.

    The persona key when it is safe in a file name, else a slug of the name; unique per segment
    (a clash gets the segment id appended). The mailer uses this to find the lists of a month.
    """
    stems: dict[int, str] = {}
    for seg_id, name, key in segments:
        base = _slug(key) if key else ""
        base = base or _slug(name) or f"segment-{seg_id}"
        stem = f"targets-{base}"
        if stem in stems.values():
            stem = f"{stem}-{seg_id}"
        stems[int(seg_id)] = stem
    return stems


def action_file_name(stem: str, key: str) -> str:
    """``targets-revolvers--cash-to-instalment.csv`` for segment stem and action key."""
    return f"{stem}--{key}.csv"


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", str(text).lower()).strip("-_")
