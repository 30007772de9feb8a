"""The send ledger: which month's report went to which audience, so a rerun never mails twice.

One table, ``send_ledger``, in the DuckDB history database::

    month VARCHAR, audience VARCHAR, recipients VARCHAR[], message_id VARCHAR,
    sent_at TIMESTAMP (UTC), attachments VARCHAR[], status VARCHAR

``status`` is ``'sending'`` from the moment a message is claimed until the SMTP server accepts
it, then ``'sent'``; ``'uncertain'`` when the message was sent but the server's answer never came. A claim is made *before* connecting (:meth:`SendLedger.claim`): if the
process dies between the server accepting the message and the ledger being updated, the
``'sending'`` row stays and the next run refuses to send again, because it cannot know whether
the message went out (at most once; ``resend`` overrides). A delivery that certainly failed
releases its claim (:meth:`SendLedger.release`).

Connections are short-lived, one per operation: another process (a build recording its history)
may hold the database between them. DuckDB errors become :class:`~reportgen.errors.LockedError`
when another process holds the file, else :class:`~reportgen.errors.DeliveryError`, naming the
database and the operation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from reportgen.errors import DeliveryError, LockedError

_CREATE = """
CREATE TABLE IF NOT EXISTS send_ledger (
    month VARCHAR NOT NULL,
    audience VARCHAR NOT NULL,
    recipients VARCHAR[] NOT NULL,
    message_id VARCHAR NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    attachments VARCHAR[] NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'sent'
)
"""
_COLUMNS = "month, audience, recipients, message_id, sent_at, attachments, status"


@dataclass(frozen=True)
class LedgerEntry:
    """One message to one audience. ``sent_at`` is timezone-aware UTC; ``status`` 'sending' or 'sent'."""

    month: str
    audience: str
    recipients: tuple[str, ...]
    message_id: str
    sent_at: datetime
    attachments: tuple[str, ...]
    status: str = "sent"


class SendLedger:
    """The ``send_ledger`` table of the DuckDB database at ``database`` (created when first written)."""

    def __init__(self, database: Path):
        self.database = Path(database)

    def already_sent(self, month: str, audience: str) -> bool:
        """Whether ``audience`` was sent (or a send was started) for ``month``."""
        return self.last_entry(month, audience) is not None

    def last_entry(self, month: str, audience: str) -> LedgerEntry | None:
        """The latest entry for ``month`` and ``audience``, or ``None`` when never sent."""
        if not self.database.exists():
            return None
        with self._connect("read the send ledger") as con:
            row = con.execute(
                f"SELECT {_COLUMNS} FROM send_ledger WHERE month = ? AND audience = ? "
                "ORDER BY sent_at DESC LIMIT 1",
                [month, audience],
            ).fetchone()
        return _entry(row) if row else None

    def entries(self, month: str | None = None) -> list[LedgerEntry]:
        """Every entry (of ``month`` when given), oldest first."""
        if not self.database.exists():
            return []
        with self._connect("read the send ledger") as con:
            where, params = ("WHERE month = ?", [month]) if month else ("", [])
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM send_ledger {where} ORDER BY sent_at, audience", params
            ).fetchall()
        return [_entry(r) for r in rows]

    def claim(self, entry: LedgerEntry, *, resend: bool = False) -> LedgerEntry | None:
        """Record that ``entry`` is about to be sent (status 'sending'), in one transaction.

        Returns ``None`` when the claim was made, or the earlier entry instead (claiming nothing)
        when the month and audience were already sent or started and ``resend`` is false.
        """
        with self._connect("claim a send in the ledger") as con:
            con.execute("BEGIN TRANSACTION")
            if not resend:
                row = con.execute(
                    f"SELECT {_COLUMNS} FROM send_ledger WHERE month = ? AND audience = ? "
                    "ORDER BY sent_at DESC LIMIT 1",
                    [entry.month, entry.audience],
                ).fetchone()
                if row:
                    con.execute("ROLLBACK")
                    return _entry(row)
            _insert(con, entry, "sending")
            con.execute("COMMIT")
        return None

    def record(self, entry: LedgerEntry) -> None:
        """Settle ``entry``'s claim (same message id) with its status: 'sent', or 'uncertain' (the
        message went out but the server never confirmed it: blocks a rerun like 'sent', but says so)."""
        with self._connect("record a send in the ledger") as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                "DELETE FROM send_ledger WHERE message_id = ? AND status = 'sending'", [entry.message_id]
            )
            _insert(con, entry, entry.status if entry.status in ("sent", "uncertain") else "sent")
            con.execute("COMMIT")

    def release(self, entry: LedgerEntry) -> None:
        """Drop the claim of ``entry`` (the message certainly did not go out)."""
        with self._connect("release a claim in the send ledger") as con:
            con.execute(
                "DELETE FROM send_ledger WHERE message_id = ? AND status = 'sending'", [entry.message_id]
            )

    @contextlib.contextmanager
    def _connect(self, doing: str) -> Iterator[duckdb.DuckDBPyConnection]:
        # Read-write even to read: DuckDB refuses a read-only connection to a file this process
        # already has open read-write (a build recording its history), and both lock the file.
        try:
            self.database.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.database))
        except duckdb.Error as exc:
            raise _wrapped(self.database, doing, exc) from None
        except OSError as exc:
            raise DeliveryError(f"{self.database}: cannot {doing} ({exc.strerror})") from None
        try:
            con.execute(_CREATE)
            yield con
        except duckdb.Error as exc:
            raise _wrapped(self.database, doing, exc) from None
        finally:
            con.close()


def _insert(con, entry: LedgerEntry, status: str) -> None:
    con.execute(
        f"INSERT INTO send_ledger ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            entry.month,
            entry.audience,
            list(entry.recipients),
            entry.message_id,
            _utc_naive(entry.sent_at),
            list(entry.attachments),
            status,
        ],
    )


def _entry(row) -> LedgerEntry:
    month, audience, recipients, message_id, sent_at, attachments, status = row
    return LedgerEntry(
        month=month,
        audience=audience,
        recipients=tuple(recipients or ()),
        message_id=message_id,
        sent_at=sent_at.replace(tzinfo=timezone.utc),
        attachments=tuple(attachments or ()),
        status=status,
    )


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # a naive time is taken as UTC
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _wrapped(database: Path, doing: str, exc: Exception) -> Exception:
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    if isinstance(exc, duckdb.IOException) and "lock" in text.lower():
        return LockedError(
            f"{database}: cannot {doing}: the history database is in use by another process; "
            "try again when it has finished"
        )
    return DeliveryError(f"{database}: cannot {doing} ({exc.__class__.__name__}: {text})")
