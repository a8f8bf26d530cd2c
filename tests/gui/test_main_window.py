"""The real MainWindow: drawing and predicting, clear/undo, model files, settings."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QSettings, Qt, QUrl
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QPushButton, QWidget

from digitpad.gui import saved_settings
from digitpad.gui.plots import UNSURE_COLOR
from digitpad.inference import Prediction
from stroke_replay import send_mouse_event

from .conftest import (MODEL_TIMEOUT_MS, close_window, draw_stroke, error_boxes, new_window, one, prediction_text, seven,
                       shown_digit)

# Answers a test can make the model give, to see how the window shows them.
SURE_SEVEN = Prediction(7, 0.99, np.eye(10)[7] * 0.99 + 0.001, np.zeros((28, 28), np.float32))
UNSURE_SEVEN = Prediction(7, 0.6, np.array([0.01, 0.3, 0.01, 0.01, 0.01, 0.01, 0.01, 0.6, 0.02, 0.02]),
                          np.zeros((28, 28), np.float32))  # runner-up: 1


def test_named_widgets_for_automation(window):
    for name, kind in [
        ("canvas", QWidget),
        ("clear_button", QPushButton),
        ("undo_button", QPushButton),
        ("prediction", QLabel),
        ("confidence", QLabel),
        ("model_input_preview", QLabel),
        ("probabilities", QWidget),
        ("metrics_plot", QWidget),
        ("train_button", QPushButton),
        ("stop_button", QPushButton),
        ("train_progress", QProgressBar),
        ("model_label", QLabel),
    ]:
        assert window.findChild(kind, name) is not None, name


def test_empty_canvas_shows_the_hint_and_no_digit(window):
    text = prediction_text(window)
    assert text == "Draw a digit"
    assert not any(ch.isdigit() for ch in text)
    assert window.bars.values().sum() == 0
    assert "test-model" in window.findChild(QLabel, "model_label").text()


def test_a_stroke_changes_the_prediction(window, qtbot):
    canvas = window.findChild(QWidget, "canvas")
    before = prediction_text(window)
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(canvas, seven(canvas))
    text = prediction_text(window)
    assert text != before
    probabilities = window.bars.values()
    assert probabilities.sum() == pytest.approx(1.0, abs=0.01)
    assert shown_digit(window) == int(np.argmax(probabilities))
    preview = window.preview.pixmap().toImage()
    assert preview.width() == 140
    assert max(preview.pixelColor(x, y).value() for x in range(0, 140, 5) for y in range(0, 140, 5)) > 200


def test_the_pen_width_shows_but_does_not_change_the_answer(window, qtbot):
    """The canvas shows the chosen pen; the model sees the same strokes redrawn with one pen."""
    canvas = window.canvas
    shown, answers = [], []
    for slider_end in (window.pen_slider.minimum(), window.pen_slider.maximum()):
        canvas.clear()
        window.pen_slider.setValue(slider_end)
        with qtbot.waitSignal(window.prediction_updated):
            draw_stroke(canvas, seven(canvas))
        shown.append(int((canvas.to_array() > 127).sum()))
        answers.append((prediction_text(window), window.bars.values(), window.preview.pixmap().toImage()))
    assert shown[1] > 3 * shown[0]  # the wide pen leaves far more ink on the canvas
    (thin_text, thin_bars, thin_preview), (wide_text, wide_bars, wide_preview) = answers
    assert thin_text == wide_text
    assert np.array_equal(thin_bars, wide_bars)
    assert thin_preview == wide_preview


def test_a_stray_click_on_the_canvas_does_not_change_the_answer(window, qtbot):
    """A click to focus the window leaves a dot on the canvas, which the model does not see."""
    canvas = window.canvas
    answers = []
    for stray_click in (False, True):
        canvas.clear()
        if stray_click:
            draw_stroke(canvas, [(0.08 * canvas.width(), 0.9 * canvas.height())])
        with qtbot.waitSignal(window.prediction_updated):
            draw_stroke(canvas, seven(canvas))
        ink = int((canvas.to_array() > 127).sum())
        answers.append((ink, prediction_text(window), window.bars.values(), window.preview.pixmap().toImage()))
    (plain_ink, plain_text, plain_bars, plain_preview), (clicked_ink, clicked_text, clicked_bars, clicked_preview) = answers
    assert clicked_ink > plain_ink  # the dot shows on the canvas
    assert clicked_text == plain_text
    assert np.array_equal(clicked_bars, plain_bars)
    assert clicked_preview == plain_preview


def test_the_smallest_window_keeps_the_drawing_tools_usable(window, qtbot):
    window.resize(1, 1)  # the layout holds it at its minimum size
    qtbot.waitUntil(lambda: window.pen_slider.width() > 0)
    QApplication.processEvents()
    assert window.width() < 1200
    assert window.pen_slider.width() >= 80
    assert min(window.canvas.width(), window.canvas.height()) >= 240
    for button in (window.undo_button, window.clear_button):
        assert button.width() >= button.minimumSizeHint().width()


def test_prediction_updates_during_a_stroke(window, qtbot):
    canvas = window.canvas
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    points = one(canvas, steps=30)
    send_mouse_event(canvas, QEvent.Type.MouseButtonPress, points[0], left, left)
    with qtbot.waitSignal(window.prediction_updated, timeout=2000):
        for point in points[1:]:
            send_mouse_event(canvas, QEvent.Type.MouseMove, point, none, left)
    assert canvas.is_drawing()
    assert shown_digit(window) is not None
    send_mouse_event(canvas, QEvent.Type.MouseButtonRelease, points[-1], left, none)


def test_clear_and_undo(window, qtbot):
    canvas = window.canvas
    clear_button = window.findChild(QPushButton, "clear_button")
    undo_button = window.findChild(QPushButton, "undo_button")
    assert not undo_button.isEnabled()
    draw_stroke(canvas, one(canvas))
    draw_stroke(canvas, [(30, 30), (60, 60)])
    assert canvas.stroke_count() == 2 and undo_button.isEnabled()

    with qtbot.waitSignal(window.prediction_updated):
        qtbot.mouseClick(undo_button, Qt.MouseButton.LeftButton)
    assert canvas.stroke_count() == 1
    assert shown_digit(window) is not None

    with qtbot.waitSignal(window.prediction_updated):
        qtbot.mouseClick(clear_button, Qt.MouseButton.LeftButton)
    assert canvas.is_empty()
    assert prediction_text(window) == "Draw a digit"
    assert not clear_button.isEnabled()


def test_the_edit_buttons_are_enabled_as_the_first_stroke_starts(window):
    """Not at its release, where their repaint would delay the prediction's."""
    canvas = window.canvas
    left = Qt.MouseButton.LeftButton
    assert not window.undo_button.isEnabled() and not window.clear_button.isEnabled()
    send_mouse_event(canvas, QEvent.Type.MouseButtonPress, (40, 40), left, left)
    assert window.undo_button.isEnabled() and window.clear_button.isEnabled()
    send_mouse_event(canvas, QEvent.Type.MouseButtonRelease, (40, 40), left, Qt.MouseButton.NoButton)
    assert window.undo_button.isEnabled() and window.clear_button.isEnabled()
    canvas.undo()
    assert not window.undo_button.isEnabled() and not window.clear_button.isEnabled()


