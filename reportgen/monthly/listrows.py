"""Per-action target lists cut from their segment list's CSV rows.

An action's list holds some of one segment's customers with the same target columns as the
segment's list, and two more (``action``, ``group``). polars writes every value on its own (no
alignment, no state between rows), so an eligible customer's row in the action's list is their
row in the segment's list followed by ``,<action>,<group>``. A build therefore formats each
customer's numbers once, for the segment list, and writes each action's list by copying the
eligible customers' rows out of that file with the two cells appended: Arrow gathers the rows and
appends the cells in C++, a block of rows at a time, with no per-row Python.

This holds only when every row of the segment's CSV is one line. A quoted cell with a line break
in it (an id with a newline) makes the file's line count differ from its row count; then
:meth:`SegmentRows.ends` is ``None`` and the caller formats the action's list itself.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BLOCK = 16 << 20  # bytes of a segment list read at a time (a reused buffer: no fresh memory per block)


class SegmentRows:
    """One segment list's CSV file and where its lines end, found once (on first use, by whichever
    thread needs them first) for all of the segment's actions."""

    def __init__(self, path: Path, rows: int):
        self.path = Path(path)
        self.rows = rows
        self._lock = threading.Lock()
        self._ends: np.ndarray | None = None
        self._done = False

    def ends(self) -> np.ndarray | None:
        """The byte position of every newline (the header's, then each row's: ``rows + 1`` of
        them), or ``None`` when the file has more lines than rows (a cell with a line break)."""
        with self._lock:
            if not self._done:
                self._ends = _newlines(self.path, self.rows)
                self._done = True
            return self._ends


def _newlines(path: Path, rows: int) -> np.ndarray | None:
    found = []
    buffer = bytearray(BLOCK)
    size = 0
    with open(path, "rb", buffering=0) as source:
        while read := source.readinto(buffer):
            found.append(np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8, count=read) == 10) + size)
            size += read
    ends = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    if len(ends) != rows + 1 or ends[-1] != size - 1:
        return None
    return ends.astype(np.int64, copy=False)


def appended_cells(cells: dict[str, list[str]], write_csv) -> list[bytes] | None:
    """The bytes ``,<cell>,<cell>`` to append to a row for each row of ``cells`` (column -> values),
    exactly as ``write_csv`` (a table, a file) writes those cells (quoting, formula
    neutralisation); ``None`` if a cell would span lines."""
    sink = io.BytesIO()
    write_csv(pa.table(cells), sink)
    lines = sink.getvalue().split(b"\n")
    count = len(next(iter(cells.values())))
    if len(lines) != count + 2 or lines[-1]:
        return None
    return [b"," + line for line in lines[1:-1]]


def write_rows(rows: SegmentRows, local: np.ndarray, suffix: np.ndarray, cells: list[bytes], header: bytes,
               target: str) -> bool:
    """Write ``header`` (one line) then the segment's rows at ``local`` (ascending row numbers of
    the segment list), each followed by ``cells[suffix[i]]``, to ``target``. ``False`` (nothing
    written) when the segment's rows are not one line each."""
    ends = rows.ends()
    if ends is None or (len(local) and (local[-1] >= rows.rows or np.any(np.diff(local) <= 0))):
        return False
    tails = pa.array([cell.decode("utf-8") for cell in cells], pa.large_string())
    nothing = pa.scalar("", pa.large_string())
    buffer = bytearray(BLOCK)
    with open(rows.path, "rb", buffering=0) as source, open(target, "wb") as out:
        out.write(header.rstrip(b"\n"))
        start = 0
        while start < len(local):
            first = int(local[start])  # rows first..last - 1 are read in one block of at most BLOCK bytes (or one row)
            last = max(first + 1, int(np.searchsorted(ends, ends[first] + len(buffer), "right")) - 1)
            stop = start + int(np.searchsorted(local[start:], last, "left"))
            size = int(ends[last] - ends[first])
            view = memoryview(buffer)[:size] if size <= len(buffer) else memoryview(bytearray(size))
            if source.seek(int(ends[first])) != ends[first] or source.readinto(view) != size:
                raise OSError(f"{rows.path} changed while it was read")
            # each string is "\n" + one row: from the newline before the row to the row's end
            block = pa.LargeStringArray.from_buffers(
                last - first, pa.py_buffer(ends[first:last + 1] - ends[first]), pa.py_buffer(view))
            picked = block.take(pa.array(local[start:stop] - first))
            cell = pa.DictionaryArray.from_arrays(pa.array(suffix[start:stop]), tails).cast(pa.large_string())
            joined = pc.binary_join_element_wise(picked, cell, nothing)
            offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset:joined.offset + len(joined) + 1]
            out.write(memoryview(joined.buffers()[2])[offsets[0]:offsets[-1]])
            start = stop
        out.write(b"\n")
    return True
