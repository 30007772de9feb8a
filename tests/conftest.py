"""Shared fixtures: the real customer file (when present), a small clean extract, CLI runner."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample.csv"


def real_data_path() -> Path | None:
    """The real file: $REPORTGEN_REAL_DATA, else ../shared/data/CC GENERAL.csv beside the repo."""
    env = os.environ.get("REPORTGEN_REAL_DATA")
    candidate = Path(env) if env else ROOT.parent / "shared" / "data" / "CC GENERAL.csv"
    return candidate if candidate.is_file() else None


@pytest.fixture(scope="session")
def real_data() -> Path:
    path = real_data_path()
    if path is None:
        pytest.skip("real file not found: set REPORTGEN_REAL_DATA or place ../shared/data/CC GENERAL.csv")
    return path


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    """The bundled sample as text cells, exactly as in the file."""
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)


@pytest.fixture
def small_csv(tmp_path, sample_frame):
    """Write the first ``n`` sample rows (optionally changed by ``edit``) to a CSV; return its path."""

    def make(n: int = 300, edit=None, name: str = "extract.csv", **to_csv) -> Path:
        frame = sample_frame.head(n).copy()
        if edit is not None:
            frame = edit(frame) if callable(edit) else frame
        path = tmp_path / name
        frame.to_csv(path, index=False, **to_csv)
        return path

    return make


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from reportgen.cli import main
    from reportgen.report import formatting

    style = dict(formatting._style)

    def run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    # A build prints its summary in the report's locale, set for the rest of its process (reportgen.cli); the
    # test session goes on in the default style
    formatting._style.update(style)
    # A build freezes the garbage collector (reportgen.cli: for its own short-lived process); undone here so
    # the test session is not left frozen (Hypothesis 6.100-6.112 then warns in register_random: an error here)
    gc.unfreeze()


@pytest.fixture(scope="session")
def lo_profile(tmp_path_factory) -> str:
    """One LibreOffice user profile (as a URI) for the session's soffice runs: the first run creates it
    (about a second), later runs reuse it. The runs are sequential within a process, and the folder is
    private to this test process, so they do not collide."""
    return (tmp_path_factory.mktemp("lo-profile") / "profile").as_uri()
