"""Reading customers from PostgreSQL: a real server started on loopback for the session.

The server runs from Debian's ``postgresql`` package (``.ci/run`` installs it) as an unprivileged
user in a temporary folder, on a free port, with password authentication over TCP; the tests
skip with the reason when the server binaries or the ADBC driver are missing on this machine.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from reportgen.config import InputSettings
from reportgen.data.database import load_database
from reportgen.data.sources import load_source
from reportgen.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample.csv"
PASSWORD = "not-a-real-secret-7f3a"
USER = "reportgen"


def _server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    initdb = found[-1] if found else shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on 127.0.0.1; yields the URL of its ``bank`` database (no password)."""
    pytest.importorskip("adbc_driver_postgresql", reason="the ADBC driver is not installed: pip install -e '.[test]'")
    bindir = _server_binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; .ci/run installs Debian's postgresql")
    folder = Path(tempfile.mkdtemp(prefix="reportgen-pg-"))
    run_as = {}
    if os.geteuid() == 0:  # the server refuses to run as root
        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
        run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    (folder / "pw").write_text(PASSWORD)
    if run_as:
        os.chown(folder / "pw", run_as["user"], run_as["group"])
    port = _free_port()
    data = folder / "data"

    def run(*args):
        subprocess.run(args, check=True, capture_output=True, cwd=folder, **run_as)

    run(str(bindir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(folder / "pw"), "-E", "UTF8",
        "--locale", "C", "--auth-local", "trust", "--auth-host", "scram-sha-256")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "60", "start",
        "-o", f"-p {port} -h 127.0.0.1 -k {folder} -F")
    try:
        run(str(bindir / "createdb"), "-h", str(folder), "-p", str(port), "-U", USER, "bank")
        yield f"postgresql://{USER}@127.0.0.1:{port}/bank"
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       cwd=folder, **run_as)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)


def _ingest(url: str, name: str, table: pa.Table) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(url + f"?password={PASSWORD}") as conn, conn.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{name}"')
        cur.adbc_ingest(name, table, mode="create")
        conn.commit()


def _sql(url: str, *statements: str) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(url + f"?password={PASSWORD}") as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
        conn.commit()


def _lower(table: pa.Table) -> pa.Table:
    return table.rename_columns([c.lower() for c in table.column_names])


@pytest.fixture(scope="session")
def sample_table(postgres):
    """The bundled sample as table ``customers`` (lower-case column names, as SQL makes them)."""
    _ingest(postgres, "customers", _lower(pacsv.read_csv(SAMPLE)))
    return "customers"


@pytest.fixture
def cli_run(cli, monkeypatch):
    """Run the CLI in-process (these tests are about messages and files, not the process) with
    PGPASSWORD unset unless ``env_extra`` sets it; returns a CompletedProcess."""

    def run(*args, env_extra=None):
        with monkeypatch.context() as env:
            env.delenv("PGPASSWORD", raising=False)
            for name, value in (env_extra or {}).items():
                env.setenv(name, value)
            code, out, err = cli(*args)
        return subprocess.CompletedProcess(args, code, out, err)

    return run


# --- what fails before any connection ----------------------------------------------------------


def test_password_in_the_url_is_refused_and_never_shown():
    with pytest.raises(InputError) as caught:
        load_source(f"postgresql://ana:{PASSWORD}@db.example:5432/bank", InputSettings(table="customers"))
    assert PASSWORD not in str(caught.value)
    assert "postgresql://ana:***@db.example:5432/bank" in str(caught.value)
    assert "PGPASSWORD" in str(caught.value) and "password_env" in str(caught.value)


def test_database_url_needs_a_table_or_a_query():
    with pytest.raises(ConfigError, match="needs a table or a query"):
        load_source("postgresql://ana@db.example/bank", InputSettings())
    with pytest.raises(ConfigError, match="not both"):
        load_source("postgresql://ana@db.example/bank", InputSettings(table="a", query="select 1"))


@pytest.mark.parametrize("url", ["s3://bank/cards/x.parquet", "gs://bank/x.csv", "abfss://c@acct.dfs.core.windows.net/x.csv"])
def test_object_store_urls_name_the_spark_engine(url):
    with pytest.raises(InputError) as caught:
        load_source(url, InputSettings())
    message = str(caught.value)
    assert message.startswith(url + ":") and "--engine spark" in message and "\n" not in message


def test_object_store_url_on_the_command_line(tmp_path, cli_run):
    out = cli_run("segment", "--data", "s3://bank/x.parquet", "--out", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "reportgen: error: s3://bank/x.parquet: s3:// URLs are read by the Spark engine: add --engine spark "
        "(pip install 'reportgen[spark]'), or copy the file to a local path"
    )


def test_a_password_in_the_config_is_refused(tmp_path, cli_run):
    config = tmp_path / "c.toml"
    config.write_text('[input]\ntable = "customers"\npassword = "hunter2"\n')
    out = cli_run("segment", "--data", "postgresql://ana@127.0.0.1:1/bank", "--config", str(config), "--out", str(tmp_path))
    assert out.returncode == 3
    assert "password_env" in out.stderr and "hunter2" not in out.stderr and "Traceback" not in out.stderr


def test_table_without_a_database_url_is_an_error(tmp_path, cli_run):
    out = cli_run("segment", "--data", str(SAMPLE), "--table", "customers", "--out", str(tmp_path))
    assert out.returncode == 2 and "--table and --query need --data with a database URL" in out.stderr


# --- against the server -----------------------------------------------------------------------


