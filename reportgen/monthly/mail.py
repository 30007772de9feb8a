"""E-mail delivery: the month's deliverables to each audience of ``[email.audiences]``, once.

:func:`send_month` builds one :class:`email.message.EmailMessage` per audience from the files a
build left in ``OUT/MONTH/`` and sends it over SMTP. Attachments are chosen per audience by
name (:data:`ATTACHMENTS`): ``pdf``, ``pptx``, ``html``, ``dashboard`` (the deliverables),
``recommendations`` (``targets/recommendations.csv``), ``targets`` (the per-persona CSV
target lists in ``targets/``) and ``actions`` (the per-action target lists with their control
groups, in one ZIP; the body then lists every action with its counts and file). Every message carries a short HTML summary (with a plain-text
alternative) built from ``report-model.json``: the headline KPIs, the segment sizes, the three
points that matter most (the executive story) and, when the model has one, its optional ``changes`` field (a list of sentences, or
of objects with a ``text`` key) under "What changed". Never customer ids: the summary reads
only the facts, KPIs, segment names and sizes, the story and changes.

Reliability rules kept here:

- Everything is checked before connecting: attachment names (an unknown one lists the valid
  ones; an executive audience, named ``exec...``, may not receive the target lists, nor a
  dashboard built with ``show_customer_ids``), missing files (named, with the
  ``reportgen build`` command that makes them),
  attachment sizes (each file, and all of one message together, against
  ``email.max_attachment_mb``; servers limit the whole message) and credentials.
- TLS is verified: STARTTLS (refusing a server that does not offer it) or implicit TLS, with
  ``ssl.create_default_context()`` unless the caller passes its own context.
- Credentials only from the environment: login happens only when the variable named by
  ``email.username_env`` is set; the password comes from ``email.password_env``.
- Temporary failures (4xx replies, dropped connections, refused connects, timeouts) are retried
  ``email.retries`` times with exponential backoff from ``email.backoff_seconds``, each wait at
  most :data:`MAX_BACKOFF_SECONDS`. Permanent failures (5xx, failed authentication, refused
  recipients, an unverifiable certificate) fail at once.
- The send ledger (:mod:`reportgen.monthly.ledger`, in ``history.database``, default
  ``OUT/history.duckdb``) is claimed before and completed after each message, so a rerun of the
  same month never mails an audience twice unless ``resend`` is set.
- Report files are only read. A dry run writes ``OUT/MONTH/outbox/<audience>.eml`` instead of
  sending, and records nothing.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from reportgen.config import Audience, EmailSettings, Settings
from reportgen.errors import ConfigError, DeliveryError, InputError, ReportgenError
from reportgen.monthly.attachments import ATTACHMENTS, Attachment, _build_command, _check_sizes, _collect_attachments
from reportgen.monthly.ledger import LedgerEntry, SendLedger
from reportgen.monthly.message import _safe_name, build_message
from reportgen.monthly.outputs import write_set
from reportgen.monthly.smtp import MAX_BACKOFF_SECONDS, UnconfirmedDelivery, deliver  # noqa: F401 - re-exported
from reportgen.report.formatting import number_style

LOG = logging.getLogger(__name__)

MODEL_FILE = "report-model.json"


@dataclass(frozen=True)
class SendResult:
    """What happened to one audience. ``status``: ``sent``, ``skipped`` (already in the ledger)
    or ``dry-run``; ``detail`` is one line for the CLI; ``eml`` the file a dry run wrote."""

    audience: str
    status: str
    recipients: tuple[str, ...]
    attachments: tuple[str, ...]
    message_id: str | None
    detail: str
    eml: Path | None = None
    attempts: int = 0


@dataclass(frozen=True)
class _Plan:
    audience: Audience
    message: EmailMessage
    attachments: tuple[Attachment, ...]
    note: str


def send_month(
    month: str,
    out_root: Path | str,
    settings: Settings,
    *,
    dry_run: bool = False,
    resend: bool = False,
    now: datetime | None = None,
    ssl_context: ssl.SSLContext | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[SendResult]:
    """Send ``OUT/MONTH``'s deliverables to every configured audience; one result per audience.

    ``now`` dates the messages and the ledger (default: the current time); ``ssl_context``
    replaces the default verified context (e.g. one trusting a private CA); ``sleep`` waits
    between retries. Raises :class:`~reportgen.errors.ConfigError` for bad settings,
    :class:`~reportgen.errors.DeliveryError` for missing or oversized files and failed delivery,
    :class:`~reportgen.errors.LockedError` when another process holds the history database.
    """
    with number_style(settings.locale, settings.currency):  # the summary's numbers and months
        email = settings.email
        month = _check_month(month)
        out_root = Path(out_root)
        month_dir = out_root / month
        now = now or datetime.now(timezone.utc)
        _check_settings(email, dry_run, settings.show_customer_ids)
        ledger = SendLedger(settings.history.database or out_root / "history.duckdb")
        model = _load_model(month_dir, month, out_root)

        results: dict[str, SendResult] = {}
        pending: dict[str, tuple[Audience, LedgerEntry | None]] = {}
        for audience in email.audiences:
            earlier = None if resend else _earlier(ledger, month, audience.name, dry_run)
            if earlier and not dry_run:
                results[audience.name] = _skipped(audience, earlier)
            else:
                pending[audience.name] = (audience, earlier)
        files = _collect_attachments([a for a, _e in pending.values()], month_dir, month, out_root, model)
        _check_sizes(files, email.max_attachment_mb)
        plans = []
        for audience, earlier in pending.values():
            note = f"already sent on {_when(earlier)}: a real send skips it unless resent" if earlier else ""
            message = build_message(audience, files[audience.name], model, email, month, now)
            plans.append(_Plan(audience, message, files[audience.name], note))
        if dry_run:
            results.update(_write_outbox(plans, month_dir))
        else:
            results.update(_send_plans(plans, email, ledger, month, now, resend, ssl_context, sleep))
        return [results[a.name] for a in email.audiences if a.name in results]


def is_executive(audience: Audience) -> bool:
    """Whether ``audience`` gets executive material (its name starts with "exec"): never customer ids."""
    return audience.name.lower().startswith("exec")


# --- checks before any connection -------------------------------------------------------------


def _check_month(month: str) -> str:
    try:
        return datetime.strptime(str(month), "%Y-%m").strftime("%Y-%m")
    except ValueError:
        raise InputError(f"--month {month!r} is not a month; expected YYYY-MM, e.g. 2026-11") from None


def _check_settings(email: EmailSettings, dry_run: bool, show_customer_ids: bool) -> None:
    if not email.audiences:
        raise ConfigError("no e-mail audiences configured: add [email.audiences.<name>] tables with 'to' and 'attach'")
    if not email.sender or "@" not in email.sender:
        raise ConfigError("email.sender is not set: the address the reports are sent from, e.g. reports@example.com")
    if not dry_run and not email.host:
        raise ConfigError("email.host is not set: the SMTP server to send through")
    for audience in email.audiences:
        unknown = [a for a in audience.attach if a not in ATTACHMENTS]
        if unknown:
            raise ConfigError(
                f"[email.audiences.{audience.name}] attach: unknown {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(ATTACHMENTS)}"
            )
        if is_executive(audience):
            with_ids = [a for a in audience.attach
                        if a in ("targets", "actions", "xlsx") or (a == "dashboard" and show_customer_ids)]
            if with_ids:
                raise ConfigError(
                    f"[email.audiences.{audience.name}] attaches {', '.join(with_ids)}, which hold customer ids; "
                    "executive material never carries customer ids: send target lists to a marketing audience"
                    + (" (the dashboard shows them: dashboard.show_customer_ids = true)" if "dashboard" in with_ids else "")
                )


def _load_model(month_dir: Path, month: str, out_root: Path) -> dict:
    path = month_dir / MODEL_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeliveryError(
            f"{path} not found: nothing was built for {month}; run `{_build_command(month, out_root, ('pdf',))}` first"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeliveryError(
            f"{path}: cannot read the report model ({exc.__class__.__name__}); "
            f"rebuild with `{_build_command(month, out_root, ('pdf',))}`"
        ) from None


def _credentials(email: EmailSettings) -> tuple[str, str] | None:
    user = os.environ.get(email.username_env)
    if not user:
        return None
    password = os.environ.get(email.password_env)
    if password is None:
        raise ConfigError(
            f"${email.username_env} is set but ${email.password_env} is not: set both to log in, or neither"
        )
    return user, password


# --- sending ----------------------------------------------------------------------------------


def _send_plans(plans, email, ledger, month, now, resend, context, sleep) -> dict[str, SendResult]:
    if not plans:
        return {}
    credentials = _credentials(email)
    context = context or ssl.create_default_context()
    results: dict[str, SendResult] = {}
    partial: list[str] = []
    uncertain: list[str] = []
    for plan in plans:
        audience, message = plan.audience, plan.message
        names = tuple(a.name for a in plan.attachments)
        entry = LedgerEntry(month, audience.name, audience.to, str(message["Message-ID"]), now, names, "sending")
        earlier = ledger.claim(entry, resend=resend)
        if earlier:  # another run got there between our check and now
            results[audience.name] = _skipped(audience, earlier)
            continue
        try:
            attempts, refused = deliver(message, email, context, credentials, sleep)
        except UnconfirmedDelivery as exc:
            # The server may have accepted the message: never sent again automatically.
            try:
                ledger.record(replace(entry, status="uncertain"))
            except ReportgenError as ledger_exc:  # the 'sending' claim stays: it blocks a rerun too
                LOG.warning("could not mark the send of %s as uncertain: %s", audience.name, ledger_exc)
            uncertain.append(f"{audience.name} ({exc})")
            results[audience.name] = SendResult(
                audience.name, "uncertain", audience.to, names, entry.message_id,
                f"delivery not confirmed ({exc}); not sent again: check whether it arrived, then use --resend",
            )
            continue
        except Exception:
            try:
                ledger.release(entry)
            except ReportgenError as exc:  # keep the delivery error; the claim blocks a rerun
                LOG.warning("could not release the ledger claim of %s: %s", audience.name, exc)
            raise
        accepted = tuple(a for a in audience.to if parseaddr(a)[1] not in refused)
        try:
            ledger.record(LedgerEntry(month, audience.name, accepted, entry.message_id, now, names, "sent"))
        except ReportgenError as exc:
            raise DeliveryError(
                f"{audience.name}: the message was delivered but the send ledger was not updated ({exc}); "
                "the ledger keeps it as started, so a rerun will not send it again"
            ) from None
        LOG.info("sent %s for %s to %d recipient(s)", audience.name, month, len(accepted))
        if refused:
            partial.append(f"{audience.name}: refused {', '.join(f'{a} ({c})' for a, (c, _m) in refused.items())}")
        results[audience.name] = SendResult(
            audience.name, "sent", accepted, names, entry.message_id,
            f"sent to {len(accepted)} recipient(s) with {len(names)} attachment(s)"
            + (f" after {attempts} attempts" if attempts > 1 else ""),
            attempts=attempts,
        )
    if uncertain:
        raise DeliveryError(
            f"the message to {'; '.join(uncertain)} was sent but the server never confirmed it; it is recorded "
            "as uncertain and will not be sent again automatically: check with the recipients whether it arrived, "
            "then use --resend if it did not"
            + (f" (also: {'; '.join(partial)})" if partial else "")
        )
    if partial:
        raise DeliveryError(
            "some recipients were refused (the others received the message and it is recorded as sent): "
            + "; ".join(partial) + ". Fix the addresses and send to them separately"
        )
    return results


# --- dry runs and helpers ---------------------------------------------------------------------


def _write_outbox(plans, month_dir: Path) -> dict[str, SendResult]:
    files = {f"{_safe_name(p.audience.name)}.eml": bytes(p.message) for p in plans}
    written = write_set(month_dir / "outbox", files) if files else []
    results = {}
    for plan, path in zip(plans, written):
        results[plan.audience.name] = SendResult(
            plan.audience.name, "dry-run", plan.audience.to, tuple(a.name for a in plan.attachments),
            str(plan.message["Message-ID"]),
            f"wrote {path} (not sent)" + (f"; {plan.note}" if plan.note else ""), eml=path,
        )
    return results


def _earlier(ledger: SendLedger, month: str, audience: str, dry_run: bool) -> LedgerEntry | None:
    try:
        return ledger.last_entry(month, audience)
    except ReportgenError:
        if dry_run:  # a preview must not fail because a build holds the database
            return None
        raise


def _skipped(audience: Audience, earlier: LedgerEntry) -> SendResult:
    if earlier.status == "sent":
        detail = (
            f"already sent on {_when(earlier)} to {len(earlier.recipients)} recipient(s); "
            "nothing sent (use --resend to send again)"
        )
    elif earlier.status == "uncertain":
        detail = (
            f"sent on {_when(earlier)} but the server never confirmed it; nothing sent: "
            "check whether it arrived, then use --resend to send again"
        )
    else:
        detail = (
            f"a send started on {_when(earlier)} was never confirmed (the run was interrupted); nothing sent: "
            "check whether it arrived, then use --resend to send again"
        )
    status = "skipped" if earlier.status == "sent" else "unconfirmed"
    return SendResult(audience.name, status, earlier.recipients, earlier.attachments, earlier.message_id, detail)


def _when(entry: LedgerEntry) -> str:
    return entry.sent_at.strftime("%Y-%m-%d %H:%M UTC")
