"""E-mail delivery against a real SMTP server on loopback (aiosmtpd) with verified STARTTLS.

The deliverables are real: the bundled sample analysed, the PDF and deck rendered, the report
model written as JSON and the target lists built, once per module; every test works on a copy.
The server's certificate is made by a test CA (``openssl``) that the client context trusts, with
hostname checking on.
"""

from __future__ import annotations

import email
import html
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import datetime, timezone
from email import policy
from email.utils import format_datetime
from pathlib import Path

import pytest

from reportgen.config import Audience, EmailSettings, HistorySettings, Settings
from reportgen.errors import ConfigError, DeliveryError, LockedError
from reportgen.monthly.ledger import LedgerEntry, SendLedger
from reportgen.monthly.mail import send_month

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

MONTH = "2026-11"
NOW = datetime(2026, 12, 1, 7, 30, tzinfo=timezone.utc)
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
HOST = "127.0.0.1"


# --- certificates -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Path]:
    """A test CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    if shutil.which("openssl") is None:
        pytest.skip("TLS tests need the openssl command (the cryptography package is not installed)")
    d = tmp_path_factory.mktemp("certs")
    ext = d / "server.ext"
    ext.write_text(
        textwrap.dedent(
            """\
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = DNS:localhost, IP:127.0.0.1
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """
        )
    )
    ca_ext = d / "ca.ext"
    ca_ext.write_text(
        "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
        "subjectKeyIdentifier = hash\n"
    )
    commands = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=reportgen test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
    ]
    for args in commands:
        done = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"openssl could not make test certificates: {done.stderr.strip()[:200]}")
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


@pytest.fixture(scope="module")
def server_tls(certs) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs["cert"], certs["key"])
    return context


@pytest.fixture(scope="module")
def client_tls(certs) -> ssl.SSLContext:
    """Verified TLS that trusts the test CA only (hostname checked)."""
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    return context


# --- the SMTP server ----------------------------------------------------------------------------


class Collector:
    """An aiosmtpd handler keeping every accepted message; scripted replies simulate failures."""

    def __init__(self):
        self.messages: list[dict] = []
        self.mail_replies: list[str] = []  # replies to MAIL FROM, used up one per attempt
        self.data_replies: list[str] = []  # replies to the end of DATA, used up one per attempt
        self.data_attempts = 0
        self.mail_attempts = 0
        self.refuse: set[str] = set()  # recipients answered with 550

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_attempts += 1
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "raw": envelope.original_content or envelope.content,
                "tls": session.ssl is not None,
                "auth": session.auth_data,
            }
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(server_tls):
    """Start servers on loopback: ``start(**smtp_options) -> (controller, collector)``."""
    started = []

    def start(*, implicit_tls: bool = False, starttls: bool = True, **options):
        collector = Collector()
        kwargs = dict(options)
        if implicit_tls:
            kwargs["ssl_context"] = server_tls
        elif starttls:
            kwargs.update(tls_context=server_tls, require_starttls=True)
        controller = aiosmtpd_controller.Controller(
            collector, hostname=HOST, port=free_port(), server_hostname="localhost", **kwargs
        )
        controller.start()
        started.append(controller)
        return controller, collector

    yield start
    for controller in started:
        controller.stop()


# --- the deliverables ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Real deliverables of MONTH in a module-wide folder: (out root, model, customer ids)."""
    from reportgen.api import analyse
    from reportgen.monthly.outputs import write_set
    from reportgen.monthly.targets import write_target_files
    from reportgen.report.model import model_to_json

    try:
        from reportgen.render.charts import build_charts
        from reportgen.render.deck.presentation import render_pptx
        from reportgen.render.pdf import render_pdf
        from reportgen.render.settings import RenderSettings
    except ImportError as exc:  # pragma: no cover - the renderers are part of the tree
        pytest.skip(f"PDF/PowerPoint renderers not available in this tree: {exc}")
    out = tmp_path_factory.mktemp("built")
    result, model = analyse(month=MONTH, generated_at=NOW)
    charts = build_charts(model)
    month_dir = out / MONTH
    write_set(
        month_dir,
        {
            f"segment-report-{MONTH}.pdf": render_pdf(model, charts, RenderSettings()),
            f"segment-report-{MONTH}.pptx": render_pptx(model, charts, RenderSettings()),
            "report-model.json": model_to_json(model).encode("utf-8"),
        },
    )
    write_target_files(result, model, month_dir)
    from reportgen.monthly.campaigns import build_action_files

    write_set(month_dir / "targets", build_action_files(result, model))  # as the build does
    return out, model, tuple(result.clean.ids.astype(str))