def test_table_reads_the_same_customers_as_the_file(postgres, sample_table, password):
    extract = load_database(postgres, InputSettings(table=sample_table))
    expected = pd.read_csv(SAMPLE)
    assert len(extract.frame) == len(expected) and extract.first_row == 1
    assert list(extract.frame["CUST_ID"]) == list(expected["CUST_ID"])
    for column in ("BALANCE", "TENURE", "MINIMUM_PAYMENTS"):
        assert extract.frame[column].dtype == "float32"
        pd.testing.assert_series_equal(extract.frame[column], expected[column].astype("float32"), check_names=False)
    assert extract.file_format == "postgresql table" and extract.path.name == "customers"
    assert str(extract.path) == f"{postgres}, table customers"
    assert extract.renamed["balance"] == "BALANCE"  # lower-case SQL names mapped like a file's header
    again = load_database(postgres, InputSettings(query=f"SELECT * FROM {sample_table}"))
    assert again.sha256 == extract.sha256  # the fingerprint of the rows, not of how they were asked for


def test_segment_from_a_table_matches_the_file(postgres, sample_table, password, tmp_path, cli_run):
    from_file = cli_run("segment", "--data", str(SAMPLE), "--out", str(tmp_path / "file"), "-q")
    assert from_file.returncode == 0, from_file.stderr
    from_db = cli_run("segment", "--data", postgres, "--table", sample_table, "--out", str(tmp_path / "db"), "-q",
                   env_extra={"PGPASSWORD": PASSWORD})
    assert from_db.returncode == 0, from_db.stderr
    for name in ("assignments.csv", "profiles.csv", "k_selection.csv"):
        assert (tmp_path / "db" / name).read_bytes() == (tmp_path / "file" / name).read_bytes(), name


@pytest.mark.slow
def test_build_from_a_table(postgres, sample_table, tmp_path, cli_run):
    config = tmp_path / "warehouse.toml"
    config.write_text(f'[input]\ntable = "{sample_table}"\npassword_env = "WAREHOUSE_PASSWORD"\n')
    out = cli_run("build", "--data", postgres, "--config", str(config), "--out", str(tmp_path / "out"),
               "--month", "2026-11", env_extra={"WAREHOUSE_PASSWORD": PASSWORD})
    assert out.returncode == 0, out.stderr
    pdf = tmp_path / "out" / "2026-11" / "segment-report-2026-11.pdf"
    assert pdf.stat().st_size > 50_000
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "customers (postgresql table)" in text or "postgresql table" in text
    assert PASSWORD not in out.stdout + out.stderr
    assert len(list((tmp_path / "out" / "2026-11" / "targets").glob("targets-*.csv"))) >= 3


def test_query_with_mapping_numeric_types_and_row_numbers(postgres, password, tmp_path, cli_run):
    table = pacsv.read_csv(SAMPLE)
    _ingest(postgres, "cards", _lower(table).append_column("position", pa.array(range(table.num_rows))))
    _sql(postgres, "ALTER TABLE cards ALTER COLUMN balance TYPE numeric(14, 2)")  # arrives as text: parsed
    columns = ", ".join(c.lower() for c in table.column_names if c != "CUST_ID")
    query = f"SELECT cust_id AS customer_number, {columns} FROM cards ORDER BY position;"
    settings = InputSettings(query=query, columns={"CUST_ID": "customer_number"})
    extract = load_database(postgres, settings)
    assert extract.renamed["customer_number"] == "CUST_ID" and extract.path.name == "query"
    assert extract.frame["BALANCE"].dtype == "float32"
    assert abs(float(extract.frame["BALANCE"].iloc[0]) - round(float(table["BALANCE"][0].as_py()), 2)) < 0.01

    _sql(postgres, "UPDATE cards SET purchases = -5 WHERE position IN (2, 6)")
    config = tmp_path / "q.toml"
    config.write_text(f'[input]\nquery = """{query}"""\n\n[input.columns]\nCUST_ID = "customer_number"\n')
    out = cli_run("segment", "--data", postgres, "--config", str(config), "--out", str(tmp_path / "o"),
               env_extra={"PGPASSWORD": PASSWORD})
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"reportgen: error: {postgres}, query: column PURCHASES: negative value (amounts and counts must be >= 0) "
        "in rows 3, 7"
    )


def test_server_errors_are_one_line_without_secrets(postgres, sample_table, tmp_path, cli_run):
    missing = cli_run("segment", "--data", postgres, "--table", "no_such_table", "--out", str(tmp_path),
                   env_extra={"PGPASSWORD": PASSWORD})
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f'reportgen: error: {postgres}, table no_such_table: relation "no_such_table" does not exist'
    )
    wrong = cli_run("segment", "--data", postgres, "--table", sample_table, "--out", str(tmp_path),
                 env_extra={"PGPASSWORD": "wrong-password"})
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == (
        f'reportgen: error: {postgres}: cannot connect (password authentication failed for user "{USER}")'
    )
    assert "wrong-password" not in wrong.stderr
    unset = tmp_path / "u.toml"
    unset.write_text(f'[input]\ntable = "{sample_table}"\npassword_env = "REPORTGEN_TEST_UNSET_VARIABLE"\n')
    out = cli_run("segment", "--data", postgres, "--config", str(unset), "--out", str(tmp_path))
    assert out.returncode == 3 and "REPORTGEN_TEST_UNSET_VARIABLE, which is not set" in out.stderr


def test_empty_result_and_spark_engine_are_refused(postgres, sample_table, password):
    with pytest.raises(InputError, match=r", query: returned no customer rows$"):
        load_database(postgres, InputSettings(query=f"SELECT * FROM {sample_table} WHERE false"))
    from reportgen.config import load_settings
    from reportgen.segmentation.pipeline import run_segmentation

    with pytest.raises(InputError, match="database URLs are read by the default engine; drop --engine spark"):
        run_segmentation(postgres, load_settings(table=sample_table), engine="spark")
