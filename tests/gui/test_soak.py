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
# Python, Qt and torch caches fill during the first cycles: run alone, the
# resident set grew by about 200 MB over the first 100-300 cycles, then by
# 0.1 MB over the next 1,700. So the warm-up lasts until a window of cycles
# leaves it where it was, rather than a fixed count that a slower start outruns.
SETTLE_WINDOW = 100
SETTLED_MB = 1.0
MOST_WARM_UP_WINDOWS = 10
# Allowed growth of the resident set after warm-up. A real leak of even 10 kB
# a cycle would exceed this over the default CYCLES.
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

    def cycle(number: int) -> float:
        started = time.perf_counter()
        draw_stroke(canvas, strokes[number % 2])
        assert shown_digit(window) is not None
        canvas.clear()
        assert label.text() == "Draw a digit"
        qtbot.wait(0)  # let paint and deferred events run, as in a live app
        return time.perf_counter() - started

    before = rss_mb()
    for _ in range(MOST_WARM_UP_WINDOWS):
        for number in range(SETTLE_WINDOW):
            cycle(number)
        after = rss_mb()
        if after - before < SETTLED_MB:
            break
        before = after
    else:
        pytest.fail(f"RSS still grew {after - before:.1f} MB in the last {SETTLE_WINDOW} of "
                    f"{MOST_WARM_UP_WINDOWS * SETTLE_WINDOW} warm-up cycles")
    baseline = rss_mb()
    timings = [cycle(number) for number in range(CYCLES)]
    growth = rss_mb() - baseline
    assert growth < RSS_BOUND_MB, f"RSS grew {growth:.1f} MB over {CYCLES} cycles after warm-up"
    early = sorted(timings[:100])[50]
    late = sorted(timings[-100:])[50]
    assert late < 2 * early + 0.002, f"median cycle went from {early * 1000:.1f} ms to {late * 1000:.1f} ms"
