"""The render lanes' priorities: work drawn during the analysis yields the cores without slowing
the lane that renders the PDF afterwards."""

from __future__ import annotations

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
