"""Issue 6, in the app: any drawing gets an honest answer, and non-digits are not called digits.

What each test checks, item by item of the issue, is mapped in tests/gui/reliability_checks.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from .conftest import close_window, draw_stroke, new_window, one, prediction_text, seven
from .reliability_checks import HINT, assert_honest, assert_still_classifies

pytest.importorskip("digitpad.inference")


def _unit_to_canvas(canvas, points) -> list[tuple[float, float]]:
    """Points in units of the canvas's square (-0.5..0.5 from the centre) as widget coordinates."""
    side = min(canvas.width(), canvas.height())
    cx, cy = canvas.width() / 2, canvas.height() / 2
    return [(cx + x * side, cy + y * side) for x, y in points]


def _polyline(*points):
    return [list(points)]


def _star():
    angles = [np.pi / 2 + k * 4 * np.pi / 5 for k in range(6)]
    return [[(0.3 * np.cos(a), -0.3 * np.sin(a)) for a in angles]]


def _spiral():
    t = np.linspace(0, 5 * np.pi, 80)
    return [[(0.025 * s * np.cos(s), 0.025 * s * np.sin(s)) for s in t]]


def _hash():
    return [[(-0.12, -0.3), (-0.12, 0.3)], [(0.12, -0.3), (0.12, 0.3)],
            [(-0.3, -0.12), (0.3, -0.12)], [(-0.3, 0.12), (0.3, 0.12)]]


def _grid():
    lines = [[(-0.35, y), (0.35, y)] for y in np.linspace(-0.35, 0.35, 5)]
    return lines + [[(x, -0.35), (x, 0.35)] for x in np.linspace(-0.35, 0.35, 5)]


def _wave():
    x = np.linspace(-0.4, 0.4, 40)
    return [list(zip(x, 0.12 * np.sin(x * 5 * np.pi)))]


def _solid_block():
    return [[(-0.2, y), (0.2, y)] for y in np.linspace(-0.2, 0.2, 9)]


# Shapes that are not digits, in the canvas's unit square.
NON_DIGITS = {
    "square": _polyline((-0.25, -0.25), (0.25, -0.25), (0.25, 0.25), (-0.25, 0.25), (-0.25, -0.25)),
    "triangle": _polyline((0, -0.3), (0.3, 0.25), (-0.3, 0.25), (0, -0.3)),
    "cross": [[(-0.3, -0.3), (0.3, 0.3)], [(0.3, -0.3), (-0.3, 0.3)]],
    "hash": _hash(),
    "grid": _grid(),
    "star": _star(),
    "spiral": _spiral(),
    "wave": _wave(),
    "solid block": _solid_block(),
}


def _draw_shape(canvas, strokes) -> None:
    for stroke in strokes:
        draw_stroke(canvas, _unit_to_canvas(canvas, stroke))


def _whole_canvas_scribble(window) -> None:
    """Back and forth over the whole canvas with the widest pen: no paper is left."""
    canvas = window.canvas
    window.pen_slider.setValue(window.pen_slider.maximum())
    width, height = canvas.width(), canvas.height()
    points = []
    for row in range(14):
        y = height * row / 13
        points += [(0, y), (width, y)] if row % 2 == 0 else [(width, y), (0, y)]
    draw_stroke(canvas, points)
    assert canvas.to_array().min() == 255


def _tiny_corner_digit(window) -> None:
    canvas = window.canvas
    window.pen_slider.setValue(window.pen_slider.minimum())
    side = min(canvas.width(), canvas.height()) * 0.07
    left, top = 6.0, 6.0
    draw_stroke(canvas, [(left, top), (left + side, top), (left + 0.4 * side, top + 1.5 * side)])


DRAWINGS = {
    "empty": lambda window: None,
    "single dot": lambda window: draw_stroke(window.canvas, [(window.canvas.width() / 2, window.canvas.height() / 2)]),
    "dot in a corner": lambda window: draw_stroke(window.canvas, [(2.0, 2.0)]),
    "whole-canvas scribble": _whole_canvas_scribble,
    "tiny digit in a corner": _tiny_corner_digit,
    **{f"shape: {name}": (lambda strokes: lambda window: _draw_shape(window.canvas, strokes))(strokes)
       for name, strokes in NON_DIGITS.items()},
}


@pytest.mark.parametrize("drawing", list(DRAWINGS))
def test_drawing_input_never_crashes_and_answers_honestly(window, qtbot, drawing):
    DRAWINGS[drawing](window)
    QApplication.processEvents()

    assert_honest(window)
    if drawing == "empty":
        assert prediction_text(window) == HINT
        assert window.canvas.is_empty()
        return
    assert prediction_text(window) != HINT, "a drawing on the canvas must get an answer"
    preview = window.preview.pixmap().toImage()
    assert max(preview.pixelColor(x, y).value() for x in range(0, 140, 4) for y in range(0, 140, 4)) > 100
    # The app goes on: clear, then a digit.
    window.canvas.clear()
    assert prediction_text(window) == HINT
    assert_still_classifies(window, qtbot)


def _shipped_model_or_skip():
    from digitpad import paths

    shipped = paths.shipped_model_path()
    if not shipped.is_file():
        pytest.skip(f"no shipped model yet ({shipped} is missing): 'non-digits mostly unsure' needs the real "
                    "trained model, which the lead is to commit; the rest of the drawing checks ran above")
    return shipped


def test_non_digits_mostly_come_out_unsure_or_not_a_digit_with_the_shipped_model(qtbot):
    shipped = _shipped_model_or_skip()
    window = new_window(qtbot)  # no current model recorded: the shipped one
    try:
        assert window.model().path == shipped
        canvas = window.canvas
        # The model does read digits with confidence, so its 'unsure' means something.
        for digit, strokes in (("7", seven(canvas)), ("1", one(canvas))):
            canvas.clear()
            draw_stroke(canvas, strokes)
            assert prediction_text(window) == digit, (digit, prediction_text(window))
        answers = {}
        for name, strokes in NON_DIGITS.items():
            canvas.clear()
            _draw_shape(canvas, strokes)
            assert_honest(window)
            answers[name] = prediction_text(window)
        canvas.clear()
        _whole_canvas_scribble(window)
        answers["whole-canvas scribble"] = prediction_text(window)
        unsure = [name for name, text in answers.items() if text.endswith("?") or text == "not a digit"]
        assert len(unsure) > len(answers) / 2, f"only {len(unsure)} of {len(answers)} unsure: {answers}"
        assert "not a digit" in answers.values(), answers  # the clearest of them are called so
    finally:
        close_window(window)
