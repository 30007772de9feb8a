"""One streamed pass over an extract file before it is parsed: its checksum, compression, encoding,
whether it is binary or a spreadsheet, its header line and its delimiter.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

from reportgen.errors import InputError

_BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive or an Excel (.xlsx) workbook",
    b"\xd0\xcf\x11\xe0": "an Excel (.xls) workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
}


_DELIMITERS = (",", ";", "\t", "|")
#: The header must fit in the first 64 KiB and name at most this many columns (the contract has
#: 18; a header of 100,000 columns took 48 s to load, one of 2,000,000 never finished).
MAX_COLUMNS = 1_000
#: Byte-order marks of the encodings whose text is full of NUL bytes, longest first.
_BOMS = {
    codecs.BOM_UTF32_LE: "utf-32",
    codecs.BOM_UTF32_BE: "utf-32",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
}


_BLOCK = 1 << 22  # streaming block: 4 MiB


_HEAD = 1 << 16  # the first 64 KiB of content: header, delimiter, binary check


@dataclass(frozen=True)
class FileScan:
    """What one streaming pass over a file learnt: its hash, format, first bytes and encoding."""

    sha256: str
    parquet: bool
    gzip: bool
    head: bytes
    content_size: int
    encoding: str | None
    quoted: bool = False  # some field is quoted (so a field may hold a line break)


def scan_file(path: Path, encoding: str | None) -> FileScan:
    """Hash ``path`` and check it is a readable, non-empty, non-binary CSV (or Parquet) file.

    Raises the same :class:`InputError` messages :func:`load_extract` does."""
    check_regular_file(path)
    digest = hashlib.sha256()
    state = {"nonblank": False}

    def raw_blocks():
        for block in _file_blocks(path):
            digest.update(block)
            if not state["nonblank"] and block.strip():
                state["nonblank"] = True
            yield block

    blocks = raw_blocks()
    first = next(blocks, b"")
    if first[:4] == b"PAR1":
        for _ in blocks:
            pass
        return FileScan(digest.hexdigest(), True, False, b"", 0, None)
    gz = first[:2] == b"\x1f\x8b"
    content = _gunzip_blocks(path, _chain(first, blocks)) if gz else _chain(first, blocks)
    if encoding is None and not gz:
        encoding = next((name for bom, name in _BOMS.items() if first.startswith(bom)), None)
    head, size, content_blank, quoted = bytearray(), 0, True, False
    decoder, decode_error = _decoder(path, encoding or "utf-8-sig"), None
    damaged = None
    try:
        for block in content:
            if len(head) < _HEAD:
                head += block[: _HEAD - len(head)]
            size += len(block)
            if content_blank and block.strip():
                content_blank = False
            quoted = quoted or b'"' in block
            if decoder is not None:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    decoder, decode_error = None, True
    except _DamagedGzip as exc:
        damaged = exc
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            decode_error = True
    if not state["nonblank"]:
        raise InputError(f"{path}: is empty, expected a header and one row per customer")
    if damaged is not None:
        raise InputError(f"{path}: is a damaged gzip file ({damaged})") from None
    if not (encoding or "").lower().replace("_", "-").startswith(("utf-16", "utf-32", "utf16", "utf32")):
        _reject_binary(path, bytes(head))
    if decode_error:
        if encoding:
            raise InputError(f"{path}: cannot be decoded as {encoding}; set [input] encoding in the config")
        encoding = "cp1252" if _decodes(path, gz, "cp1252") else "latin-1"
    if content_blank:
        raise InputError(f"{path}: is empty, expected a header and one row per customer")
    return FileScan(digest.hexdigest(), False, gz, bytes(head), size, encoding or "utf-8-sig", quoted)


class _DamagedGzip(Exception):
    pass


def check_regular_file(path: Path) -> None:
    """Refuse at once what is not a regular file (a FIFO or a device would block or never end),
    naming what it is; a folder, a missing file and a link loop get their own words."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: is a symbolic link loop (a link that leads back to itself)") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InputError(f"{path}: no such file") from None
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, expected a CSV or Parquet file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket or special file"
        raise InputError(f"{path}: is not a regular file but {kind}; give a CSV or Parquet file")


def check_header(path: Path, scan: FileScan, line: str, delimiter: str) -> None:
    """Refuse a header that cannot be a customer extract's: longer than the first 64 KiB or with
    more than :data:`MAX_COLUMNS` columns; both are found at once, before anything is parsed."""
    if len(re.split(rb"\r\n|\r|\n", scan.head, maxsplit=1)) < 2 and scan.content_size > len(scan.head):
        raise InputError(
            f"{path}: the header line is longer than {_HEAD // 1024} KiB; this is not a customer extract "
            f"(at most {MAX_COLUMNS:,} columns)"
        )
    columns = line.count(delimiter) + 1
    if columns > MAX_COLUMNS:
        raise InputError(f"{path}: the header has {columns:,} columns, more than the {MAX_COLUMNS:,} allowed")


def _file_blocks(path: Path):
    try:
        with open(path, "rb") as handle:
            while block := handle.read(_BLOCK):
                yield block
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def _chain(first: bytes, rest):
    if first:
        yield first
    yield from rest


def _gunzip_blocks(path: Path, blocks):
    """Decompress a (possibly multi-member) gzip stream block by block."""
    unpacker, fed = zlib.decompressobj(31), False
    for block in blocks:
        while block:
            try:
                out = unpacker.decompress(block)
            except zlib.error as exc:
                raise _DamagedGzip(str(exc)) from None
            fed = True
            if out:
                yield out
            if unpacker.eof:
                block = unpacker.unused_data.lstrip(b"\x00")
                unpacker, fed = zlib.decompressobj(31), False
            else:
                block = b""
    if fed and not unpacker.eof:
        raise _DamagedGzip("Compressed file ended before the end-of-stream marker was reached")


def _decoder(path: Path, encoding: str):
    try:
        return codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r} in the config") from None


def _decodes(path: Path, gz: bool, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    blocks = _file_blocks(path)
    try:
        for block in _gunzip_blocks(path, blocks) if gz else blocks:
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _reject_binary(path: Path, raw: bytes) -> None:
    for signature, what in _BINARY_SIGNATURES.items():
        if raw.startswith(signature):
            raise InputError(f"{path}: looks like {what}, not CSV; export it as CSV or Parquet")
    if b"\x00" in raw[:8192]:
        sample = raw[:8192]
        if sample.count(b"\x00") * 2 >= len(sample) - 1 and sample.count(b"\x00") * 4 < len(sample) * 3:
            raise InputError(
                f"{path}: looks like UTF-16 or UTF-32 text without a byte-order mark; set [input] encoding "
                "(e.g. \"utf-16-le\") in the config, or save it as UTF-8"
            )
        raise InputError(f"{path}: is a binary file, not CSV text; export it as CSV or Parquet")


def first_line(scan: FileScan, *, skip_blank: bool = False) -> str:
    """The header line of a CSV file, decoded (with ``skip_blank``: the first non-blank line)."""
    if "16" in scan.encoding or "32" in scan.encoding:  # wide encodings: split decoded text, not bytes
        lines = scan.head.decode(scan.encoding, errors="ignore").splitlines() or [""]
        return next((x for x in lines if x.strip()), "") if skip_blank else lines[0]
    lines = re.split(rb"\r\n|\r|\n", scan.head)
    line = next((x for x in lines if x.strip()), b"") if skip_blank else lines[0]
    return line.decode(scan.encoding, errors="replace")


def sniff_delimiter(text: str) -> str:
    """The most frequent of ``, ; tab |`` in the first line (comma if none)."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","
