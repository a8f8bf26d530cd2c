"""The real MainWindow: drawing and predicting, clear and undo, how answers are shown, the panel's settings."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QPushButton, QWidget

from digitpad.gui import saved_settings
from digitpad.gui.plots import UNSURE_COLOR
from digitpad.inference import Prediction
from stroke_replay import send_mouse_event

from .conftest import UNSURE_SEVEN, close_window, draw_stroke, error_boxes, one, prediction_text, seven, shown_digit


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


@pytest.fixture
def wider_font(qapp):
    """The app's font with 140 % letter spacing, as a wider system font would be; ask for it before ``window``."""
    usual = qapp.font()
    wider = QFont(usual)
    wider.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 140)
    qapp.setFont(wider)
    yield
    qapp.setFont(usual)


def test_the_hint_wraps_instead_of_being_cut_off_in_a_wider_font(wider_font, window):
    label = window.findChild(QLabel, "prediction")
    assert label.font().letterSpacing() == 140  # the window was built in the wider font
    assert label.text() == "Draw a digit"
    image = label.grab().toImage()
    paper = image.pixel(0, 0)
    inked = [x for x in range(image.width()) for y in range(image.height()) if image.pixel(x, y) != paper]
    # Cut off, the words run to within a letter's gap of both sides (3 px here); whole, they keep clear.
    assert min(inked) >= 6 and max(inked) <= image.width() - 7, "the hint is cut off at the answer's sides"


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


def test_unsure_says_why_when_one_network_alone_sees_no_digit(window, qtbot, monkeypatch):
    probabilities = np.full(10, 0.004)
    probabilities[7] = 0.964
    doubted = Prediction(7, 0.964, probabilities, np.zeros((28, 28), np.float32), 0.89, doubted_by="strokes")
    assert doubted.unsure and not doubted.not_a_digit
    monkeypatch.setattr(window.model().classifier, "predict_strokes", lambda strokes: doubted)
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert prediction_text(window) == "7?"
    assert window.confidence_label.text() == "unsure\nstrokes: no digit"  # not the 96 %, which looks sure
    assert "reads your strokes sees no digit" in window.confidence_label.toolTip()
    window.canvas.clear()
    assert window.confidence_label.toolTip() == ""


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
