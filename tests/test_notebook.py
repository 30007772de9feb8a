"""Notebook use: DataFrames and pyarrow Tables as input, short views of the model and the result,
the labelled profile table, the example notebook run end to end, the command's small conveniences
(--version, format names in any case and comma lists) and an API that imports without POSIX-only
modules (Windows)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest
from conftest import ROOT, SAMPLE

from reportgen.api import analyse, build
from reportgen.errors import ConfigError, InputError


@pytest.fixture(scope="module")
def sample_df() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


@pytest.fixture(scope="module")
def from_path():
    return analyse(SAMPLE, month="2026-11")


@pytest.fixture(scope="module")
def from_frame(sample_df):
    return analyse(sample_df, month="2026-11")


def _segments(model):
    return [(s.name, s.customers) for s in model.segments]


def test_dataframe_and_table_segment_like_the_file(from_path, from_frame, sample_df):
    assert _segments(from_frame[1]) == _segments(from_path[1])
    assert from_frame[1].facts.input_name == "DataFrame"
    _result, model = analyse(pa.Table.from_pandas(sample_df), month="2026-11")
    assert _segments(model) == _segments(from_path[1])
    assert model.facts.input_name == "pyarrow Table"
    assert model.facts.input_sha256 == from_frame[1].facts.input_sha256  # the same contract columns


def test_dataframe_headers_are_mapped_like_a_files(sample_df, from_path):
    renamed = sample_df.rename(columns={"BALANCE": "balance", "CUST_ID": "Cust Id"})
    renamed.insert(0, "row", range(len(renamed)))  # an extra column is ignored, as in a file
    _result, model = analyse(renamed, month="2026-11")
    assert _segments(model) == _segments(from_path[1])
    assert model.quality.ignored_columns == ("row",)


def test_dataframe_mistakes_are_one_line_errors(sample_df):
    with pytest.raises(InputError, match=r"^DataFrame: missing required column BALANCE"):
        analyse(sample_df.drop(columns=["BALANCE"]))
    bad = sample_df.astype({"PURCHASES": object})
    bad.loc[[3, 7], "PURCHASES"] = "abc"
    with pytest.raises(InputError, match=r"^DataFrame: column PURCHASES: text where a number is expected in rows 3, 7$"):
        analyse(bad)
    with pytest.raises(InputError, match="no customer rows"):
        analyse(sample_df.iloc[:0])
    with pytest.raises(InputError, match="spark engine reads files"):
        analyse(sample_df, engine="spark")


def test_short_repr_and_html_view(from_frame):
    result, model = from_frame
    for obj in (model, result):
        text = repr(obj)
        assert len(text) < 600 and "\n" not in text
        assert all(f"'{s.name}' ({s.customers:,})" in text for s in model.segments)
        view = obj._repr_html_()
        assert len(view) < 20_000
        assert all(s.name in view for s in model.segments)
        chosen = model.facts.k
        assert f'<tr style="font-weight:bold"><td>{chosen} (chosen)</td>' in view
        assert view.count("(chosen)") == 1
        assert view.count("<tr><td>") + view.count('<tr style') == len(model.segments) + len(model.k_choice.rows)


def test_profile_table_is_labelled_and_agrees_with_the_model(from_frame):
    result, model = from_frame
    table = result.profile_table
    assert list(table.index) == [s.name for s in model.segments]
    assert list(table["segment"]) == [s.id for s in model.segments]
    assert list(table["customers"]) == [s.customers for s in model.segments]
    assert table["customers"].sum() == model.facts.customers
    assert table["share"].sum() == pytest.approx(1.0)
    for segment in model.segments:
        for row in segment.profile:
            assert table.loc[segment.name, row.feature] == pytest.approx(row.mean, rel=1e-5, abs=1e-6, nan_ok=True)


def test_build_takes_a_dataframe_and_any_case_formats(sample_df, tmp_path):
    outcome = build(sample_df, formats="HTML,Dashboard", out=tmp_path, month="2026-11")
    names = [p.name for p in outcome.files]
    assert names[:2] == ["segment-report-2026-11.html", "segment-dashboard-2026-11.html"]
    assert "DataFrame" in (tmp_path / "2026-11" / "segment-report-2026-11.html").read_text(encoding="utf-8")
    assert repr(outcome).startswith("Outcome(ReportModel(month=2026-11")
    with pytest.raises(ConfigError, match="unknown format 'docx'"):
        build(sample_df, formats=("pdf", "docx"), out=tmp_path)


def test_cli_version_and_format_lists(tmp_path):
    from reportgen import __version__

    def reportgen(*args):
        return subprocess.run([sys.executable, "-m", "reportgen", *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)

    version = reportgen("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"reportgen {__version__}"
    bad = reportgen("build", "--format", "PDF,docx", "--out", tmp_path / "out")
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith(
        "error: argument --format: unknown format 'docx'; valid formats: dashboard, html, pdf, pptx, xlsx, all")
    assert not (tmp_path / "out").exists()
    segment = reportgen("synth", "--customers", "300", "--seed", "1", "--out", tmp_path / "s", "--format", "CSV", "-q")
    assert segment.returncode == 0, segment.stderr


def test_the_api_imports_without_posix_only_modules():
    """As on Windows: fcntl, termios, resource and grp do not exist."""
    code = (
        "import sys, warnings, importlib, pkgutil\n"
        "for name in ('fcntl', 'termios', 'resource', 'grp'): sys.modules[name] = None\n"
        "warnings.simplefilter('error')\n"
        "warnings.filterwarnings('ignore', 'only soft file lock')  # filelock's POSIX fallback; Windows uses msvcrt\n"
        "import reportgen\n"
        "for info in pkgutil.walk_packages(reportgen.__path__, 'reportgen.'):\n"
        "    if info.name != 'reportgen.__main__': importlib.import_module(info.name)\n"
        "from reportgen.monthly.outputs import month_lock\n"
        "import tempfile\n"
        "with month_lock(tempfile.mkdtemp(), '2026-11'): print('locked')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "locked"


@pytest.mark.slow
def test_example_notebook_runs_and_shows_the_html_view():
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # before jupyter_core: its migration warning
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = ROOT / "examples" / "notebook.ipynb"
    stored = json.loads(path.read_text(encoding="utf-8"))
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    views = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any('class="reportgen-overview"' in view and "(chosen)" in view for view in views)
    # the stored outputs (what a reader sees on the web) are the ones the notebook makes
    printed = [o["text"] for o in outputs if o.output_type == "stream" and o["name"] == "stdout"]
    stored_printed = ["".join(o["text"]) for cell in stored["cells"] if cell["cell_type"] == "code"
                      for o in cell.get("outputs", []) if o.get("name") == "stdout"]
    assert printed == stored_printed, "re-run: jupyter-execute --inplace examples/notebook.ipynb"
