"""Many draw, classify and clear cycles through the real window: no crash, no leak, no slowdown."""

from __future__ import annotations

import os
import sys
import time

import pytest
from PySide6.QtWidgets import QLabel

from .conftest import draw_stroke, one, seven, shown_digit

pytest.importorskip("digitpad.inference")

CYCLES = int(os.environ.get("DIGITPAD_SOAK_CYCLES", "1000"))
WARM_UP = min(200, CYCLES // 4)
# Allowed growth of the resident set after warm-up. Python, Qt and torch caches
# settle during warm-up; a real leak of even 10 kB a cycle would exceed this.
RSS_BOUND_MB = 8.0


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.soak
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the resident set size")
def test_draw_classify_clear_cycles(window, qtbot):
    canvas = window.canvas
    label = window.findChild(QLabel, "prediction")
    strokes = [seven(canvas), one(canvas)]
    timings = []
    baseline = None
    for cycle in range(CYCLES):
        if cycle == WARM_UP:
            baseline = rss_mb()
        started = time.perf_counter()
        draw_stroke(canvas, strokes[cycle % 2])
        assert shown_digit(window) is not None
        canvas.clear()
        assert label.text() == "Draw a digit"
        qtbot.wait(0)  # let paint and deferred events run, as in a live app
        timings.append(time.perf_counter() - started)
    growth = rss_mb() - baseline
    assert growth < RSS_BOUND_MB, f"RSS grew {growth:.1f} MB over {CYCLES - WARM_UP} cycles after warm-up"
    early = sorted(timings[WARM_UP : WARM_UP + 100])[50]
    late = sorted(timings[-100:])[50]
    assert late < 2 * early + 0.002, f"median cycle went from {early * 1000:.1f} ms to {late * 1000:.1f} ms"
