"""Which files each audience receives: the month's deliverables for executives, the target lists and
recommendations for marketing, found on disk and checked against the size limit before connecting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportgen.errors import DeliveryError
from reportgen.render.formats import file_name

#: attach name -> what it is (for error messages and the e-mail body).
ATTACHMENTS: dict[str, str] = {
    "pdf": "the report (PDF)",
    "pptx": "the slide deck (PowerPoint)",
    "html": "the report (HTML)",
    "dashboard": "the interactive dashboard (HTML)",
    "recommendations": "per-segment recommendations (CSV)",
    "targets": "per-persona target lists (CSV)",
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
    for name, paths in wanted.items():
        items = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise DeliveryError(f"{path}: cannot read attachment ({exc.strerror})") from None
            maintype, subtype = _MIME.get(path.suffix.lower(), ("application", "octet-stream"))
            items.append(Attachment(path.name, data, maintype, subtype))
        out[name] = tuple(items)
    return out


def _paths_for(kind: str, month_dir: Path, month: str, model: dict) -> list[Path]:
    if kind in _FORMATS:
        return [month_dir / file_name(kind, month)]
    folder = month_dir / TARGETS_FOLDER
    if kind == "recommendations":
        return [folder / "recommendations.csv"]
    from reportgen.monthly.targets import target_stems  # the same names the build wrote

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
