"""Which files each audience receives: the month's deliverables for executives, the target lists and
recommendations for marketing, found on disk and checked against the size limit before connecting.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from reportgen.errors import DeliveryError
from reportgen.render.formats import action_file_name, file_name, target_stems

#: attach name -> what it is (for error messages and the e-mail body).
ATTACHMENTS: dict[str, str] = {
    "pdf": "the report (PDF)",
    "pptx": "the slide deck (PowerPoint)",
    "html": "the report (HTML)",
    "dashboard": "the interactive dashboard (HTML)",
    "recommendations": "the recommendations, one row per action (CSV)",
    "targets": "per-persona target lists (CSV)",
    "actions": "per-action target lists with their control groups (CSV files in one ZIP)",
    "xlsx": "target lists and recommendations (Excel workbook)",
}

TARGETS_FOLDER = "targets"  # reportgen.monthly.targets.TARGETS_FOLDER, not imported: it pulls in pandas


_FORMATS = ("pdf", "pptx", "html", "dashboard", "xlsx")


_MIME = {
    ".pdf": ("application", "pdf"),
    ".pptx": ("application", "vnd.openxmlformats-officedocument.presentationml.presentation"),
    ".html": ("text", "html"),
    ".csv": ("text", "csv"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


@dataclass(frozen=True)
class Attachment:
    """One file attached to a message."""

    name: str
    data: bytes
    maintype: str
    subtype: str


def _collect_attachments(
    audiences, month_dir: Path, month: str, out_root: Path, model: dict
) -> dict[str, tuple[Attachment, ...]]:
    wanted: dict[str, list[Path]] = {}
    for audience in audiences:
        paths: list[Path] = []
        for kind in dict.fromkeys(audience.attach):
            paths += _paths_for(kind, month_dir, month, model)
        wanted[audience.name] = list(dict.fromkeys(paths))
    missing = sorted({p for paths in wanted.values() for p in paths if not p.is_file()})
    if missing:
        # rebuild every format the audiences need, so the files sent come from one build
        needed = [f for f in _FORMATS if any(f in a.attach for a in audiences)]
        targets = any(p.parent.name == TARGETS_FOLDER for p in missing)
        why = " (it writes targets/ too)" if targets else ""
        raise DeliveryError(
            f"missing deliverable(s) for {month}: {', '.join(map(str, missing))}; "
            f"run `{_build_command(month, out_root, needed)}`{why} first"
        )
    out: dict[str, tuple[Attachment, ...]] = {}
    bundled = set(_action_paths(month_dir, model))
    for audience in audiences:
        items = []
        for path in wanted[audience.name]:
            if path in bundled:
                continue
            maintype, subtype = _MIME.get(path.suffix.lower(), ("application", "octet-stream"))
            items.append(Attachment(path.name, _read(path), maintype, subtype))
        if "actions" in audience.attach and bundled:
            items.append(_zip_actions(month, _action_paths(month_dir, model)))
        out[audience.name] = tuple(items)
    return out


def action_zip_name(month: str) -> str:
    """The ZIP of the per-action target lists: ``action-targets-2026-11.zip``."""
    return f"action-targets-{month}.zip"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DeliveryError(f"{path}: cannot read attachment ({exc.strerror})") from None


def _zip_actions(month: str, paths: list[Path]) -> Attachment:
    """The per-action lists in one deflated ZIP (CSV shrinks several times, so more fits under the
    size limit); entries carry a fixed date, so the same lists give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in paths:
            entry = zipfile.ZipInfo(path.name, date_time=(int(month[:4]), int(month[5:7]), 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, _read(path))
    return Attachment(action_zip_name(month), buffer.getvalue(), "application", "zip")


def _action_paths(month_dir: Path, model: dict) -> list[Path]:
    """The per-action target lists the build wrote for ``model``'s actions, in the model's order."""
    segments = model.get("segments") or []
    stems = target_stems((s["id"], s.get("name", ""), s.get("persona_key")) for s in segments)
    folder = month_dir / TARGETS_FOLDER
    return [folder / action_file_name(stems[a["segment_id"]], a["key"])
            for a in model.get("actions") or [] if a.get("segment_id") in stems and a.get("key")]


def _paths_for(kind: str, month_dir: Path, month: str, model: dict) -> list[Path]:
    if kind in _FORMATS:
        return [month_dir / file_name(kind, month)]
    folder = month_dir / TARGETS_FOLDER
    if kind == "recommendations":
        return [folder / "recommendations.csv"]
    if kind == "actions":
        return _action_paths(month_dir, model)
    segments = model.get("segments") or []
    stems = target_stems((s["id"], s.get("name", ""), s.get("persona_key")) for s in segments)
    return [folder / f"{stem}.csv" for stem in stems.values()]


def _check_sizes(files: dict[str, tuple[Attachment, ...]], limit_mb: float) -> None:
    limit = limit_mb * 1024 * 1024
    for audience, items in files.items():
        for item in items:
            if len(item.data) > limit:
                raise DeliveryError(
                    f"{item.name} is {_mb(len(item.data))}, over email.max_attachment_mb = {limit_mb:g} MB "
                    f"(audience {audience}); nothing was sent. Attach less for {audience} or raise the limit "
                    "if your mail server accepts larger messages"
                )
        total = sum(len(i.data) for i in items)
        if total > limit:
            biggest = ", ".join(f"{i.name} {_mb(len(i.data))}" for i in sorted(items, key=lambda i: -len(i.data))[:3])
            raise DeliveryError(
                f"the attachments for {audience} total {_mb(total)} ({biggest}), over email.max_attachment_mb = "
                f"{limit_mb:g} MB for one message; nothing was sent. Attach less or raise the limit"
            )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _build_command(month: str, out_root: Path, formats) -> str:
    out = "" if Path(out_root) == Path("output") else f" --out {out_root}"
    return f"reportgen build --month {month}{out}" + "".join(f" --format {f}" for f in formats)
