"""SMTP delivery of one message: at most once, retried only when it certainly did not go out.

:func:`deliver` connects (STARTTLS or implicit TLS, verified), logs in when credentials are
given and sends. Temporary failures before the message was handed over (4xx replies, refused
connects, timeouts, dropped connections) are retried ``email.retries`` times with exponential
backoff, each wait at most :data:`MAX_BACKOFF_SECONDS`; permanent ones (5xx, failed login,
refused recipients, an unverifiable certificate) fail at once. Once the message text has been
sent after ``DATA``, a lost connection or a timeout leaves it unknown whether the server took it:
that is :class:`UnconfirmedDelivery`, never retried (a retry is how executives got four copies).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.utils import getaddresses, parseaddr

from reportgen.config import EmailSettings
from reportgen.errors import DeliveryError, ReportgenError

LOG = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 300.0


class _Temporary(Exception):
    """A failure worth retrying; ``str()`` says what happened."""


class UnconfirmedDelivery(Exception):
    """The message was sent after DATA but the server's answer never came; ``str()`` says why."""


class _Tracking:
    """Records whether the message text itself was handed to the socket (after DATA's 354)."""

    payload_sent = False
    _in_data = False

    def data(self, msg):
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s):
        if self._in_data and isinstance(s, bytes):  # DATA's command is text; the message is bytes
            self.payload_sent = True
        return super().send(s)


class _TrackedSMTP(_Tracking, smtplib.SMTP):
    pass


class _TrackedSMTPSSL(_Tracking, smtplib.SMTP_SSL):
    pass


def deliver(message, email, context, credentials, sleep) -> tuple[int, dict]:
    """Send ``message`` with retries on temporary failures; return (attempts, refused recipients).

    Raises :class:`UnconfirmedDelivery`, never retried, when the message was sent and the
    server's answer did not come."""
    where = f"{email.host}:{email.port}"
    attempts = max(int(email.retries), 0) + 1
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            return attempt, _send_once(message, email, context, credentials, where)
        except _Temporary as exc:
            last = str(exc)
        if attempt < attempts:
            delay = min(email.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            LOG.warning(
                "temporary failure sending to %s (%s); retry %d of %d in %g s", where, last, attempt, attempts - 1, delay
            )
            sleep(delay)
    raise DeliveryError(
        f"could not deliver to SMTP server {where} after {attempts} attempt(s): {last}; "
        "the server is down or busy: try again later (sent audiences are recorded and will not be mailed twice)"
    )


def _send_once(message, email, context, credentials, where) -> dict:
    try:
        if email.security == "ssl":
            smtp = _TrackedSMTPSSL(email.host, email.port, timeout=email.timeout, context=context)
        else:
            smtp = _TrackedSMTP(email.host, email.port, timeout=email.timeout)
    except Exception as exc:  # noqa: BLE001 - classified below
        raise _classified(exc, where, email) from None
    try:
        if email.security == "starttls":
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"{where} does not offer STARTTLS; refusing to send in clear text")
            smtp.starttls(context=context)
            smtp.ehlo()
        if credentials:
            smtp.login(*credentials)
        sender = parseaddr(email.sender)[1]
        recipients = [addr for _name, addr in getaddresses(message.get_all("To", []))]
        refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    except ReportgenError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified below
        if smtp.payload_sent and not isinstance(exc, smtplib.SMTPResponseException):
            # The message went out after DATA and no answer came back: it may have been accepted.
            raise UnconfirmedDelivery(_classified(exc, where, email)) from None
        raise _classified(exc, where, email) from None
    finally:
        _close(smtp)
    return dict(refused or {})


def _classified(exc: Exception, where: str, email: EmailSettings) -> Exception:
    """A temporary failure (:class:`_Temporary`) or a permanent one (:class:`DeliveryError`)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"the TLS certificate of {where} could not be verified ({exc.verify_message}); refusing to send. "
            "Fix the server's certificate or trust its CA"
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with {where} failed ({exc.reason or exc.__class__.__name__}); refusing to send")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = {a: c for a, (c, _m) in exc.recipients.items()}
        if codes and all(400 <= c < 500 for c in codes.values()):
            return _Temporary(f"recipients deferred ({', '.join(f'{a} {c}' for a, c in codes.items())})")
        return DeliveryError(
            f"{where} refused every recipient: "
            + ", ".join(f"{a} ({c} {_reply(m)})" for a, (c, m) in exc.recipients.items())
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError) and not 400 <= exc.smtp_code < 500:
        return DeliveryError(
            f"{where} rejected the login ({exc.smtp_code} {_reply(exc.smtp_error)}); "
            f"check ${email.username_env} and ${email.password_env}"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        if 400 <= exc.smtp_code < 500:
            return _Temporary(f"{exc.smtp_code} {_reply(exc.smtp_error)}")
        return DeliveryError(f"{where} refused the message permanently: {exc.smtp_code} {_reply(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _Temporary(f"connection closed by the server ({exc or 'no reason given'})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{where}: {exc}; check the server settings (a username is set in ${email.username_env})")
    if isinstance(exc, OSError):  # refused connect, timeout, reset, name lookup
        return _Temporary(f"{exc.__class__.__name__}: {exc.strerror or exc}")
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryError(f"{where}: {exc.__class__.__name__}: {exc}")
    return exc


def _close(smtp) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):  # the message is accepted or failed already
        smtp.close()


def _reply(raw) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]
