"""Start-up and exit of the whole app, in a fresh process each."""

from __future__ import annotations

import pytest

from .conftest import run_python


# Runs app.main(); `on_ready(window)` is called once the start-up model is in use.
_HARNESS = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from digitpad.gui import app

qt_app = app.create_application([])
state = {}

def find_window():
    from digitpad.gui.main_window import MainWindow
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))

def at_show():
    window = find_window()
    state["visible_before_torch"] = window.isVisible() and "torch" not in sys.modules
    window.model_changed.connect(lambda *_: on_ready(window))
    window.model_failed.connect(lambda message: (print("MODEL FAILED", message), window.close()))

QTimer.singleShot(0, at_show)
"""

_RUN_APP = """
status = app.main([])
print("exit", status)
sys.exit(status)
"""


def _app_script(on_ready: str) -> str:
    """The harness, then ``on_ready`` (Python source defining on_ready(window)), then the app's run."""
    return _HARNESS + on_ready + _RUN_APP


def test_window_is_shown_before_torch_is_imported_and_exits_zero(tmp_path, test_model_path):
    from digitpad import paths

    paths.set_current_model(test_model_path)
    result = run_python(
        _app_script("""
def on_ready(window):
    print("visible before torch:", state["visible_before_torch"])
    print("torch after ready:", "torch" in sys.modules)
    icon = window.windowIcon().pixmap(32, 32).toImage()
    print("icon drawn:", not icon.isNull() and icon.pixelColor(16, 16).alpha() == 255)
    window.close()
"""),
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "visible before torch: True" in result.stdout
    assert "torch after ready: True" in result.stdout
    assert "icon drawn: True" in result.stdout


@pytest.mark.slow
def test_closing_mid_training_exits_with_status_zero(tmp_path, test_model_path, use_tiny_mnist):
    from digitpad import paths

    paths.set_current_model(test_model_path)
    result = run_python(
        _app_script("""
def on_ready(window):
    window.training_panel.epochs_spin.setValue(100)
    window.training_panel.batch_spin.setValue(16)
    window.training_panel.train_button.click()
    def close_when_training():
        if window.training_panel.train_progress.text().startswith("Epoch"):
            print("closing mid-training")
            window.close()
        else:
            QTimer.singleShot(20, close_when_training)
    close_when_training()
"""),
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "closing mid-training" in result.stdout
    assert "QThread: Destroyed" not in result.stderr
    assert "Fatal" not in result.stderr