def test_keyboard_shortcuts(window, qtbot):
    assert window.undo_action.shortcut().toString() == "Ctrl+Z"
    assert {s.toString() for s in window.clear_action.shortcuts()} >= {"Esc", "Del"}
    canvas = window.canvas
    draw_stroke(canvas, one(canvas))
    draw_stroke(canvas, [(30, 30), (60, 60)])
    # Shortcuts reach only the active window; some platforms (Xvfb without a window
    # manager) never activate one.
    window.raise_()
    window.activateWindow()
    try:
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    except qtbot.TimeoutError:
        pytest.skip("this platform does not activate windows")
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.stroke_count() == 1
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.is_empty()
    draw_stroke(canvas, one(canvas))
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.is_empty()


def test_unsure_shows_a_question_mark_and_the_runner_up(window, qtbot, monkeypatch):
    assert UNSURE_SEVEN.unsure
    monkeypatch.setattr(window.model().classifier, "predict_strokes", lambda strokes: UNSURE_SEVEN)
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert prediction_text(window) == "7?"
    assert "maybe 1" in window.confidence_label.text()
    assert window.prediction_label.palette().color(QPalette.ColorRole.WindowText) == UNSURE_COLOR


def test_a_drawing_no_digit_is_likely_for_says_not_a_digit_with_grey_bars(window, qtbot, monkeypatch):
    probabilities = np.array([0.05, 0.02, 0.3, 0.03, 0.42, 0.03, 0.05, 0.04, 0.03, 0.03])
    scribble = Prediction(4, 0.42, probabilities, np.zeros((28, 28), np.float32))
    assert scribble.not_a_digit and not UNSURE_SEVEN.not_a_digit
    monkeypatch.setattr(window.model().classifier, "predict_strokes", lambda strokes: scribble)
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert prediction_text(window) == "not a digit"
    assert not any(character.isdigit() for character in prediction_text(window))
    assert "closest: 4 (42 %)" in window.confidence_label.text()
    assert window.bars.values() == pytest.approx(probabilities)
    brushes = window.bars._bars.opts["brushes"]
    assert all(brush == brushes[0] for brush in brushes)  # no bar stands out: all grey
    # Saying what it is still works, and the status says what the model had said.
    qtbot.mouseClick(window.findChild(QPushButton, "label_7"), Qt.MouseButton.LeftButton)
    assert "Corrected (not a digit → 7)" in window.statusBar().currentMessage()


