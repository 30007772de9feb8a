"""Writing deliverables safely: all or nothing, never a half-written file under a final name.

Files are staged under temporary names in their target folder and moved into place with
:func:`os.replace` only once every file of the set is complete, so a run that dies leaves the
previous deliverables intact. Text cells bound for spreadsheets are neutralised against
formula injection here too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from reportgen.errors import LockedError, ReportgenError

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0o666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    return write_set(Path(path).parent, {Path(path).name: data})[0]


def write_set(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write every file of ``files`` into ``folder``, all or nothing; return the final paths."""
    with StagedFiles() as staged:
        staged.add(folder, files)
        return staged.commit()


class StagedFiles:
    """Files written under temporary names as soon as their bytes exist (:meth:`add`, possibly
    into several folders) and moved to their final names together by :meth:`commit`, in the
    order added. Leaving the ``with`` block without committing (an error in work still running)
    deletes the temporary files, so nothing reaches a final name."""

    def __init__(self):
        self._staged: list[tuple[Path, Path]] = []  # (final path, temporary path)

    def add(self, folder: Path, files: Mapping[str, bytes]) -> None:
        """Write ``files`` (name -> bytes) into ``folder`` under temporary names."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportgenError(f"{folder}: cannot create output folder ({exc.strerror})") from None
        try:
            for name, data in files.items():
                self._staged.append((folder / name, _stage(folder, name, data)))
        except OSError as exc:
            raise ReportgenError(f"{folder}: cannot write output ({exc.strerror})") from None

    def commit(self) -> list[Path]:
        """Move every staged file to its final name; return the final paths."""
        finals = []
        try:
            for final, tmp in self._staged:
                os.replace(tmp, final)
                finals.append(final)
        except OSError as exc:
            raise ReportgenError(f"{final.parent}: cannot write output ({exc.strerror})") from None
        return finals

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, *exc) -> None:
        for _final, tmp in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged = []


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files a killed run left in ``folder`` and below; only under the month lock."""
    removed = 0
    for tmp in Path(folder).rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def _stage(folder: Path, name: str, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.fchmod(fd, _file_mode())  # mkstemp makes 0600; deliverables are meant to be shared
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(tmp)


def neutralise_formula(text: str) -> str:
    """Prefix a text cell a spreadsheet would run as a formula with an apostrophe."""
    return "'" + text if isinstance(text, str) and text.startswith(_FORMULA_PREFIXES) else text


def csv_bytes(frame) -> bytes:
    """A table as UTF-8 CSV for spreadsheets and campaign tools: every text column neutralised
    against formula injection (vectorised), written by pyarrow (fast at millions of rows;
    fields quoted only where needed)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    safe = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            text = column.astype("string")
            risky = text.str.startswith(_FORMULA_PREFIXES).fillna(False)
            column = text.where(~risky, "'" + text) if risky.any() else text
        safe[name] = column
    table = pa.Table.from_pandas(pd.DataFrame(safe), preserve_index=False)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().to_pybytes()


@contextmanager
def month_lock(root: Path, month: str):
    """Hold an exclusive lock for one month's build; a second run of the month exits at once.

    The lock is the operating system's (``flock`` on POSIX, ``msvcrt`` on Windows, through
    :mod:`filelock`): a run that dies, even by SIGKILL, releases it."""
    root = Path(root)
    path = root / f".{month}.lock"
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, timeout=0)
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"another reportgen run for {month} is already running (lock {path}); try again when it has finished"
        ) from None
    except OSError as exc:
        raise ReportgenError(f"{root}: cannot create the lock file ({exc.strerror})") from None
    try:
        yield
    finally:
        lock.release()
