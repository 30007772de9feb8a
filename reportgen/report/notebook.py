"""How the report model and the pipeline's result show themselves in a notebook or a console.

``repr()`` is one line (the full model is hundreds of kilobytes of numbers); Jupyter calls
``_repr_html_`` for a small page: the run's facts, the segments (colour, name, customers, share)
and the evidence for every k tried, with the chosen row marked. Plain values in, text out: the
report model and the segmentation result both call :func:`overview_text` and
:func:`overview_html`, so this module imports nothing but the formatting of numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.report.formatting import format_count, format_number, format_share


@dataclass(frozen=True)
class SegmentLine:
    """One segment as the overview shows it."""

    id: int
    name: str
    color: str
    customers: int
    share: float


@dataclass(frozen=True)
class KLine:
    """One k tried, as the overview shows it."""

    k: int
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    stability: float
    min_share: float
    admissible: bool
    chosen: bool


def overview_text(kind: str, facts: Sequence[tuple[str, str]], segments: Sequence[SegmentLine]) -> str:
    """``kind(fact=value, ..., segments=[name (customers), ...])`` on one line."""
    parts = [f"{key}={value}" for key, value in facts]
    names = ", ".join(f"{s.name!r} ({format_count(s.customers)})" for s in segments)
    return f"{kind}({', '.join(parts)}, segments=[{names}])"


def overview_html(title: str, facts: Sequence[tuple[str, str]], segments: Sequence[SegmentLine],
                  ks: Sequence[KLine], reason: str) -> str:
    """A small HTML view: facts, the segments table and the k evidence table (chosen row in bold)."""
    e = html.escape
    fact_items = "".join(f"<li><b>{e(key)}</b>: {e(value)}</li>" for key, value in facts)
    segment_rows = "".join(
        f'<tr><td>{s.id}</td><td><span style="display:inline-block;width:0.8em;height:0.8em;'
        f'background:{_colour(s.color)}"></span> {e(s.name)}</td>'
        f'<td style="text-align:right">{format_count(s.customers)}</td>'
        f'<td style="text-align:right">{format_share(s.share)}</td></tr>'
        for s in segments
    )
    k_rows = "".join(_k_row(k) for k in ks)
    return (
        f'<div class="reportgen-overview"><h4>{e(title)}</h4><ul>{fact_items}</ul>'
        "<table><caption>Segments</caption><thead><tr><th>#</th><th>segment</th><th>customers</th>"
        f"<th>share</th></tr></thead><tbody>{segment_rows}</tbody></table>"
        "<table><caption>The evidence for k</caption><thead><tr><th>k</th><th>silhouette</th>"
        "<th>Calinski-Harabasz</th><th>Davies-Bouldin</th><th>stability</th><th>smallest segment</th>"
        f"<th>admissible</th></tr></thead><tbody>{k_rows}</tbody></table>"
        f"<p>{e(reason)}</p></div>"
    )


def _k_row(k: KLine) -> str:
    cells = (format_number(k.silhouette, 3), format_number(k.calinski_harabasz, 0), format_number(k.davies_bouldin, 3),
             format_number(k.stability, 3), format_share(k.min_share), "yes" if k.admissible else "no")
    right = "".join(f'<td style="text-align:right">{cell}</td>' for cell in cells)
    if k.chosen:
        return f'<tr style="font-weight:bold"><td>{k.k} (chosen)</td>{right}</tr>'
    return f"<tr><td>{k.k}</td>{right}</tr>"


def _colour(value: str) -> str:
    """A ``#RRGGBB`` colour, or grey for anything else (the value lands in a style attribute)."""
    text = str(value)
    ok = len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in text[1:])
    return text if ok else "#888888"
