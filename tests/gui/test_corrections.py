"""Saying what a drawing is ("It's a …" and the keys 0-9), through the real window: the
drawing lands in My digits as a PNG and a JSON, survives a restart and a crash mid-write,
can be taken back, and can be deleted from the My digits view."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from digitpad.gui.my_digits_view import ALL_DIGITS

from .conftest import close_window, draw_stroke, error_boxes, new_window, one, seven

pytest.importorskip("digitpad.collection")


def my_digits() -> Path:
    from digitpad import paths

    return paths.my_digits_dir()


def files_of(digit: int) -> tuple[list, list]:
    folder = my_digits() / str(digit)
    if not folder.is_dir():
        return [], []
    return sorted(folder.glob("*.png")), sorted(folder.glob("*.json"))


def say_it_is(window, qtbot, digit: int) -> None:
    button = window.findChild(QPushButton, f"label_{digit}")
    assert button.isEnabled()
    with qtbot.waitSignal(window.corrections.collection_changed, timeout=5_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_a_correction_through_the_buttons_writes_the_png_and_the_json(window, qtbot, test_model_path):
    from PIL import Image

    assert not window.findChild(QPushButton, "label_7").isEnabled()  # nothing drawn yet
    draw_stroke(window.canvas, seven(window.canvas))
    strokes = window.canvas.strokes()
    answer = window.model().classifier.predict_strokes(strokes)
    say_it_is(window, qtbot, 7)

    (png,), (meta,) = files_of(7)
    assert png.stem == meta.stem
    image = np.asarray(Image.open(png))
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert np.abs(image / 255.0 - answer.model_input).max() <= 1 / 255 + 1e-6
    record = json.loads(meta.read_text())
    text = json.dumps(record)
    assert str(answer.digit) in text and "test-model" in text
    stored_points = [point for stroke in record["strokes"] for point in stroke["points"]]
    # Kept to a hundred-thousandth of the canvas: far below a pixel.
    assert np.allclose(np.array(stored_points), np.array([p for s in strokes for p in s.points]), atol=1e-5)
    assert window.canvas.is_empty()  # ready for the next digit
    assert "in My digits" in window.statusBar().currentMessage()
    assert window.undo_correction_action.isEnabled()


def test_the_keys_on_the_canvas_say_it_too_and_the_collection_survives_a_restart(qtbot, test_model_path):
    from digitpad import paths

    paths.set_current_model(test_model_path)
    first = new_window(qtbot)
    draw_stroke(first.canvas, one(first.canvas))
    first.canvas.setFocus()
    with qtbot.waitSignal(first.corrections.collection_changed, timeout=5_000):
        qtbot.keyClick(first.canvas, Qt.Key.Key_1)
    draw_stroke(first.canvas, seven(first.canvas))
    with qtbot.waitSignal(first.corrections.collection_changed, timeout=5_000):
        qtbot.keyClick(first.canvas, Qt.Key.Key_7, Qt.KeyboardModifier.KeypadModifier)
    close_window(first)

    second = new_window(qtbot)
    try:
        second.views.setCurrentWidget(second.my_digits_view)
        qtbot.waitUntil(lambda: second.my_digits_view.gallery.count() == 2, timeout=5_000)
        assert [d.digit for d in second.corrections.collection().drawings()] == [1, 7]
        assert second.my_digits_view.filter_buttons[1].text() == "1 (1)"
        assert second.my_digits_view.filter_buttons[ALL_DIGITS].text() == "All (2)"
        assert "model in use reads" in second.my_digits_view.summary.text()
    finally:
        close_window(second)


def test_undo_correction_takes_the_drawing_back_to_the_canvas(window, qtbot):
    draw_stroke(window.canvas, seven(window.canvas))
    strokes = window.canvas.strokes()
    say_it_is(window, qtbot, 2)  # a slip: it was a 7
    assert files_of(2)[0]
    with qtbot.waitSignal(window.corrections.collection_changed, timeout=5_000):
        window.undo_correction_action.trigger()
    assert files_of(2) == ([], [])
    back = window.canvas.strokes()
    assert len(back) == len(strokes)
    for restored, drawn in zip(back, strokes):
        assert np.allclose(restored.points, drawn.points, atol=1e-5)
    assert not window.undo_correction_action.isEnabled()
    say_it_is(window, qtbot, 7)
    assert len(files_of(7)[0]) == 1


def test_a_crash_mid_write_leaves_the_collection_readable(window, qtbot, monkeypatch):
    draw_stroke(window.canvas, seven(window.canvas))
    say_it_is(window, qtbot, 7)
    kept = window.corrections.collection().drawings()

    real_replace = os.replace

    def crash_on_the_image(source, target, *args, **kwargs):
        if str(target).endswith(".png"):
            raise OSError(28, "No space left on device")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", crash_on_the_image)
    draw_stroke(window.canvas, seven(window.canvas))
    window.findChild(QPushButton, "label_7").click()
    qtbot.waitUntil(lambda: bool(error_boxes(window)), timeout=5_000)
    assert "No space left" in error_boxes(window)[0].text()
    assert not window.canvas.is_empty()  # the drawing is not lost either
    monkeypatch.setattr(os, "replace", real_replace)

    from digitpad.collection import Collection

    again = Collection(my_digits())
    assert [d.id for d in again.drawings()] == [d.id for d in kept]
    assert len(files_of(7)[0]) == 1  # no half-written image sits among the drawings


def test_deleting_a_drawing_in_my_digits(window, qtbot):
    for digit in (3, 5):
        draw_stroke(window.canvas, seven(window.canvas))
        say_it_is(window, qtbot, digit)
    view = window.my_digits_view
    window.views.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.gallery.count() == 2, timeout=5_000)
    view.filter_buttons[3].click()
    assert view.gallery.count() == 1
    first = view.gallery.visualRect(view.gallery.model().index(0, 0))
    qtbot.mouseClick(view.gallery.viewport(), Qt.MouseButton.LeftButton, pos=first.center())
    with qtbot.waitSignal(view.refreshed, timeout=5_000):
        qtbot.mouseClick(window.findChild(QPushButton, "delete_drawing_button"), Qt.MouseButton.LeftButton)
    assert files_of(3) == ([], [])
    assert len(files_of(5)[0]) == 1
    assert view.filter_buttons[3].text() == "3 (0)" and view.filter_buttons[ALL_DIGITS].text() == "All (1)"
    assert not window.undo_correction_action.isEnabled() or window.corrections.last().digit == 5
