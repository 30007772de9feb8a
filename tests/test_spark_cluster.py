"""The Spark engine on a real standalone cluster: a master and two workers as separate processes
on 127.0.0.1, started with PySpark's bundled ``spark-class``, and ``reportgen build --engine spark
--spark-master spark://127.0.0.1:PORT`` run against them on the real file.

Opt-in (``python -m pytest -m spark_cluster``; ``.ci/run`` runs it after the main suite): starting
three JVMs takes a while and needs Java 17+. The driver runs in the CLI's process (client mode),
the executors on the two workers. Checks: the build succeeds, the application ran on both
workers, the assignments agree with the default engine's (adjusted Rand index >= 0.9) with the
same personas, and no process of the cluster is left once it is stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

pytestmark = [pytest.mark.spark_cluster, pytest.mark.slow]

STARTUP_SECONDS = 300  # three JVMs on a busy 2-core machine
BUILD_SECONDS = 1800
LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_home() -> Path:
    pyspark = pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'reportgen[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: Spark needs a JVM (17 or later)")
    return Path(pyspark.__file__).parent


class StandaloneCluster:
    """A Spark standalone master and workers, each its own process group (so an executor a worker
    forked is stopped with it)."""

    def __init__(self, home: Path, folder: Path, workers: int = 2):
        self.home, self.folder, self.workers = home, folder, workers
        self.port, self.ui_port = _free_port(), _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        conf = folder / "conf"
        conf.mkdir(parents=True)
        (conf / "log4j2.properties").write_text(LOG4J)
        self.env = {
            **os.environ, "SPARK_HOME": str(home), "SPARK_CONF_DIR": str(conf), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(folder / "logs"), "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_NO_DAEMONIZE": "1",
        }

    def start(self) -> None:
        self._launch("master", "org.apache.spark.deploy.master.Master",
                     "--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.ui_port))
        self._wait(lambda status: True, "the master's web UI")
        for i in range(self.workers):
            work = self.folder / f"worker{i}"
            work.mkdir()
            self._launch(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                         "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port()),
                         "--work-dir", str(work), self.url)
        self._wait(lambda status: status.get("aliveworkers", 0) >= self.workers, f"{self.workers} workers")

    def _launch(self, name: str, main_class: str, *args: str) -> None:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - the process holds it
        self.procs.append(subprocess.Popen(
            [str(self.home / "bin" / "spark-class"), main_class, *args], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        ))
        log.close()

    def status(self) -> dict:
        """The master's JSON status (workers, applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as response:
            return json.load(response)

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise AssertionError(f"a cluster process exited early:\n{self.logs()}")
            try:
                if ready(self.status()):
                    return
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError(f"{what} not up after {STARTUP_SECONDS}s:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.folder.glob("*.log"))

    def stop(self) -> None:
        """SIGTERM to each process group (workers first, then the master), SIGKILL if it lingers."""
        for proc in reversed(self.procs):
            _signal_group(proc, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
            _signal_group(proc, signal.SIGKILL)  # anything left in the group (an executor)

    def leftovers(self) -> list[str]:
        """Command lines of live processes that belong to this cluster (its folder or its port)."""
        marks = (str(self.folder), f"127.0.0.1:{self.port}")
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if any(m in cmdline for m in marks) or cwd.startswith(str(self.folder)):
                found.append(f"{entry.name}: {cmdline[:200]}")
        return found


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _assignments(targets: Path) -> dict[str, str]:
    """Customer id -> segment name, from a build's target lists (Parquet: exact ids and names)."""
    import pyarrow.parquet as pq

    out: dict[str, str] = {}
    for path in sorted(targets.glob("targets-*.parquet")):
        table = pq.read_table(path, columns=["CUST_ID", "persona"])
        out.update(zip(table.column("CUST_ID").to_pylist(), table.column("persona").to_pylist()))
    return out


def _start_build(real_data: Path, out: Path, *extra: str, env=None) -> subprocess.Popen:
    """``reportgen build`` started in its own process group (see :func:`_finish`). The format is
    the workbook: the target lists (what the checks read) are written for every format, and the
    workbook needs no chart or render lane, which would only compete with the cluster's JVMs."""
    args = [sys.executable, "-m", "reportgen", "build", "--data", str(real_data), "--out", str(out), "--k", "5",
            "--month", "2026-11", "--format", "xlsx", *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def _finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    """Wait for a build of :func:`_start_build`; its process group is killed whole (Spark's driver
    JVM) if it outlives the timeout."""
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=BUILD_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise AssertionError(f"build did not finish in {BUILD_SECONDS}s: {stderr[-3000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_build_on_a_standalone_cluster_agrees_with_the_default_engine(real_data, tmp_path):
    cluster = StandaloneCluster(_spark_home(), tmp_path / "cluster-home")
    # the default engine's build runs while the cluster's JVMs start (it needs nothing of them)
    default_build = _start_build(real_data, tmp_path / "default")
    try:
        cluster.start()
        assert len(cluster.leftovers()) >= 3  # the master and two workers, found as the stop check finds them
        default = _finish(default_build)
        started = time.monotonic()
        on_cluster = _finish(_start_build(real_data, tmp_path / "cluster", "--engine", "spark",
                                          "--spark-master", cluster.url, env=cluster.env))
        seconds = time.monotonic() - started
        assert on_cluster.returncode == 0, on_cluster.stderr[-3000:] + cluster.logs()
        print(f"build --engine spark on a standalone cluster (2 workers, 1 core each), real file: {seconds:.1f}s")
        status = cluster.status()
        executors = [list((cluster.folder / f"worker{i}").glob("app-*/*")) for i in range(cluster.workers)]
    finally:
        if default_build.poll() is None:  # the cluster failed to start: do not leave the build behind
            _signal_group(default_build, signal.SIGKILL)
            default_build.wait()
        cluster.stop()
    deadline = time.monotonic() + 15
    while cluster.leftovers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not cluster.leftovers(), "processes of the cluster are still running"

    # the application ran on the cluster, with an executor on each worker
    assert [a["name"] for a in status["completedapps"] + status["activeapps"]] == ["reportgen"]
    assert all(executors), f"a worker ran no executor: {executors}"

    assert default.returncode == 0, default.stderr[-3000:]
    spark_names = _assignments(tmp_path / "cluster" / "2026-11" / "targets")
    default_names = _assignments(tmp_path / "default" / "2026-11" / "targets")
    assert spark_names.keys() == default_names.keys() and len(spark_names) == 8950
    ids = sorted(default_names)
    ari = adjusted_rand_score([default_names[i] for i in ids], [spark_names[i] for i in ids])
    print(f"adjusted Rand index, standalone cluster vs default engine: {ari:.4f}")
    assert ari >= 0.9
    # the same personas, and each segment's customers mostly carry the same name on both engines
    assert set(spark_names.values()) == set(default_names.values())
    for name in set(default_names.values()):
        members = [i for i in ids if default_names[i] == name]
        same = np.mean([spark_names[i] == name for i in members])
        assert same >= 0.9, (name, same)
