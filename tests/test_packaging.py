"""The installed wheel carries the templates and data, and the CLI entry points work."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory):
    """Build the wheel (no network) and install it into a bare folder."""
    dist = tmp_path_factory.mktemp("dist")
    site = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", dist, ROOT], check=True)
    wheel = next(dist.glob("reportgen-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "reportgen/_bundled/data/sample.csv" in names
    assert "reportgen/_bundled/data/personas.toml" in names
    assert "reportgen/_bundled/templates/pptx/master.pptx" in names
    assert "reportgen/_bundled/templates/fonts/LiberationSans-Regular.ttf" in names
    assert "reportgen/_bundled/templates/fonts/LICENSE-OFL.txt" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), names
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    return site


def _run(args, cwd, site=None):
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_wheel_finds_bundled_files_outside_the_checkout(wheel_site, tmp_path):
    probe = _run(
        ["-c", "import reportgen, reportgen.resources as r; print(reportgen.__file__); "
               "print(r.bundled_path('data', 'sample.csv')); print(r.bundled_path('templates', 'pptx', 'master.pptx'))"],
        cwd=tmp_path, site=wheel_site,
    )
    assert probe.returncode == 0, probe.stderr
    module, sample, master = probe.stdout.split()
    assert module.startswith(str(wheel_site)) and sample.startswith(str(wheel_site))
    assert os.path.isfile(sample) and os.path.isfile(master)
    run = _run(["-m", "reportgen", "segment", "--out", "seg", "--k", "3", "-q"], cwd=tmp_path, site=wheel_site)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "seg" / "assignments.csv").is_file()


def test_python_dash_m_and_exit_codes(tmp_path):
    ok = _run(["-m", "reportgen", "--help"], cwd=tmp_path)
    assert ok.returncode == 0 and "segment" in ok.stdout and "build" in ok.stdout
    bad = _run(["-m", "reportgen", "segment", "--data", "nope.csv", "--out", "o"], cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "reportgen: error: nope.csv: no such file"
    assert not (tmp_path / "o").exists()
    usage = _run(["-m", "reportgen", "segment", "--k", "zero"], cwd=tmp_path)
    assert usage.returncode == 2 and "expected a whole number" in usage.stderr


def test_help_does_not_import_the_heavy_libraries(tmp_path):
    probe = _run(
        ["-c", "import sys, reportgen.cli; heavy = {'pandas', 'sklearn', 'jinja2', 'weasyprint', 'matplotlib'}; "
               "print(sorted(heavy & set(sys.modules)))"],
        cwd=tmp_path,
    )
    assert probe.stdout.strip() == "[]"