def test_a_failing_prediction_keeps_the_app_alive(window, qtbot, monkeypatch):
    def explode(strokes):
        raise RuntimeError("bad tensor")

    monkeypatch.setattr(window.model().classifier, "predict_strokes", explode)
    draw_stroke(window.canvas, seven(window.canvas))
    assert "bad tensor" in window.statusBar().currentMessage()


# ------------------------------------------------------------------ model files


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


# --------------------------------------------------------------------- settings


def test_panel_settings_survive_a_restart(window, qtbot):
    from digitpad.gui.main_window import MainWindow

    window.training_panel.epochs_spin.setValue(7)
    window.training_panel.arch_combo.setCurrentIndex(window.training_panel.arch_combo.findData("mlp"))
    window.training_panel.hidden_edit.setText("128,64")
    window.pen_slider.setValue(120)
    close_window(window)
    again = MainWindow(load_model=False)
    try:
        assert again.training_panel.epochs_spin.value() == 7
        assert again.training_panel.arch_combo.currentData() == "mlp"
        assert again.training_panel.hidden_edit.text() == "128,64"
        assert again.canvas.pen_width() == pytest.approx(0.12)
    finally:
        close_window(again)


def test_broken_settings_values_fall_back_to_defaults(qtbot):
    from digitpad.config import TrainConfig
    from digitpad.gui.main_window import MainWindow

    store = saved_settings.app_settings()
    store.setValue(saved_settings.TRAINING_GROUP + "/epochs", "many")
    store.setValue(saved_settings.TRAINING_GROUP + "/lr", "-3")
    store.setValue(saved_settings.TRAINING_GROUP + "/arch", "transformer")
    store.setValue(saved_settings.PEN_WIDTH, "wide")
    store.setValue(saved_settings.GEOMETRY, "not a geometry")
    store.sync()
    window = MainWindow(load_model=False)
    try:
        defaults = TrainConfig()
        assert window.training_panel.epochs_spin.value() == defaults.epochs
        assert window.training_panel.lr_spin.value() == pytest.approx(defaults.lr)
        assert window.training_panel.arch_combo.currentData() == "cnn"
    finally:
        close_window(window)


def test_invalid_hidden_sizes_are_refused_with_a_message(window):
    window.training_panel.arch_combo.setCurrentIndex(window.training_panel.arch_combo.findData("mlp"))
    window.training_panel.hidden_edit.setText("512,abc")
    window.findChild(QPushButton, "train_button").click()
    boxes = error_boxes(window)
    assert boxes and "hidden" in boxes[0].text()
    assert not window.is_training()
    boxes[0].close()