@pytest.fixture
def out(built, tmp_path) -> Path:
    """A fresh copy of the built output root (no ledger yet)."""
    target = tmp_path / "output"
    shutil.copytree(built[0], target)
    return target


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch):
    monkeypatch.delenv("REPORTGEN_SMTP_USER", raising=False)
    monkeypatch.delenv("REPORTGEN_SMTP_PASSWORD", raising=False)


def settings_for(port: int | None, **email) -> Settings:
    audiences = email.pop(
        "audiences",
        (
            Audience("executives", ("cfo@example.com", "ceo@example.com"), ("pdf", "pptx")),
            Audience("marketing", ("campaigns@example.com",), ("recommendations", "targets")),
        ),
    )
    base = dict(host=HOST, port=port or 25, sender="reports@example.com", retries=2, backoff_seconds=0.5, timeout=10)
    base.update(email)
    return Settings(email=EmailSettings(audiences=audiences, **base), history=HistorySettings())


class Sleeps(list):
    """An injected sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def attachments_of(message) -> dict[str, tuple[str, bytes]]:
    return {part.get_filename(): (part.get_content_type(), part.get_payload(decode=True)) for part in message.iter_attachments()}


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


# --- delivery -----------------------------------------------------------------------------------


def test_each_audience_receives_one_message_with_its_attachments(smtp_server, out, built, client_tls):
    controller, collector = smtp_server()
    _out, model, ids = built
    results = send_month(MONTH, out, settings_for(controller.port), now=NOW, ssl_context=client_tls, sleep=Sleeps())

    assert [(r.audience, r.status) for r in results] == [("executives", "sent"), ("marketing", "sent")]
    assert len(collector.messages) == 2 and all(m["tls"] for m in collector.messages)
    by_to = {tuple(m["to"]): m for m in collector.messages}
    execs = by_to[("cfo@example.com", "ceo@example.com")]
    assert execs["from"] == "reports@example.com"
    message = parse(execs["raw"])
    files = attachments_of(message)
    month_dir = out / MONTH
    assert files == {
        f"segment-report-{MONTH}.pdf": ("application/pdf", (month_dir / f"segment-report-{MONTH}.pdf").read_bytes()),
        f"segment-report-{MONTH}.pptx": (PPTX_TYPE, (month_dir / f"segment-report-{MONTH}.pptx").read_bytes()),
    }
    assert message["Date"] == format_datetime(NOW)
    assert message["Message-ID"].endswith("@example.com>") and message["Message-ID"] == results[0].message_id
    assert message["Subject"] == "Customer Segmentation Report: November 2026"

    text = message.get_body(("plain",)).get_content()
    body_html = message.get_body(("html",)).get_content()
    for kpi in model.kpis:
        if kpi.key in ("customers", "balance", "utilisation"):
            assert kpi.display in text and html.escape(kpi.display) in body_html
    for line in (model.story.situation, *model.story.points, *model.story.actions):
        assert line in text and html.escape(line) in body_html
    for segment in model.segments:
        assert segment.name in text
    assert "What changed" not in text  # the model has no changes field yet
    assert not [i for i in ids if i in text or i in body_html]

    marketing = parse(by_to[("campaigns@example.com",)]["raw"])
    files = attachments_of(marketing)
    targets = month_dir / "targets"
    expected = {"recommendations.csv"} | {p.name for p in targets.glob("targets-*.csv") if "--" not in p.name}
    assert set(files) == expected and len(expected) == len(model.segments) + 1
    assert all(kind == "text/csv" for kind, _data in files.values())
    assert all(data == (targets / name).read_bytes() for name, (_k, data) in files.items())


def test_changes_appear_when_the_model_has_them(smtp_server, out, client_tls):
    import json

    path = out / MONTH / "report-model.json"
    tree = json.loads(path.read_text())
    tree["changes"] = ["Revolvers grew by 120 customers (+2.1 points)", {"text": "Dormant <Users> shrank"}]
    path.write_text(json.dumps(tree))
    controller, collector = smtp_server()
    settings = settings_for(controller.port, audiences=(Audience("executives", ("cfo@example.com",), ("pdf",)),))
    send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    message = parse(collector.messages[0]["raw"])
    assert "Revolvers grew by 120 customers" in message.get_body(("plain",)).get_content()
    assert "Dormant &lt;Users&gt; shrank" in message.get_body(("html",)).get_content()


def test_a_rerun_sends_nothing_and_resend_sends_again(smtp_server, out, client_tls):
    controller, collector = smtp_server()
    settings = settings_for(controller.port)
    send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    again = send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert len(collector.messages) == 2
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert all("already sent on 2026-12-01 07:30 UTC" in r.detail and "--resend" in r.detail for r in again)

    entries = SendLedger(out / "history.duckdb").entries(MONTH)
    assert [(e.audience, e.status, e.recipients) for e in entries] == [
        ("executives", "sent", ("cfo@example.com", "ceo@example.com")),
        ("marketing", "sent", ("campaigns@example.com",)),
    ]
    assert entries[0].attachments == (f"segment-report-{MONTH}.pdf", f"segment-report-{MONTH}.pptx")
    assert entries[0].sent_at == NOW

    resent = send_month(MONTH, out, settings, resend=True, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert [r.status for r in resent] == ["sent", "sent"] and len(collector.messages) == 4


@pytest.mark.parametrize("where, reply", [("mail", "421 4.3.2 service not available, try later"), ("data", "451 4.3.0 try later")])
def test_a_temporary_failure_is_retried_and_delivered_once(smtp_server, out, client_tls, where, reply):
    controller, collector = smtp_server()
    getattr(collector, f"{where}_replies").append(reply)
    sleeps = Sleeps()
    settings = settings_for(controller.port, audiences=(Audience("executives", ("cfo@example.com",), ("pdf",)),))
    [result] = send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=sleeps)
    assert result.status == "sent" and result.attempts == 2
    assert len(collector.messages) == 1
    assert sleeps == [0.5]


def test_a_permanent_failure_is_not_retried(smtp_server, out, client_tls):
    controller, collector = smtp_server()
    collector.data_replies.append("550 5.7.1 message rejected by policy")
    sleeps = Sleeps()
    settings = settings_for(controller.port, audiences=(Audience("executives", ("cfo@example.com",), ("pdf",)),))
    with pytest.raises(DeliveryError, match=r"550 5\.7\.1 message rejected"):
        send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=sleeps)
    assert collector.data_attempts == 1 and sleeps == [] and collector.messages == []
    # the failed send released its claim: the next run delivers
    assert SendLedger(out / "history.duckdb").entries(MONTH) == []
    [result] = send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=sleeps)
    assert result.status == "sent" and len(collector.messages) == 1


def test_refused_recipients_are_reported_and_the_others_not_mailed_again(smtp_server, out, client_tls):
    controller, collector = smtp_server()
    collector.refuse.add("gone@example.com")
    settings = settings_for(controller.port, audiences=(Audience("executives", ("cfo@example.com", "gone@example.com"), ("pdf",)),))
    with pytest.raises(DeliveryError, match=r"refused gone@example.com \(550\)"):
        send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert [m["to"] for m in collector.messages] == [["cfo@example.com"]]
    [entry] = SendLedger(out / "history.duckdb").entries(MONTH)
    assert entry.recipients == ("cfo@example.com",) and entry.status == "sent"
    [again] = send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert again.status == "skipped" and len(collector.messages) == 1

    collector.refuse.add("cfo@example.com")  # every recipient refused: permanent, nothing recorded
    with pytest.raises(DeliveryError, match="refused every recipient"):
        send_month(MONTH, out, settings, resend=True, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert len(SendLedger(out / "history.duckdb").entries(MONTH)) == 1


def test_a_server_that_is_down_fails_after_bounded_retries_and_leaves_reports_alone(out, client_tls):
    port = free_port()  # nothing listens here
    before = snapshot(out / MONTH)
    sleeps = Sleeps()
    settings = settings_for(port, retries=3, backoff_seconds=200)
    with pytest.raises(DeliveryError, match=rf"{HOST}:{port} after 4 attempt\(s\)"):
        send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=sleeps)
    assert sleeps == [200, 300, 300]  # exponential, each wait capped
    assert snapshot(out / MONTH) == before
    assert SendLedger(out / "history.duckdb").entries() == []


def test_an_unverified_certificate_is_refused(smtp_server, out):
    controller, collector = smtp_server()
    sleeps = Sleeps()
    with pytest.raises(DeliveryError, match="certificate .* could not be verified"):
        send_month(MONTH, out, settings_for(controller.port), now=NOW, sleep=sleeps)  # default trust store
    assert sleeps == [] and collector.messages == []


def test_a_server_without_starttls_is_refused(smtp_server, out, client_tls):
    controller, collector = smtp_server(starttls=False)
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        send_month(MONTH, out, settings_for(controller.port), now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert collector.mail_attempts == 0


def test_implicit_tls(smtp_server, out, client_tls):
    controller, collector = smtp_server(implicit_tls=True)
    settings = settings_for(controller.port, security="ssl")
    results = send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert [r.status for r in results] == ["sent", "sent"] and len(collector.messages) == 2


# --- checks before connecting -------------------------------------------------------------------


@pytest.fixture
def no_connection(monkeypatch):
    """Fail the test if anything tries to open an SMTP connection."""

    def refuse(*args, **kwargs):
        raise AssertionError("connected to SMTP although the send should have been refused first")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    monkeypatch.setattr(smtplib, "SMTP_SSL", refuse)


def test_an_attachment_over_the_limit_is_refused_before_connecting(out, no_connection):
    pptx = out / MONTH / f"segment-report-{MONTH}.pptx"
    size_mb = pptx.stat().st_size / 1024 / 1024
    settings = settings_for(25, max_attachment_mb=0.1)
    with pytest.raises(DeliveryError, match=rf"segment-report-{MONTH}\.p(df|ptx) is \d+\.\d MB, over email\.max_attachment_mb = 0\.1 MB"):
        send_month(MONTH, out, settings, now=NOW)
    assert size_mb > 0.1
    assert not (out / "history.duckdb").exists()


def test_attachments_over_the_limit_together_are_refused(out, no_connection):
    targets = out / MONTH / "targets"
    biggest = max(p.stat().st_size for p in targets.glob("targets-*.csv")) / 1024 / 1024
    settings = settings_for(25, max_attachment_mb=round(biggest + 0.01, 2),
                            audiences=(Audience("marketing", ("m@example.com",), ("recommendations", "targets")),))
    with pytest.raises(DeliveryError, match=r"attachments for marketing total \d+\.\d MB"):
        send_month(MONTH, out, settings, now=NOW)


def test_a_missing_deliverable_is_named_with_the_command_that_builds_it(out, no_connection):
    (out / MONTH / f"segment-report-{MONTH}.pptx").unlink()
    with pytest.raises(DeliveryError) as caught:
        send_month(MONTH, out, settings_for(25), now=NOW)
    message = str(caught.value)
    assert f"segment-report-{MONTH}.pptx" in message
    assert f"reportgen build --month {MONTH} --out {out} --format pdf --format pptx" in message


def test_a_month_never_built_says_so(tmp_path, no_connection):
    with pytest.raises(DeliveryError, match=r"report-model\.json not found.*reportgen build --month 2026-10"):
        send_month("2026-10", tmp_path, settings_for(25), now=NOW)


def test_unknown_attachment_names_list_the_valid_ones(out, no_connection):
    settings = settings_for(25, audiences=(Audience("executives", ("cfo@example.com",), ("pdf", "slides")),))
    with pytest.raises(ConfigError, match=r"unknown 'slides'; valid: pdf, pptx, html, dashboard, recommendations, targets"):
        send_month(MONTH, out, settings, now=NOW)


def test_executives_never_get_customer_ids(out, no_connection):
    settings = settings_for(25, audiences=(Audience("executives", ("cfo@example.com",), ("pdf", "targets")),))
    with pytest.raises(ConfigError, match="attaches targets, which hold customer ids"):
        send_month(MONTH, out, settings, now=NOW)
    settings = replace(settings_for(25, audiences=(Audience("exec-board", ("b@example.com",), ("dashboard",)),)), show_customer_ids=True)
    with pytest.raises(ConfigError, match="dashboard shows them: dashboard.show_customer_ids = true"):
        send_month(MONTH, out, settings, now=NOW)


def test_settings_needed_to_send(out, no_connection):
    with pytest.raises(ConfigError, match="email.host is not set"):
        send_month(MONTH, out, settings_for(25, host=None), now=NOW)
    with pytest.raises(ConfigError, match="no e-mail audiences"):
        send_month(MONTH, out, settings_for(25, audiences=()), now=NOW)
    with pytest.raises(ConfigError, match="email.sender is not set"):
        send_month(MONTH, out, settings_for(25, sender=None), now=NOW)
    with pytest.raises(ConfigError, match="line"):  # a header injection attempt in the subject
        send_month(MONTH, out, settings_for(25, audiences=(Audience("x", ("a@example.com",), ("pdf",), "Hi\nBcc: evil@example.com"),)), now=NOW)


# --- dry runs -----------------------------------------------------------------------------------


def test_a_dry_run_writes_eml_files_and_records_nothing(out, no_connection):
    results = send_month(MONTH, out, settings_for(None, host=None), dry_run=True, now=NOW)
    assert [r.status for r in results] == ["dry-run", "dry-run"]
    outbox = out / MONTH / "outbox"
    assert sorted(p.name for p in outbox.iterdir()) == ["executives.eml", "marketing.eml"]
    assert [r.eml for r in results] == [outbox / "executives.eml", outbox / "marketing.eml"]
    execs = parse((outbox / "executives.eml").read_bytes())
    assert set(attachments_of(execs)) == {f"segment-report-{MONTH}.pdf", f"segment-report-{MONTH}.pptx"}
    assert attachments_of(execs)[f"segment-report-{MONTH}.pdf"][1] == (out / MONTH / f"segment-report-{MONTH}.pdf").read_bytes()
    marketing = parse((outbox / "marketing.eml").read_bytes())
    assert "recommendations.csv" in attachments_of(marketing)
    assert not (out / "history.duckdb").exists()


def test_marketing_gets_the_action_lists_in_one_zip_and_their_counts_in_the_body(out, built, no_connection):
    import csv
    import io
    import zipfile

    _out, model, _ids = built
    marketing = Audience("marketing", ("campaigns@example.com",), ("recommendations", "actions"))
    send_month(MONTH, out, settings_for(None, host=None, audiences=(marketing,)), dry_run=True, now=NOW)
    message = parse((out / MONTH / "outbox" / "marketing.eml").read_bytes())
    files = attachments_of(message)
    assert set(files) == {"recommendations.csv", f"action-targets-{MONTH}.zip"}
    kind, data = files[f"action-targets-{MONTH}.zip"]
    assert kind == "application/zip"
    targets = out / MONTH / "targets"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert len(names) == len(model.actions) and all("--" in n for n in names)
        assert all(archive.read(n) == (targets / n).read_bytes() for n in names)  # the lists as written
    text = message.get_body(("plain",)).get_content()
    body_html = message.get_body(("html",)).get_content()
    for action, name in zip(model.actions, names):
        rows = list(csv.DictReader(io.StringIO((targets / name).read_text(encoding="utf-8"))))
        assert len(rows) == action.eligible and sum(r["group"] == "control" for r in rows) == action.control
        line = (f"- {action.segment}: {action.text}: {action.eligible:,} eligible, {action.control:,} control, "
                f"{action.eligible - action.control:,} to contact ({name})")
        assert line in text
        assert html.escape(action.text) in body_html and html.escape(name) in body_html
    # the same month zipped twice gives the same bytes
    send_month(MONTH, out, settings_for(None, host=None, audiences=(marketing,)), dry_run=True, now=NOW)
    again = attachments_of(parse((out / MONTH / "outbox" / "marketing.eml").read_bytes()))
    assert again[f"action-targets-{MONTH}.zip"][1] == data


def test_action_lists_count_against_the_size_limit_and_never_go_to_executives(out, no_connection):
    marketing = Audience("marketing", ("campaigns@example.com",), ("actions",))
    with pytest.raises(DeliveryError, match=f"action-targets-{MONTH}.zip is .* over email.max_attachment_mb"):
        send_month(MONTH, out, settings_for(None, host=None, audiences=(marketing,), max_attachment_mb=0.001),
                   dry_run=True, now=NOW)
    executives = Audience("executives", ("cfo@example.com",), ("pdf", "actions"))
    with pytest.raises(ConfigError, match="attaches actions, which hold customer ids"):
        send_month(MONTH, out, settings_for(None, host=None, audiences=(executives,)), dry_run=True, now=NOW)


# --- credentials --------------------------------------------------------------------------------


class Authenticator:
    def __init__(self, login: bytes, password: bytes):
        self.login, self.password, self.seen = login, password, []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (self.login, self.password)
        self.seen.append((mechanism, auth_data.login if isinstance(auth_data, LoginPassword) else None, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def test_credentials_come_from_the_environment(smtp_server, out, client_tls, monkeypatch):
    auth = Authenticator(b"mailer", b"s3cret")
    controller, collector = smtp_server(authenticator=auth, auth_required=True)
    settings = settings_for(controller.port, audiences=(Audience("executives", ("cfo@example.com",), ("pdf",)),))
    monkeypatch.setenv("REPORTGEN_SMTP_USER", "mailer")
    monkeypatch.setenv("REPORTGEN_SMTP_PASSWORD", "s3cret")
    [result] = send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert result.status == "sent"
    assert auth.seen and auth.seen[-1][1:] == (b"mailer", True)
    assert collector.messages[0]["auth"].login == b"mailer"


def test_a_wrong_password_fails_without_retry(smtp_server, out, client_tls, monkeypatch):
    auth = Authenticator(b"mailer", b"s3cret")
    controller, collector = smtp_server(authenticator=auth, auth_required=True)
    monkeypatch.setenv("REPORTGEN_SMTP_USER", "mailer")
    monkeypatch.setenv("REPORTGEN_SMTP_PASSWORD", "wrong")
    sleeps = Sleeps()
    with pytest.raises(DeliveryError, match=r"rejected the login \(535.*REPORTGEN_SMTP_PASSWORD") as caught:
        send_month(MONTH, out, settings_for(controller.port), now=NOW, ssl_context=client_tls, sleep=sleeps)
    assert "wrong" not in str(caught.value)
    assert sleeps == [] and collector.messages == []


def test_without_credentials_the_client_does_not_log_in(smtp_server, out, client_tls):
    controller, collector = smtp_server(authenticator=Authenticator(b"u", b"p"), auth_required=True)
    with pytest.raises(DeliveryError, match="530"):  # this server wants AUTH, and none is configured
        send_month(MONTH, out, settings_for(controller.port), now=NOW, ssl_context=client_tls, sleep=Sleeps())


def test_a_username_without_password_is_a_config_error(out, monkeypatch, no_connection):
    monkeypatch.setenv("REPORTGEN_SMTP_USER", "mailer")
    with pytest.raises(ConfigError, match=r"\$REPORTGEN_SMTP_USER is set but \$REPORTGEN_SMTP_PASSWORD is not"):
        send_month(MONTH, out, settings_for(25), now=NOW)


# --- the ledger ---------------------------------------------------------------------------------


def test_an_unconfirmed_send_is_not_repeated(out, no_connection):
    ledger = SendLedger(out / "history.duckdb")
    entry = LedgerEntry(MONTH, "executives", ("cfo@example.com",), "<x@example.com>", NOW, ("a.pdf",), "sending")
    assert ledger.claim(entry) is None
    assert ledger.already_sent(MONTH, "executives") and not ledger.already_sent(MONTH, "marketing")
    settings = settings_for(25, audiences=(Audience("executives", ("cfo@example.com",), ("pdf",)),))
    [result] = send_month(MONTH, out, settings, now=NOW)
    assert result.status == "unconfirmed" and "never confirmed" in result.detail  # the CLI exits 6 on it


def test_the_ledger_database_can_live_elsewhere(smtp_server, out, client_tls, tmp_path):
    controller, _collector = smtp_server()
    database = tmp_path / "db" / "history.duckdb"
    settings = replace(settings_for(controller.port), history=HistorySettings(database=database))
    send_month(MONTH, out, settings, now=NOW, ssl_context=client_tls, sleep=Sleeps())
    assert len(SendLedger(database).entries(MONTH)) == 2 and not (out / "history.duckdb").exists()


def test_a_ledger_held_by_another_process_is_reported_as_locked(out, no_connection):
    database = out / "history.duckdb"
    SendLedger(database).entries()  # nothing yet; does not create the file
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()", str(database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(LockedError, match="in use by another process"):
            SendLedger(database).already_sent(MONTH, "executives")
        with pytest.raises(LockedError):
            send_month(MONTH, out, settings_for(25), now=NOW)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()

