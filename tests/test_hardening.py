"""Hostile and faulty input (issue 16): untrusted templates, bounded resources, clean failures,
at-most-once e-mail. Each test reproduces one defect as a user or an attacker would meet it,
through the command line (in-process ``reportgen.cli.main``, or a subprocess where the process
itself matters) or the public API."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reportgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample.csv"
#: Every exit code the README documents.
DOCUMENTED_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 130}


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (hidden files included) -> its bytes (None for folders)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The single stderr line of a failed run (no traceback, no log lines)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert lines[0].startswith("reportgen: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    """400 customers of the sample: enough for k = 3 and quick."""
    path = tmp_path_factory.mktemp("data") / "extract.csv"
    path.write_text("".join(SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[:401]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(extract, tmp_path_factory) -> Path:
    """An output root with 2026-01 built (HTML report and dashboard) and recorded; copy it to change it."""
    out = tmp_path_factory.mktemp("built") / "out"
    assert main([str(a) for a in build_args(extract, out, "--format", "html", "--format", "dashboard")]) == 0
    return out


def copy_of(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "out"))


def build_args(extract: Path, out: Path, *extra) -> list:
    return ["build", "--data", extract, "--out", out, "--month", "2026-01", "--k", "3", "-q", *extra]


# -- 1. templates ------------------------------------------------------------------------------


def report_override(folder: Path, body: str) -> Path:
    (folder / "report").mkdir(parents=True, exist_ok=True)
    (folder / "report" / "report.html").write_text(
        '{% extends "default/report/report.html" %}\n{% block title %}' + body + "{% endblock %}\n", encoding="utf-8"
    )
    return folder


def test_template_cannot_run_code(tmp_path, extract, capsys):
    templates = report_override(tmp_path / "t", "{{ lipsum.__globals__['os'].popen('id').read() }}")
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, *build_args(extract, out, "--format", "html", "--templates", templates))
    line = one_line_error(err)
    assert code == 3 and "report.html" in line and "unsafe" in line
    assert not any(b"uid=" in data for data in tree(out).values() if data)
    assert not (out / "2026-01").exists()


def test_template_may_not_change_objects(tmp_path, extract, capsys):
    templates = report_override(tmp_path / "t", "{% set seen = [] %}{{ seen.append(model.facts.title) }}")
    code, _out, err = run_cli(capsys, *build_args(extract, tmp_path / "out", "--format", "html", "--templates", templates))
    assert code == 3 and "unsafe" in one_line_error(err)


def test_template_symlink_out_of_folder_is_refused(tmp_path, extract, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE\n", encoding="utf-8")
    (tmp_path / "t" / "report").mkdir(parents=True)
    (tmp_path / "t" / "report" / "report.html").symlink_to(secret)
    out = tmp_path / "out"
    for fmt in ("html", "pdf"):
        code, _o, err = run_cli(capsys, *build_args(extract, out, "--format", fmt, "--templates", tmp_path / "t"))
        line = one_line_error(err)
        assert code == 3 and "out of the templates folder" in line
    assert not any(b"TOP-SECRET" in data for data in tree(out).values() if data)


@pytest.mark.parametrize("fmt, template", [
    ("html", "report/report.html"),
    ("dashboard", "dashboard/dashboard.html"),
])
def test_html_outputs_refuse_network_urls(tmp_path, extract, capsys, fmt, template):
    folder = tmp_path / "t" / Path(template).parent
    folder.mkdir(parents=True)
    (folder / Path(template).name).write_text(
        '{% extends "default/' + template + '" %}{% block title %}x{% endblock %}'
        '{% block head %}<link rel="stylesheet" href="http://127.0.0.1:9/x.css">{% endblock %}', encoding="utf-8"
    )
    if fmt == "dashboard":  # the dashboard's base has no head block: put the load in the title instead
        (folder / Path(template).name).write_text(
            '{% extends "default/' + template + '" %}'
            '{% block title %}x</title><link rel="stylesheet" href="http://127.0.0.1:9/x.css"><title>{% endblock %}',
            encoding="utf-8",
        )
    out = tmp_path / "out"
    code, _o, err = run_cli(capsys, *build_args(extract, out, "--format", fmt, "--templates", tmp_path / "t"))
    line = one_line_error(err)
    assert code == 5 and "http://127.0.0.1:9/x.css" in line
    assert not (out / "2026-01").exists()


def test_every_html_output_carries_a_content_security_policy(built):
    for name in ("segment-report-2026-01.html", "segment-dashboard-2026-01.html"):
        text = (built / "2026-01" / name).read_text(encoding="utf-8")
        head = text[text.index("<head>"): text.index("<head>") + 350]
        assert 'http-equiv="Content-Security-Policy"' in head and "default-src 'none'" in head, name


# -- 2. bounds on the config and the input ------------------------------------------------------

BAD_CONFIGS = [
    ("[segmentation]\nbootstrap = 1000000\n", "segmentation.bootstrap"),
    ("[segmentation]\nselection_sample = 100000000000\n", "segmentation.selection_sample"),
    ("[segmentation]\nk_min = \"3\"\n", "segmentation.k_min"),
    ("[input]\ndelimiter = \";;\"\n", "input.delimiter"),
    ("[input]\ncolumns = \"CUST_ID\"\n", "input.columns"),
    ("[personas]\nplaybook = 5\n", "personas.playbook"),
    ("[email]\nretries = \"x\"\n", "email.retries"),
    ("[email]\nretries = 100000\n", "email.retries"),
    ("[email]\nbackoff_seconds = -1\n", "email.backoff_seconds"),
    ("[email]\ntimeout = 0\n", "email.timeout"),
    ("[email]\nport = \"abc\"\n", "email.port"),
    ("[email]\nport = 70000\n", "email.port"),
    ("[email]\nmax_attachment_mb = nan\n", "email.max_attachment_mb"),
    ("[email.audiences.x]\nto = [\"cfo@\"]\nattach = [\"pdf\"]\n", "cfo@"),
    ("[email.audiences.x]\nto = [\"@\"]\nattach = [\"pdf\"]\n", "'@'"),
    ("[email.audiences.x]\nto = [\"Spy <spy@evil.example> cfo@example.com\"]\nattach = [\"pdf\"]\n", "spy@evil.example"),
    ("[email.audiences.x]\nto = [\"cfo@example.com, spy@evil.example\"]\nattach = [\"pdf\"]\n", "one address per entry"),
    ("[email.audiences.x]\nto = [\"cfo@example.com\"]\nattach = \"pdf\"\n", "attach"),
    ("[history]\ntrend_months = 1.5\n", "history.trend_months"),
]


@pytest.mark.parametrize("text, names", BAD_CONFIGS, ids=[n for _t, n in BAD_CONFIGS])
def test_config_mistakes_exit_3_naming_the_key(tmp_path, extract, capsys, text, names):
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code, _o, err = run_cli(capsys, *build_args(extract, out, "--config", config))
    line = one_line_error(err)
    assert code == 3 and names in line and str(config) in line
    assert tree(out) == {}


@pytest.mark.parametrize("weights", ["nan", "inf"])
def test_playbook_with_non_finite_weights_is_a_config_error(tmp_path, extract, capsys, weights):
    playbook = (ROOT / "data" / "personas.toml").read_text(encoding="utf-8")
    import re

    playbook = re.sub(r"(\n\w+\s*=\s*)(-?[0-9.]+)", lambda m: m.group(1) + weights, playbook, count=1)
    (tmp_path / "p.toml").write_text(playbook, encoding="utf-8")
    (tmp_path / "c.toml").write_text('[personas]\nplaybook = "p.toml"\n', encoding="utf-8")
    code, _o, err = run_cli(capsys, *build_args(extract, tmp_path / "out", "--config", tmp_path / "c.toml"))
    line = one_line_error(err)
    assert code == 3 and "p.toml" in line


def test_playbook_colour_must_be_a_colour(tmp_path, extract, capsys):
    import re

    playbook = (ROOT / "data" / "personas.toml").read_text(encoding="utf-8")
    playbook = re.sub(r'color\s*=\s*"[^"]*"', 'color = "red;background:url(http://x)"', playbook, count=1)
    (tmp_path / "p.toml").write_text(playbook, encoding="utf-8")
    (tmp_path / "c.toml").write_text('[personas]\nplaybook = "p.toml"\n', encoding="utf-8")
    code, _o, err = run_cli(capsys, *build_args(extract, tmp_path / "out", "--config", tmp_path / "c.toml"))
    line = one_line_error(err)
    assert code == 3 and "colo" in line and "p.toml" in line


def run_bounded(args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reportgen", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for data in ("/dev/zero", fifo):
        out = tmp_path / "out"
        started = time.monotonic()
        done = run_bounded(["segment", "--data", data, "--out", out], timeout=60)
        assert time.monotonic() - started < 30
        assert done.returncode == 2, done.stderr
        assert "not a regular file" in one_line_error(done.stderr)
        assert tree(out) == {}


@pytest.mark.parametrize("columns", [5_000, 2_000_000])
def test_a_header_with_too_many_columns_is_refused_at_once(tmp_path, capsys, columns):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(columns)) + "\n1\n", encoding="utf-8")
    out = tmp_path / "out"
    code, _o, err = run_cli(capsys, *["build", "--data", wide, "--out", out, "--month", "2026-01", "-q"])
    line = one_line_error(err)
    assert code == 2 and "columns" in line and str(wide) in line
    assert tree(out) == {}


def test_a_parquet_file_with_too_many_columns_is_refused(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    wide = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [1.0] for i in range(1_500)}), wide)
    out = tmp_path / "out"
    code, _o, err = run_cli(capsys, "build", "--data", wide, "--out", out, "--month", "2026-01", "-q")
    line = one_line_error(err)
    assert code == 2 and "1,500 columns" in line and str(wide) in line
    assert tree(out) == {}


def test_a_huge_header_line_is_refused(tmp_path, capsys):
    wide = tmp_path / "long.csv"
    wide.write_text("CUST_ID," + "x" * 3_000_000 + "\n1,2\n", encoding="utf-8")
    code, _o, err = run_cli(capsys, "segment", "--data", wide, "--out", tmp_path / "out")
    assert code == 2 and "header" in one_line_error(err)


# -- 3. e-mail at most once ------------------------------------------------------------------


class DroppingServer:
    """An SMTP server (STARTTLS) that reads the whole message after DATA, then drops the
    connection without answering: the client cannot know whether the message was accepted."""

    def __init__(self, cert: Path, key: Path):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.messages = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        try:
            stream = conn.makefile("rwb")
            reply = lambda text: (stream.write(text.encode() + b"\r\n"), stream.flush())  # noqa: E731
            reply("220 localhost ready")
            tls = False
            while True:
                line = stream.readline().strip().upper()
                if not line:
                    return
                if line.startswith((b"EHLO", b"HELO")):
                    reply("250 localhost" if tls else "250-localhost\r\n250 STARTTLS")
                elif line == b"STARTTLS":
                    reply("220 go ahead")
                    conn = self.context.wrap_socket(conn, server_side=True)
                    stream, tls = conn.makefile("rwb"), True
                elif line == b"DATA":
                    reply("354 end with .")
                    while stream.readline() not in (b".\r\n", b""):
                        pass
                    self.messages += 1
                    conn.close()
                    return
                elif line == b"QUIT":
                    reply("221 bye")
                    return
                else:
                    reply("250 ok")
        except OSError:
            return

    def close(self):
        self.sock.close()


@pytest.fixture
def dropping_server(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    server = DroppingServer(cert, key)
    yield server, ssl.create_default_context(cafile=str(cert))
    server.close()


def test_a_message_whose_delivery_is_unconfirmed_is_never_sent_again(tmp_path, built, dropping_server):
    from reportgen.config import load_settings
    from reportgen.errors import DeliveryError
    from reportgen.monthly.ledger import SendLedger
    from reportgen.monthly.mail import send_month

    server, context = dropping_server
    out = copy_of(built, tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[email]\nhost = "127.0.0.1"\nport = {server.port}\nsender = "reports@example.com"\nretries = 3\n'
        'backoff_seconds = 0.01\ntimeout = 5\n[email.audiences.executives]\nto = ["cfo@example.com"]\n'
        'attach = ["html"]\n', encoding="utf-8",
    )
    settings = load_settings(config)
    now = datetime(2026, 2, 1, tzinfo=timezone.utc)
    with pytest.raises(DeliveryError) as failure:
        send_month("2026-01", out, settings, ssl_context=context, now=now)
    assert "--resend" in str(failure.value) and "check" in str(failure.value)
    assert server.messages == 1, "the unconfirmed message was retried"
    [again] = send_month("2026-01", out, settings, ssl_context=context, now=now)
    assert again.status == "unconfirmed" and "--resend" in again.detail
    assert server.messages == 1, "a rerun sent it again"
    [entry] = SendLedger(out / "history.duckdb").entries("2026-01")
    assert entry.status == "uncertain"


def test_send_exits_non_zero_when_an_audience_was_not_sent(tmp_path, built, capsys):
    from reportgen.monthly.ledger import LedgerEntry, SendLedger

    out = copy_of(built, tmp_path)
    SendLedger(out / "history.duckdb").claim(
        LedgerEntry("2026-01", "executives", ("cfo@example.com",), "<m@x>", datetime(2026, 2, 1), ("x.html",))
    )
    config = tmp_path / "c.toml"
    config.write_text('[email]\nhost = "127.0.0.1"\nport = 9\nsender = "reports@example.com"\n'
                      '[email.audiences.executives]\nto = ["cfo@example.com"]\nattach = ["html"]\n', encoding="utf-8")
    code, stdout, err = run_cli(capsys, "send", "--month", "2026-01", "--config", config, "--out", out)
    assert code == 6 and "--resend" in stdout + err


def test_recipients_with_display_names_are_accepted(tmp_path):
    from reportgen.config import load_settings

    config = tmp_path / "c.toml"
    config.write_text('[email.audiences.x]\nto = ["Chief Financial Officer <cfo@example.com>", "cmo@example.com"]\n'
                      'attach = ["pdf"]\n', encoding="utf-8")
    [audience] = load_settings(config).email.audiences
    assert audience.to == ("Chief Financial Officer <cfo@example.com>", "cmo@example.com")


# -- 4. workers die with their parent ---------------------------------------------------------


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_a_build_leaves_no_process_and_no_open_pipe(tmp_path, extract, sig):
    out = tmp_path / "out"
    proc = subprocess.Popen(  # the whole sample (4,000 customers): the build runs long enough to be killed
        [sys.executable, "-m", "reportgen", "build", "--data", SAMPLE, "--out", out, "--format", "all"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=ROOT,
    )
    deadline, seen = time.monotonic() + 60, 0
    while seen < 3 and time.monotonic() < deadline:  # the build and both render lanes
        seen = max(seen, len(group_members(proc.pid)))
        time.sleep(0.02)
    os.kill(proc.pid, sig)
    assert seen >= 3, "the build never started its render workers"
    proc.communicate(timeout=20)  # EOF on both pipes: no worker holds them
    deadline = time.monotonic() + 10
    while group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(proc.pid) == []


# -- 5. history and files commit together -----------------------------------------------------


def test_a_history_failure_leaves_the_previous_deliverables_and_no_month(tmp_path, extract, built, capsys):
    out = copy_of(built, tmp_path)
    before = tree(out / "2026-01")
    config = tmp_path / "c.toml"
    config.write_text('[history]\ndatabase = "/proc/no-such-folder/history.duckdb"\n', encoding="utf-8")
    code, _o, err = run_cli(capsys, *build_args(extract, out, "--format", "html", "--format", "pdf",
                                                 "--config", config))
    line = one_line_error(err)
    assert code == 8 and "history" in line
    assert tree(out / "2026-01") == before
    assert not any(name.startswith(".") for name in os.listdir(out)), "a lock or temporary file was left"


def failing_in_the_pdf_lane(folder: Path) -> Path:
    """Templates that pass the checks made before the analysis and fail in WeasyPrint."""
    (folder / "report" / "partials").mkdir(parents=True)
    (folder / "report" / "partials" / "cover.html").write_text(
        '<header id="cover"><img src="reportgen-chart:nope" alt="x"></header>', encoding="utf-8"
    )
    return folder


def test_a_pdf_failing_in_its_lane_after_the_records_are_written_leaves_no_month(tmp_path, extract, built, capsys):
    """The month's records go into their transaction while the lanes render: a PDF that fails in
    its lane must roll them back (history and files both without the month, or both with it)."""
    import duckdb

    out = copy_of(built, tmp_path)
    before = tree(out / "2026-01")
    args = ["build", "--data", extract, "--out", out, "--month", "2026-02", "--k", "3", "-q",
            "--format", "pdf", "--templates", failing_in_the_pdf_lane(tmp_path / "t")]
    code, _o, err = run_cli(capsys, *args)
    line = one_line_error(err)
    assert code == 5 and "reportgen-chart:nope" in line
    assert not (out / "2026-02").exists()
    assert tree(out / "2026-01") == before
    with duckdb.connect(str(out / "history.duckdb"), read_only=True) as con:
        assert con.execute("SELECT DISTINCT month FROM runs ORDER BY month").fetchall() == [("2026-01",)]
        assert con.execute("SELECT DISTINCT month FROM assignments").fetchall() == [("2026-01",)]
    assert not any(name.startswith(".") for name in os.listdir(out)), "a lock or temporary file was left"


def test_a_first_build_whose_pdf_fails_in_its_lane_leaves_no_output_folder(tmp_path, extract, capsys):
    """The history database the failed build created (its schema only) goes too."""
    out = tmp_path / "out"
    code, _o, err = run_cli(capsys, *build_args(extract, out, "--format", "pdf", "--format", "html",
                                                 "--templates", failing_in_the_pdf_lane(tmp_path / "t")))
    assert code == 5 and "reportgen-chart:nope" in one_line_error(err)
    assert not out.exists()


def test_an_unused_history_database_is_discarded_and_a_used_one_kept(tmp_path, built):
    from reportgen.monthly.history import connect, discard_unused

    empty = tmp_path / "empty.duckdb"
    with connect(empty):
        pass
    discard_unused(empty)
    assert list(tmp_path.iterdir()) == []
    used = copy_of(built, tmp_path) / "history.duckdb"
    before = used.read_bytes()
    discard_unused(used)
    assert used.read_bytes() == before


# -- 6. messages and exit codes ---------------------------------------------------------------


def amounts(extract: Path, tmp_path: Path, value: str) -> Path:
    lines = extract.read_text(encoding="utf-8").splitlines()
    cells = lines[5].split(",")
    cells[1] = value  # BALANCE of spreadsheet row 6
    lines[5] = ",".join(cells)
    path = tmp_path / "amounts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["3.0e38", "3.5e38", "1e39"])
def test_amounts_beyond_float32_are_too_large(tmp_path, extract, capsys, value):
    code, _o, err = run_cli(capsys, "segment", "--data", amounts(extract, tmp_path, value), "--out", tmp_path / "o")
    line = one_line_error(err)
    assert code == 2 and "too large" in line and "BALANCE" in line and "6" in line


def test_the_literal_nan_is_not_called_empty(tmp_path, extract, capsys):
    code, _o, err = run_cli(capsys, "segment", "--data", amounts(extract, tmp_path, "NaN"), "--out", tmp_path / "o")
    line = one_line_error(err)
    assert code == 2 and "NaN" in line and "BALANCE" in line


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_files_are_read(tmp_path, extract, capsys, encoding):
    path = tmp_path / f"{encoding}.csv"
    path.write_text(extract.read_text(encoding="utf-8"), encoding=encoding)
    code, out, err = run_cli(capsys, "segment", "--data", path, "--out", tmp_path / "o", "--k", "3")
    assert code == 0, err
    assert "400 customers" in out or "segment 1" in out


def test_a_symlink_loop_is_named(tmp_path, capsys):
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    code, _o, err = run_cli(capsys, "segment", "--data", tmp_path / "a.csv", "--out", tmp_path / "o")
    line = one_line_error(err)
    assert code == 2 and "link" in line and "no such file" not in line.lower()


def test_out_naming_a_file_is_one_clear_line(tmp_path, extract, capsys):
    target = tmp_path / "afile"
    target.write_text("x", encoding="utf-8")
    code, _o, err = run_cli(capsys, *build_args(extract, target))
    line = one_line_error(err)
    assert code == 2 and "--out" in line and "not a folder" in line and "lock" not in line
    assert target.read_text(encoding="utf-8") == "x"


def test_a_rejected_input_leaves_out_exactly_as_it_was(tmp_path, built, capsys):
    out = copy_of(built, tmp_path)
    before = tree(out)
    bad = tmp_path / "bad.csv"
    bad.write_text("CUST_ID,BALANCE\nC1,1\n", encoding="utf-8")
    code, _o, err = run_cli(capsys, *build_args(bad, out, "--format", "html"))
    assert code == 2
    one_line_error(err)
    assert tree(out) == before
    fresh = tmp_path / "fresh"
    assert run_cli(capsys, *build_args(bad, fresh))[0] == 2
    assert not fresh.exists()


def test_a_finished_build_leaves_no_lock_or_temporary_file(built):
    assert [p.name for p in built.rglob(".*")] == []


def test_a_render_failure_leaves_no_empty_month_folder(tmp_path, extract, capsys):
    templates = report_override(tmp_path / "t", "{{ no_such_name }}")
    out = tmp_path / "out"
    code, _o, err = run_cli(capsys, *build_args(extract, out, "--format", "html", "--templates", templates))
    assert code == 3
    one_line_error(err)
    assert not out.exists()


def test_quiet_prints_nothing_but_errors(tmp_path, extract, capsys):
    code, out, err = run_cli(capsys, *build_args(extract, tmp_path / "out", "--format", "html"))
    assert code == 0 and out == "" and err == ""


def test_exit_codes_are_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| exit code |"):]
    table = table[: table.index("\n\n")]
    for code in DOCUMENTED_CODES:
        assert f"| `{code}` |" in table, code


def test_a_full_disk_leaves_no_partial_file(tmp_path):
    from reportgen.errors import OutputError
    from reportgen.monthly.outputs import write_set

    folder = tmp_path / "month"
    folder.mkdir()
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))  # writes past 1 KiB fail with EFBIG, as on a full disk
    try:
        with pytest.raises(OutputError, match="cannot write output"):
            write_set(folder, {"a.csv": b"x" * 10, "b.pdf": b"y" * 100_000})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert list(folder.iterdir()) == []


def test_undoing_a_commit_puts_the_previous_files_back(tmp_path):
    """What a build does when the history commit fails after its files reached their names."""
    from reportgen.monthly.outputs import StagedFiles, write_set

    write_set(tmp_path, {"report.pdf": b"old"})
    with StagedFiles() as staged:
        staged.add(tmp_path, {"report.pdf": b"new", "report.html": b"new"})
        staged.commit()
        assert (tmp_path / "report.pdf").read_bytes() == b"new"
        staged.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"report.pdf": b"old"}


@pytest.mark.parametrize("writer", ["csv", "parquet"])
def test_a_full_disk_while_a_list_is_written_in_place_leaves_nothing(tmp_path, writer):
    """Target lists are written by polars and pyarrow straight into reserved temporary files: a
    full disk is a one-line OutputError, and no temporary or final file stays behind."""
    import resource

    import pyarrow as pa

    from reportgen.errors import OutputError
    from reportgen.monthly.outputs import StagedFiles
    from reportgen.monthly.targets import write_target_csv

    folder = tmp_path / "targets"
    table = pa.table({"CUST_ID": [f"C{i}" for i in range(20_000)], "BALANCE": [float(i) for i in range(20_000)]})
    write = {"csv": lambda path: write_target_csv(table, path), "parquet": lambda path: _write_parquet_plain(table, path)}
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    with StagedFiles() as staged:
        path = staged.reserve(folder, f"targets-x.{writer}")
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))  # writes past 1 KiB fail with EFBIG, as on a full disk
        try:
            with pytest.raises(OutputError, match="cannot write output"):
                staged.fill(path, write[writer])
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_failed_flush_stops_the_commit_and_leaves_nothing(tmp_path, monkeypatch):
    """Files are flushed to the disk on a background thread; a flush that fails (an I/O error)
    is the one-line OutputError at the commit, before any file takes its final name, and no
    temporary file stays behind; the previous deliverables are untouched."""
    import errno

    from reportgen.errors import OutputError
    from reportgen.monthly import outputs

    outputs.write_set(tmp_path, {"report.pdf": b"old"})
    real_fsync = os.fsync
    flushed = []

    def failing_fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp") and ".list.csv." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EIO, "Input/output error")
        flushed.append(fd)
        return real_fsync(fd)

    monkeypatch.setattr(outputs.os, "fsync", failing_fsync)
    with pytest.raises(OutputError, match=r"cannot write output \(Input/output error\)"):
        with outputs.StagedFiles() as staged:
            staged.add(tmp_path, {"report.pdf": b"new"})
            path = staged.reserve(tmp_path / "targets", "list.csv")
            staged.fill(path, lambda target: Path(target).write_bytes(b"id\n1\n"))
            staged.commit()
    assert flushed, "the other files were flushed"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["report.pdf"]
    assert (tmp_path / "report.pdf").read_bytes() == b"old"


def _write_parquet_plain(table, path):
    import pyarrow.parquet as pq  # as the segment lists' Parquet files are written: pyarrow, to a path

    pq.write_table(table, path)


def test_a_spark_session_started_early_is_taken_once_and_its_failure_raised_when_needed(monkeypatch):
    """`build --engine spark` starts the JVM on a thread before it imports pandas and scikit-learn
    (4 s off a 1M build here); the engine takes that session (and stops it, as its own), and a
    session that could not start is the usual one-line ConfigError at the moment it is needed."""
    from reportgen.errors import ConfigError
    from reportgen.segmentation.engines import spark_session

    started = []
    monkeypatch.setattr(spark_session, "start_session", lambda master=None: started.append(master) or f"on {master}")
    spark_session.start_early("local[1]")
    spark_session.start_early("local[1]")  # once per master
    assert spark_session._session(None, "local[1]") == ("on local[1]", True) and started == ["local[1]"]

    def cannot_start(master=None):
        raise ConfigError(f"Spark could not start on {master}")

    monkeypatch.setattr(spark_session, "start_session", cannot_start)
    spark_session.start_early("spark://nowhere:7077")
    with pytest.raises(ConfigError, match="could not start on spark://nowhere:7077"):
        spark_session._session(None, "spark://nowhere:7077")
    assert spark_session._EARLY == {}