def test_learning_rate_steps_on_a_log_scale(window):
    spin = window.training_panel.lr_spin
    spin.setValue(0.001)
    spin.stepBy(1)
    assert spin.value() == pytest.approx(0.002)
    spin.stepBy(1)
    assert spin.value() == pytest.approx(0.005)
    spin.stepBy(-3)
    assert spin.value() == pytest.approx(0.0005)


def test_picking_a_network_brings_its_own_defaults(window):
    from digitpad.config import TrainConfig

    combo = window.training_panel.arch_combo
    combo.setCurrentIndex(combo.findData("mlp"))
    combo.activated.emit(combo.currentIndex())  # what a user's pick emits
    mlp = TrainConfig.defaults_for("mlp")
    assert window.training_panel.batch_spin.value() == mlp.batch_size
    assert window.training_panel.augment_check.isChecked() == mlp.augment
    assert window.training_panel.hidden_edit.isEnabled()
    config = window.training_panel.build_train_config()
    assert config.model.arch == "mlp" and config.lr == pytest.approx(mlp.lr)

    combo.setCurrentIndex(combo.findData("vgg"))
    combo.activated.emit(combo.currentIndex())
    deep = TrainConfig.defaults_for("vgg")
    assert window.training_panel.batch_spin.value() == deep.batch_size
    assert window.training_panel.augment_check.isChecked() and not window.training_panel.hidden_edit.isEnabled()
    assert window.training_panel.build_train_config().model == deep.model


def test_slow_predictions_are_spaced_out_while_drawing(window, qtbot, monkeypatch):
    """A machine where one prediction takes 30 ms gets live predictions about every 60 ms, not every frame."""
    from digitpad.gui.canvas import LIVE_PREDICTION_INTERVAL_MS

    real_predict = window.model().classifier.predict_strokes

    def slow_predict(strokes):
        started = time.perf_counter()
        prediction = real_predict(strokes)
        while time.perf_counter() - started < 0.030:
            pass
        return prediction

    assert window.canvas.live_interval() == LIVE_PREDICTION_INTERVAL_MS
    monkeypatch.setattr(window.model().classifier, "predict_strokes", slow_predict)
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert window.canvas.live_interval() >= 60

    monkeypatch.setattr(window.model().classifier, "predict_strokes", real_predict)
    window.canvas.clear()
    draw_stroke(window.canvas, one(window.canvas))
    assert window.canvas.live_interval() < 60  # back to frequent once predictions are fast


# ------------------------------------------------------------------------ help


def test_about_says_the_version_and_where_the_files_are(window, monkeypatch, tmp_path, test_model_path):
    from PySide6.QtWidgets import QMessageBox

    from digitpad import __version__, paths

    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tmp_path / "my-mnist"))
    help_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&Help")
    about = next(action for action in help_menu.actions() if action.objectName() == "about_action")
    about.trigger()
    boxes = window.findChildren(QMessageBox, "about_dialog")
    assert len(boxes) == 1 and boxes[0].isVisible()
    text = boxes[0].text()
    assert f"digitpad {__version__}" in text
    # The model's link opens its folder, not the file.
    folder_url = QUrl.fromLocalFile(str(test_model_path.parent)).toString()
    assert f'test-model: <a href="{folder_url}">{test_model_path}</a>' in text
    assert f"{paths.models_dir()} (not created yet)" in text
    assert f"{tmp_path / 'my-mnist'} (not created yet)" in text
    assert "PyTorch " in text and "Qt " in text
    assert not error_boxes(window)
    # Closing the window closes the box too (it never holds the app up).
    window.close()
    assert not boxes[0].isVisible()


# ------------------------------------------------------------------ readability


