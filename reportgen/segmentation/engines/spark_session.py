"""The Spark session reportgen runs on: quiet, with Arrow transfers, started here or taken from
the caller (a notebook's, Databricks'), and startable early (:func:`start_early`).

Kept apart from the engine so that the CLI can start the JVM before it imports pandas and
scikit-learn (about 1.7 s): this module imports neither; PySpark is imported on the thread that
starts the session.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from reportgen.errors import ConfigError

LOCAL_MASTER = "local[2]"
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yyyy-MM-dd'T'HH:mm:ss} spark %p %c{1}: %m%n%ex
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""

_EARLY: dict[str | None, Future] = {}  # master -> the session being started ahead of the pipeline


def start_early(master: str | None = None) -> None:
    """Start the session for ``master`` on a thread now: the JVM boots while the caller imports
    the analysis libraries, and the engine takes the session (or the error) when it needs one.

    Fork any worker process before calling this. The thread imports PySpark, and a process
    forked while it imports gets that module's import lock held by a thread it does not have:
    a render lane importing the same module waits for ever (the standalone-cluster test caught
    a build whose PDF lane hung in matplotlib's import of ``importlib.resources``). The CLI forks
    both render lanes first."""
    if master not in _EARLY:
        starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark-start")
        _EARLY[master] = starter.submit(_quietly_started, master)
        starter.shutdown(wait=False)


def _quietly_started(master: str | None):
    with quiet_pyspark():
        return start_session(master)


# --- session --------------------------------------------------------------------------------------


def _session(spark, master: str | None):
    """(session, started here): the given one, else the active one (a notebook's, Databricks'),
    else a new one. Only a session started here is stopped at the end."""
    if spark is not None:
        return spark, False
    if master in _EARLY:  # started ahead (the CLI): ours, stopped at the end; a failure is raised here
        return _EARLY.pop(master).result(), True
    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
    except ImportError:
        active = None
    if active is not None and master is None:
        return active, False
    return start_session(master), True


#: Whole-stage code generation up to this many fields per operator (Spark's default: 100).
CODEGEN_MAX_FIELDS = 1000


def start_session(master: str | None = None):
    """A SparkSession for reportgen: quiet (errors only, no progress bars), Arrow transfers.

    In local mode (the default, ``local[2]``) the UI is off and shuffles use few partitions."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine needs PySpark: pip install 'reportgen[spark]' (and Java 17 or later)"
        ) from None

    master = master or os.environ.get("SPARK_MASTER") or (None if _master_configured() else LOCAL_MASTER)
    builder = SparkSession.builder.appName("reportgen")
    if master:
        builder = builder.master(master)
    builder = (
        builder.config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_log4j_file()}")
        # The validation pass aggregates about 130 columns at once: above
        # spark.sql.codegen.maxFields (100) Spark drops whole-stage code generation and
        # evaluates every expression row by row (1M customers: 3.8 s against 5.4 for validation).
        .config("spark.sql.codegen.maxFields", str(CODEGEN_MAX_FIELDS))
    )
    if master and master.startswith("local"):
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", os.environ.get("REPORTGEN_SPARK_DRIVER_MEMORY", "4g"))
        )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no JVM, an unreachable master, a bad configuration: PySpark raises many types
        where = master or "the master in the Spark configuration"
        raise ConfigError(
            f"Spark could not start on {where} ({exc.__class__.__name__}); it needs Java 17 or later "
            "(java on PATH or JAVA_HOME) and a reachable master"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _master_configured() -> bool:
    """True when spark-submit or spark-defaults.conf already says which cluster to use."""
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # started by spark-submit, which knows its --master
        return True
    home = os.environ.get("SPARK_HOME")
    for folder in (os.environ.get("SPARK_CONF_DIR"), home and Path(home) / "conf"):
        defaults = Path(folder) / "spark-defaults.conf" if folder else None
        if defaults is not None and defaults.is_file():
            for line in defaults.read_text(errors="replace").splitlines():
                if line.split(None, 1)[:1] == ["spark.master"]:
                    return True
    return False


def _log4j_file() -> Path:
    path = Path(tempfile.gettempdir()) / "reportgen-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        path.write_text(_LOG4J)
    return path


@contextmanager
def quiet_pyspark():
    """PySpark warns that it does not fully support pandas 3; what we use of it works."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


