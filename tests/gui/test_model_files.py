"""The real MainWindow's model files: save and open, a bad file, back to the shipped model, no model at all."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QPushButton

from digitpad.gui import saved_settings

from .conftest import MODEL_TIMEOUT_MS, close_window, draw_stroke, error_boxes, seven, shown_digit


def test_save_and_open_round_trip(window, qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    from digitpad import paths

    target = tmp_path / "saved" / "my-model.pt"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *args, **kwargs: (str(target), "")))
    window.save_action.trigger()
    assert target.is_file()
    assert not error_boxes(window)

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *args, **kwargs: (str(target), "")))
    with qtbot.waitSignal(window.model_changed) as changed:
        window.open_action.trigger()
    assert "test-model" in changed.args[0]
    assert window.model().path == target
    assert paths.current_model_path() == target
    # Both remembered: the folder for the next dialog, the model for the next launch.
    assert QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "digitpad", "digitpad").value(
        saved_settings.LAST_MODEL_FOLDER
    ) == str(target.parent)


def test_opening_a_bad_file_keeps_the_current_model(window, qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    bad = tmp_path / "not-a-model.pt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    model_before = window.model()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *args, **kwargs: (str(bad), "")))
    window.open_action.trigger()
    boxes = error_boxes(window)
    assert len(boxes) == 1
    assert str(bad) in boxes[0].text()
    assert "Traceback" not in boxes[0].text()
    assert window.model() is model_before
    boxes[0].close()
    # Still predicting with the model in use.
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert shown_digit(window) is not None


def test_revert_to_the_shipped_model(window, qtbot, monkeypatch, tmp_path, test_model_path):
    import shutil

    from digitpad import paths

    shipped = tmp_path / "shipped" / "model.pt"
    shipped.parent.mkdir()
    shutil.copy(test_model_path, shipped)
    monkeypatch.setattr(paths, "shipped_model_path", lambda: shipped)
    with qtbot.waitSignal(window.model_changed):
        window.revert_action.trigger()
    assert window.model().path == shipped
    assert paths.current_model_path() == shipped


def test_a_broken_current_model_falls_back_to_the_shipped_one(qtbot, monkeypatch, tmp_path, test_model_path):
    from digitpad import paths
    from digitpad.gui.main_window import MainWindow

    monkeypatch.setattr(paths, "shipped_model_path", lambda: test_model_path)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"garbage")
    paths.set_current_model(broken)
    window = MainWindow()
    try:
        with qtbot.waitSignal(window.model_changed, timeout=MODEL_TIMEOUT_MS):
            window.show()
        assert window.model().path == test_model_path
        message = window.statusBar().currentMessage()
        assert str(broken) in message and "shipped" in message
    finally:
        close_window(window)


def test_a_vanished_current_model_falls_back_with_a_message(qtbot, monkeypatch, tmp_path, test_model_path):
    from digitpad import paths
    from digitpad.gui.main_window import MainWindow

    monkeypatch.setattr(paths, "shipped_model_path", lambda: test_model_path)
    paths.set_current_model(tmp_path / "gone.pt")
    window = MainWindow()
    try:
        with qtbot.waitSignal(window.model_changed, timeout=MODEL_TIMEOUT_MS):
            window.show()
        assert "gone.pt" in window.statusBar().currentMessage()
    finally:
        close_window(window)


def test_no_model_at_all_still_lets_you_draw(qtbot, monkeypatch, tmp_path):
    from digitpad import paths
    from digitpad.gui.main_window import MainWindow

    monkeypatch.setattr(paths, "shipped_model_path", lambda: tmp_path / "missing.pt")
    window = MainWindow()
    try:
        with qtbot.waitSignal(window.model_failed, timeout=MODEL_TIMEOUT_MS):
            window.show()
        draw_stroke(window.canvas, seven(window.canvas))
        assert window.canvas.stroke_count() == 1
        assert "No model" in window.confidence_label.text()
        assert window.findChild(QPushButton, "train_button").isEnabled()
    finally:
        close_window(window)