def _luminance(color) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def _contrast(first, second) -> float:
    """WCAG's contrast ratio: 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _dark_palette() -> QPalette:
    """A dark system theme, as Windows, macOS and GNOME give Qt's Fusion style in dark mode."""
    from PySide6.QtGui import QColor

    palette = QPalette(QColor("#353535"), QColor("#2a2a2a"))
    for role, color in [(QPalette.ColorRole.WindowText, "#f0f0f0"), (QPalette.ColorRole.Text, "#f0f0f0"),
                        (QPalette.ColorRole.ButtonText, "#f0f0f0"), (QPalette.ColorRole.Base, "#252525")]:
        palette.setColor(role, QColor(color))
    return palette


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_text_is_readable_in_a_light_and_a_dark_theme(theme, qtbot, monkeypatch, test_model_path):
    from digitpad import paths

    app = QApplication.instance()
    system_palette = app.palette()
    if theme == "dark":
        app.setPalette(_dark_palette())
    try:
        paths.set_current_model(test_model_path)
        window = new_window(qtbot)
        try:
            for shown in (None, SURE_SEVEN, UNSURE_SEVEN):
                if shown is not None:
                    monkeypatch.setattr(window.model().classifier, "predict_strokes", lambda strokes, p=shown: p)
                    with qtbot.waitSignal(window.prediction_updated):
                        draw_stroke(window.canvas, seven(window.canvas))
                labels = [label for label in window.findChildren(QLabel) if label.isVisible() and label.text()]
                assert window.confidence_label in labels or shown is None
                _assert_readable(window, labels, theme)
        finally:
            close_window(window)
    finally:
        app.setPalette(system_palette)


def _assert_readable(window, labels, theme: str) -> None:
    """Every label's text and the plots' axis text stand out from what is behind them by at least 3:1,
    WCAG's floor for large text and the least any text here should have; the cards follow the theme."""
    for label in labels:
        palette = label.palette()
        ratio = _contrast(palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window))
        assert ratio >= 3.0, f"{theme}: {label.objectName() or label.text()!r} has contrast {ratio:.2f}"
    window_is_dark = window.palette().color(QPalette.ColorRole.Window).lightness() < 128
    for plot in (window.bars, window.training_panel.metrics_plot):
        paper = plot.card_background()
        assert (paper.lightness() < 128) == window_is_dark, f"{theme}: {plot.objectName()} does not follow the theme"
        axis_text = plot.getPlotItem().getAxis("bottom").textPen().color()
        assert _contrast(axis_text, paper) >= 3.0, f"{theme}: {plot.objectName()}'s axis text"
    card = window.findChild(QWidget, "answer_card").palette().color(QPalette.ColorRole.Window)
    assert (card.lightness() < 128) == window_is_dark, f"{theme}: the answer's card does not follow the theme"


def test_a_theme_switched_while_the_app_runs_repaints_the_cards(window, qtbot, monkeypatch):
    app = QApplication.instance()
    system_palette = app.palette()
    monkeypatch.setattr(window.model().classifier, "predict_strokes", lambda strokes: SURE_SEVEN)
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    labels = [window.prediction_label, window.confidence_label, window.model_label]
    bars_before = (window.bars.values(), window.bars.label_texts())
    light_paper = window.bars.card_background()
    try:
        app.setPalette(_dark_palette())
        qtbot.waitUntil(lambda: window.bars.card_background() != light_paper, timeout=2_000)
        _assert_readable(window, labels, "switched to dark")
    finally:
        app.setPalette(system_palette)
    qtbot.waitUntil(lambda: window.bars.card_background() == light_paper, timeout=2_000)
    _assert_readable(window, labels, "switched back")
    # The answer is still shown, as it was.
    assert prediction_text(window) == "7"
    assert np.array_equal(window.bars.values(), bars_before[0]) and window.bars.label_texts() == bars_before[1]


def test_about_names_a_folder_it_cannot_read_instead_of_failing(window, monkeypatch):
    from pathlib import Path

    from PySide6.QtWidgets import QMessageBox

    real_exists = Path.exists

    def exists(path, *args, **kwargs):
        if path.name == "models":
            raise PermissionError(13, "Permission denied")
        return real_exists(path, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    window.about_action.trigger()
    (box,) = window.findChildren(QMessageBox, "about_dialog")
    assert "models (Permission denied)" in box.text()
