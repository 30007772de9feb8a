"""Automatic checks of a built deck against its master (issue 13).

For every slide: shapes the deck added that overlap a picture or graphic the master/layout draws,
shapes that leave the slide, text under 10 pt (runs, tables, charts; normAutofit scale applied),
text-bearing shapes overlapping each other, and placeholders left empty (prompt text).
"""

from __future__ import annotations

from collections import Counter

from lxml import etree
from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.oxml.ns import qn
from pptx.util import Emu

CHROME = {PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER}
TOLERANCE = 12700  # 1 pt
MARGIN = 228600  # 0.25 in: content closer to the left or right edge runs edge to edge


def rect(shape):
    return (int(shape.left), int(shape.top), int(shape.width), int(shape.height))


def overlap(a, b) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return w * h if w > TOLERANCE and h > TOLERANCE else 0


def graphics(slide, width, height):
    """(name, rect) of what the layout and master draw that is not a placeholder."""
    layout = slide.slide_layout
    sources = [layout]
    if layout._element.get("showMasterSp", "1") not in ("0", "false"):
        sources.append(layout.slide_master)
    found = []
    for source in sources:
        for shape in source.shapes:
            if shape.is_placeholder or None in (shape.left, shape.top, shape.width, shape.height):
                continue
            r = rect(shape)
            if r[2] * r[3] > 0.6 * width * height:  # a background
                continue
            found.append((f"{'layout' if source is layout else 'master'}:{shape.name}", r))
    return found


def run_sizes(frame):
    body = frame._txBody
    scale = 1.0
    norm = body.find(f"{qn('a:bodyPr')}/{qn('a:normAutofit')}")
    if norm is not None and norm.get("fontScale"):
        scale = int(norm.get("fontScale")) / 100000
    for run in body.iter(qn("a:r")):
        text = run.findtext(qn("a:t")) or ""
        rpr = run.find(qn("a:rPr"))
        if text.strip() and rpr is not None and rpr.get("sz"):
            yield int(rpr.get("sz")) / 100 * scale, text


def small_text(shape, floor):
    out = []
    frames = []
    if shape.has_text_frame:
        frames.append(shape.text_frame)
    if getattr(shape, "has_table", False) and shape.has_table:
        frames += [cell.text_frame for row in shape.table.rows for cell in row.cells]
    for frame in frames:
        out += [(size, text) for size, text in run_sizes(frame) if size < floor]
    if getattr(shape, "has_chart", False) and shape.has_chart:
        root = etree.fromstring(shape.chart.part.blob)
        sizes = [int(node.get("sz")) / 100 for node in root.iter()
                 if node.tag in (qn("a:defRPr"), qn("a:rPr")) and node.get("sz")]
        out += [(size, "chart text") for size in sizes if size < floor]
    return out


def check(path_or_prs, floor=10.0):
    """``(counts, problems)`` for a deck (a path or an open presentation)."""
    prs = Presentation(path_or_prs) if isinstance(path_or_prs, (str, bytes.__class__)) or hasattr(path_or_prs, "read") \
        or hasattr(path_or_prs, "__fspath__") else path_or_prs
    width, height = int(prs.slide_width), int(prs.slide_height)
    counts = Counter()
    problems = []
    for number, slide in enumerate(prs.slides, start=1):
        marks = graphics(slide, width, height)
        texts = []
        for shape in slide.shapes:
            if None in (shape.left, shape.top, shape.width, shape.height):
                continue
            r = rect(shape)
            for name, g in marks:
                if overlap(r, g):
                    counts["graphic_overlap"] += 1
                    problems.append(f"slide {number}: {shape.name} overlaps {name}")
            if r[0] < -TOLERANCE or r[1] < -TOLERANCE or r[0] + r[2] > width + TOLERANCE or r[1] + r[3] > height + TOLERANCE:
                counts["off_slide"] += 1
                problems.append(f"slide {number}: {shape.name} leaves the slide {[round(Emu(v).inches, 2) for v in r]}")
            if not shape.is_placeholder and (r[0] < MARGIN or r[0] + r[2] > width - MARGIN):
                counts["edge_to_edge"] += 1
                problems.append(f"slide {number}: {shape.name} runs within {MARGIN / 914400:.2f} in of the slide's edge")
            small = small_text(shape, floor)
            if small:
                counts["small_text"] += 1
                problems.append(f"slide {number}: {shape.name} text under {floor} pt: {min(s for s, _ in small):.1f} pt "
                                f"({small[0][1][:30]!r})")
            if shape.is_placeholder and shape.placeholder_format.type not in CHROME and shape.has_text_frame \
                    and not shape.text_frame.text.strip():
                counts["empty_placeholder"] += 1
                problems.append(f"slide {number}: empty placeholder {shape.name} (shows prompt text)")
            if (shape.has_text_frame and shape.text_frame.text.strip()) or getattr(shape, "has_table", False) \
                    and shape.has_table:
                texts.append((shape.name, r))
        for i, (name_a, a) in enumerate(texts):
            for name_b, b in texts[i + 1:]:
                if overlap(a, b):
                    counts["text_overlap"] += 1
                    problems.append(f"slide {number}: text {name_a} overlaps text {name_b}")
    counts["slides"] = len(prs.slides)
    counts["native_chart_slides"] = sum(any(getattr(s, "has_chart", False) and s.has_chart for s in slide.shapes)
                                        for slide in prs.slides)
    return counts, problems
