"""``digitpad gui --trace-startup FILE``: when each start-up step happened, for a slow start.

The app then records when its steps happen, writes them to FILE as JSON once
the model is ready and one prediction has run on the GUI thread, and quits.
Times are ``time.monotonic()`` (CLOCK_MONOTONIC on Linux, shared by all
processes), so tests/bench/startup.py can measure from before it started the
process. Without the option, ``mark`` does nothing and ``install`` is never called.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

OPTION = "--trace-startup"

if TYPE_CHECKING:
    from digitpad.gui.main_window import MainWindow

_marks: dict[str, float] = {}
_path: str | None = None


def take_option(arguments: list[str]) -> list[str]:
    """Start tracing if ``arguments`` hold ``--trace-startup FILE`` (or ``=FILE``); the others, for Qt."""
    global _path
    rest = []
    found = iter(arguments)
    for argument in found:
        if argument == OPTION:
            _path = next(found, None)
        elif argument.startswith(OPTION + "="):
            _path = argument.split("=", 1)[1]
        else:
            rest.append(argument)
    return rest


def enabled() -> bool:
    return bool(_path)


def mark(name: str) -> None:
    """Record the first time ``name`` happens (from any thread)."""
    if enabled() and name not in _marks:
        _marks[name] = time.monotonic()


def install(window: MainWindow) -> None:
    """Watch ``window``: its first paint, its model, one prediction; then write the trace and close it."""
    import numpy as np
    from PySide6.QtCore import QEvent, QObject, QTimer

    facts: dict[str, Any] = {}

    class FirstPaint(QObject):
        def eventFilter(self, watched, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint and "window_painted" not in _marks:
                mark("window_painted")
                facts["torch_import_started_at_paint"] = "torch" in sys.modules
            return False

    watcher = FirstPaint(window)
    window.canvas.installEventFilter(watcher)

    def finish(error: str | None = None) -> None:
        facts["error"] = error
        with open(_path, "w", encoding="utf-8") as stream:
            json.dump({"marks": _marks, **facts}, stream, indent=2)
        window.close()

    def on_model_ready(*_args: object) -> None:
        mark("model_ready")
        # The first prediction on the GUI thread, on a drawing the size of the canvas.
        side = max(28, window.canvas.width())
        image = np.zeros((side, side), dtype=np.uint8)
        image[side // 5 : side * 4 // 5, side // 2 - side // 20 : side // 2 + side // 20] = 255
        window.model().classifier.predict(image, light_ink=True)
        mark("first_prediction")
        QTimer.singleShot(0, finish)

    window.model_changed.connect(on_model_ready)
    window.model_failed.connect(finish)
