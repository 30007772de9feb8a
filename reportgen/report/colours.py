"""The one colour system of every deliverable (PDF, deck, HTML report, dashboard).

- Segment colours: the playbook's persona colours (``data/personas.toml``); a segment without one
  takes the next colour of :data:`SEGMENT_PALETTE`, Okabe-Ito hues darkened where needed so each
  reads on white.
- Metric colours (:data:`METRICS`): silhouette, stability and the chosen k, drawn in hues no
  segment uses, so a line is never mistaken for a segment.
- Migration: movers shaded in :data:`MOVERS_CMAP` (purples, no segment's hue), stayers grey.

Every colour used for a line, a bar or text has a contrast of at least :data:`MIN_CONTRAST` against
white (WCAG 2.1's ratio for graphics, :func:`contrast_on_white`); a test computes it for these
colours, the playbook's and the stylesheets'.
"""

from __future__ import annotations

#: Colours for segments without a playbook colour (Okabe-Ito, darkened: amber, grey; no yellow or sky).
SEGMENT_PALETTE = ("#0072B2", "#009E73", "#B07800", "#D55E00", "#CC79A7", "#767676", "#8C564B", "#5E7D00",
                   "#00798C")

#: Colours of the model-selection metrics, distinct from every segment colour.
METRICS = {"silhouette": "#1F2A44", "stability": "#6A3D9A", "chosen_k": "#222222"}

#: The matplotlib colormap of customers who moved between segments (stayers are grey).
MOVERS_CMAP = "Purples"

#: The least contrast against white of a colour used for lines, bars or text.
MIN_CONTRAST = 3.0


def _linear(channel: int) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#RRGGBB`` (0 black to 1 white)."""
    code = hex_colour.lstrip("#")
    red, green, blue = (_linear(int(code[i:i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_on_white(hex_colour: str) -> float:
    """WCAG 2.1 contrast ratio of ``#RRGGBB`` against white (1 to 21)."""
    return 1.05 / (relative_luminance(hex_colour) + 0.05)
