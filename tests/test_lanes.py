"""The render lanes' priorities: work drawn during the analysis yields the cores without slowing
the lane that renders the PDF afterwards."""

from __future__ import annotations

import json
import os
import sys

import pytest

from reportgen.render.pool import BACKGROUND_NICENESS, RenderPool, _call_yielding

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness per thread is Linux's")


def test_a_yielding_call_runs_lower_and_leaves_its_caller_as_it_was():
    before = os.getpriority(os.PRIO_PROCESS, 0)  # 0: this thread, on Linux
    inside = _call_yielding("os", "getpriority", os.PRIO_PROCESS, 0)
    assert inside == max(before, BACKGROUND_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before
    with pytest.raises(ZeroDivisionError):
        _call_yielding("operator", "truediv", 1, 0)


def test_the_pdf_lane_keeps_its_priority_after_drawing_at_a_lower_one():
    with RenderPool(workers=2, start=False) as pool:
        pool.start("pdf")
        own = pool.submit("pdf", "os", "getpriority", os.PRIO_PROCESS, 0).result(timeout=120)
        drawn = pool.submit("pdf", "os", "getpriority", os.PRIO_PROCESS, 0, yielding=True).result(timeout=60)
        after = pool.submit("pdf", "os", "getpriority", os.PRIO_PROCESS, 0).result(timeout=60)
    assert drawn == max(own, BACKGROUND_NICENESS)
    assert after == own


LANES_FIRST = """
import json, os, threading, time
from reportgen.render.pool import RenderPool

def niceness():
    return sorted({os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir("/proc/self/task")})

sleeper = threading.Thread(target=time.sleep, args=(2,))
sleeper.start()
with RenderPool(workers=2, start=False, yield_to_lanes=FLAG) as pool:
    pool.start("deck")
    pool.lanes_first()
    lane = pool.submit("deck", "os", "getpriority", os.PRIO_PROCESS, 0).result(timeout=120)
    later = []
    newer = threading.Thread(target=lambda: later.append(os.getpriority(os.PRIO_PROCESS, 0)))
    newer.start(); newer.join()
    print(json.dumps({"lane": lane, "threads": niceness(), "later": later[0]}))
"""


@pytest.mark.parametrize("flag", [True, False])
def test_a_command_lets_its_lanes_go_first_and_a_library_caller_keeps_its_priority(tmp_path, flag):
    import subprocess

    own = os.getpriority(os.PRIO_PROCESS, 0)
    done = subprocess.run([sys.executable, "-c", LANES_FIRST.replace("FLAG", str(flag))], capture_output=True,
                          text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["lane"] == own  # the lane renders at the priority it had
    expected = max(own, BACKGROUND_NICENESS) if flag else own
    assert seen["threads"] == [expected] and seen["later"] == expected  # every thread, and threads started after


def test_a_build_run_from_python_leaves_the_callers_priority(tmp_path):
    from reportgen.api import SAMPLE_DATA
    from reportgen.cli import main

    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert main(["build", "--data", str(SAMPLE_DATA), "--out", str(tmp_path / "out"), "--k", "3", "-q"]) == 0
    assert (tmp_path / "out").exists()
    assert os.getpriority(os.PRIO_PROCESS, 0) == own


def test_with_the_spark_engine_both_lanes_fork_before_the_jvm_thread_starts(monkeypatch, tmp_path):
    """`build --engine spark` starts the JVM on a thread that imports PySpark. A lane forked while
    that thread imports inherits the module's import lock held by no thread of its own and hangs
    on its first import of that module (CI caught a cluster build hung so), so both lanes fork
    before the thread starts."""
    import reportgen.api
    from reportgen.cli import main
    from reportgen.errors import InputError
    from reportgen.segmentation.engines import spark_session

    events = []
    monkeypatch.setattr(RenderPool, "start", lambda self, lane, **_: events.append(("fork", lane)))
    monkeypatch.setattr(spark_session, "start_early", lambda master=None: events.append(("spark", master)))

    def build(*args, **kwargs):
        events.append(("build",))
        raise InputError("stop here")

    monkeypatch.setattr(reportgen.api, "build", build)
    code = main(["build", "--engine", "spark", "--spark-master", "local[1]", "--out", str(tmp_path)])
    assert code == 2
    assert events[:3] == [("fork", "pdf"), ("fork", "deck"), ("spark", "local[1]")]
    assert events[-1] == ("build",)


HELD_WARM_UP = """
import json, sys
from reportgen.lanes import offload_to
from reportgen.render.pool import RenderPool

def imported(module):  # run in the lane (forked from this script): what it has imported so far
    return module in sys.modules

with RenderPool(workers=2, start=False) as pool:
    pool.start("deck", renderers_later=True)
    offload = offload_to(pool)
    style = pool.submit("deck", "__main__", "imported", "pptx", analysis=True)
    evidence = offload("__main__", "imported", "pptx")  # the analysis's share
    drawn = pool.submit("deck", "__main__", "imported", "pptx")
    print(json.dumps([style.result(timeout=120), evidence.result(timeout=60), drawn.result(timeout=60)]))
"""


def test_the_deck_lane_takes_its_share_of_the_analysis_before_importing_the_renderers(tmp_path):
    """A small extract's k evidence waited 0.6 s for python-pptx and matplotlib to import on the
    lane that computes half of it; now they import after it, and before anything that renders."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", HELD_WARM_UP], capture_output=True, text=True, timeout=180,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, False, True]
