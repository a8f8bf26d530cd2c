"""Strokes redrawn for the model: the same picture whatever pen or size they were drawn with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from digitpad import preprocess
from digitpad.strokes import REDRAW_PEN_PX, REDRAW_SPAN_PX, Stroke, redraw, to_mnist_image
from stroke_replay import at_mouse_rate


def seven(width: float, scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> list[Stroke]:
    """A 7 and a bar across it: two strokes, in unit coordinates."""
    top_and_down = [(-0.2, -0.33), (0.0, -0.33), (0.2, -0.33), (0.1, 0.0), (-0.02, 0.33)]
    bar = [(-0.05, 0.0), (0.2, 0.0)]
    return [
        Stroke(width * scale, [(x * scale + shift[0], y * scale + shift[1]) for x, y in points])
        for points in (top_and_down, bar)
    ]


def model_image(strokes: list[Stroke]) -> np.ndarray:
    image = to_mnist_image(strokes)
    assert image is not None and image.shape == (28, 28) and image.dtype == np.float32
    return image


def test_the_pen_width_does_not_change_the_picture():
    thin, default, wide = (redraw(seven(width)) for width in (0.02, 0.08, 0.20))
    assert np.array_equal(thin, default) and np.array_equal(wide, default)


def test_neither_does_the_size_nor_the_place():
    reference = redraw(seven(0.08))
    assert np.array_equal(redraw(seven(0.08, scale=2.0, shift=(3.0, -5.0))), reference)
    assert np.abs(model_image(seven(0.08, scale=0.37, shift=(0.1, 0.2))) - model_image(seven(0.08))).max() < 0.02


def test_the_drawing_spans_the_redraw_with_one_even_pen():
    image = redraw([Stroke(0.08, [(0.0, 0.0), (0.0, 0.5)])])  # a vertical line
    height, width = image.shape
    ink_rows = np.flatnonzero(image.max(axis=1))
    ink_cols = np.flatnonzero(image.max(axis=0))
    # The line's length is the span; the round pen adds its radius at both ends.
    assert ink_rows[-1] - ink_rows[0] + 1 == pytest.approx(REDRAW_SPAN_PX + REDRAW_PEN_PX, abs=2)
    assert ink_cols[-1] - ink_cols[0] + 1 == pytest.approx(REDRAW_PEN_PX, abs=1)
    assert height > 5 * width
    assert set(np.unique(image)) == {0.0, 1.0}


@pytest.mark.parametrize("turn", ["hook where the pen lands", "zig-zag"])
def test_sharp_turns_are_inked_like_a_round_pen(turn):
    from digitpad.strokes import _distances_to_path

    corners = {"hook where the pen lands": [(0.05, 0.1), (0.0, 0.0), (0.1, 0.02), (0.12, 0.5)],
               "zig-zag": [(0.0, 0.0), (0.3, 0.05), (0.02, 0.12), (0.3, 0.2), (0.0, 0.5)]}[turn]
    image = redraw([Stroke(0.08, corners)])
    # The redraw's own frame: the drawing's box to REDRAW_SPAN_PX, a pen's radius and a pixel of margin.
    points = np.asarray(corners)
    radius = REDRAW_PEN_PX / 2.0
    in_redraw = (points - points.min(axis=0)) * REDRAW_SPAN_PX / np.ptp(points, axis=0).max() + radius + 1.0
    rows, columns = np.indices(image.shape)
    centres = np.column_stack([columns.ravel() + 0.5, rows.ravel() + 0.5])
    distance = _distances_to_path(centres, in_redraw).reshape(image.shape)
    assert image[distance <= radius - 1.0].min() == 1.0, "no notch where the stroke turns"
    assert image[distance >= radius + 1.0].max() == 0.0, "no spike past the pen's reach"


def test_every_stroke_is_drawn():
    both = model_image(seven(0.08))
    first_only = model_image(seven(0.08)[:1])
    assert not np.allclose(both, first_only)


def test_a_dot_is_a_round_blob():
    dot = model_image([Stroke(0.08, [(0.3, 0.3)])])
    rows, cols = np.nonzero(dot > 0.5)
    assert rows.max() - rows.min() == pytest.approx(cols.max() - cols.min(), abs=1)
    assert rows.max() - rows.min() >= 15  # fitted to the 20 px box like any digit


def ink_share_of_box(image: np.ndarray) -> float:
    rows, cols = np.nonzero(image > 0.5)
    return (image > 0.5).sum() / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1))


def test_a_drawing_smaller_than_its_pen_stays_a_blob():
    """A tap that wobbled a little is not blown up into a full-size hairline scribble."""
    wobble = [(0.30, 0.30), (0.31, 0.302), (0.305, 0.31)]
    assert ink_share_of_box(model_image([Stroke(0.08, wobble)])) > 0.6
    # The same wobble drawn with a hairline pen is a squiggle of its own size.
    assert ink_share_of_box(model_image([Stroke(0.001, wobble)])) < 0.4


@pytest.mark.parametrize("strokes", [[], [Stroke(0.08, [])]])
def test_no_points_no_picture(strokes):
    assert redraw(strokes) is None and to_mnist_image(strokes) is None


def test_the_model_image_is_the_redraw_preprocessed_like_any_image():
    """The shortcut (the ink is known) gives exactly what the general preprocessing gives."""
    for strokes in (seven(0.08), seven(0.2, scale=0.3), [Stroke(0.08, [(0.3, 0.3)])], seven(0.08)[:1]):
        assert np.array_equal(to_mnist_image(strokes), preprocess.to_mnist_image(redraw(strokes), light_ink=True))


def test_the_classifier_reads_strokes_as_it_reads_their_redraw():
    from digitpad.config import ModelConfig
    from digitpad.inference import Classifier
    from digitpad.models import build_model

    torch.manual_seed(0)
    config = ModelConfig(arch="cnn", channels=(4, 8))
    tiny_classifier = Classifier(build_model(config), config)
    strokes = seven(0.2)
    from_strokes = tiny_classifier.predict_strokes(strokes)
    from_image = tiny_classifier.predict(redraw(strokes), light_ink=True)
    assert np.array_equal(from_strokes.model_input, from_image.model_input)
    assert from_strokes.digit == from_image.digit
    assert np.array_equal(from_strokes.probabilities, from_image.probabilities)
    assert tiny_classifier.predict_strokes([]) is None


def test_any_drawing_gives_a_model_image():
    """Random strokes of every shape and scale: one stroke or many, dots, far-flung points, zero-width pens."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        scale = 10.0 ** rng.uniform(-4, 4)
        strokes = [
            Stroke(float(rng.choice([0.0, 0.02, 0.08, 0.2])) * scale,
                   [tuple(point) for point in rng.normal(size=(int(rng.integers(1, 40)), 2)) * scale])
            for _ in range(int(rng.integers(1, 6)))
        ]
        image = to_mnist_image(strokes)
        assert image is not None and image.shape == (28, 28)
        assert image.min() >= 0.0 and image.max() <= 1.0 and image.max() > 0.5


def test_a_mouse_that_reports_often_is_redrawn_as_if_point_by_point(monkeypatch):
    import digitpad.strokes

    turn = np.linspace(0.0, 2.0 * np.pi, 3000)
    zero = [Stroke(0.08, list(zip(0.5 + 0.25 * np.cos(turn), 0.5 + 0.33 * np.sin(turn))))]
    dense_seven = [Stroke(stroke.width, at_mouse_rate(stroke.points, 0.001)) for stroke in seven(0.08)]
    for drawing in (zero, dense_seven):
        assert sum(len(stroke.points) for stroke in drawing) > 1000
        thinned = redraw(drawing)
        with monkeypatch.context() as every_point:
            every_point.setattr(digitpad.strokes, "REDRAW_STEP_PX", 0.0)
            point_by_point = redraw(drawing)
        assert thinned.shape == point_by_point.shape
        # Only edge pixels differ.
        assert (thinned != point_by_point).sum() < 0.08 * point_by_point.sum()


def test_a_long_stroke_is_drawn_with_a_corner_per_step_not_per_point(monkeypatch):
    from PIL import ImageDraw

    drawn_points = []
    original_line = ImageDraw.ImageDraw.line

    def counting_line(self, xy, *args, **kwargs):
        drawn_points.append(len(xy) // 2)
        return original_line(self, xy, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "line", counting_line)
    turn = np.linspace(0.0, 2.0 * np.pi, 3000)
    redraw([Stroke(0.08, list(zip(0.5 + 0.25 * np.cos(turn), 0.5 + 0.25 * np.sin(turn))))])
    # A circle REDRAW_SPAN_PX across is about pi times that round: one corner per step, not 3,000.
    assert drawn_points and max(drawn_points) <= 100


def test_the_redraw_draws_one_corner_per_step_of_the_stroke_and_keeps_its_ends():
    from digitpad.strokes import REDRAW_STEP_PX, _thinned

    along_a_line = np.column_stack([np.linspace(0.0, 100.0, 1001), np.zeros(1001)])
    kept = _thinned(along_a_line, REDRAW_STEP_PX)
    assert len(kept) == pytest.approx(100.0 / REDRAW_STEP_PX + 1, abs=1)
    assert np.array_equal(kept[0], along_a_line[0]) and np.array_equal(kept[-1], along_a_line[-1])
    # Every kept point is a step past the one before, but the last, which ends the line.
    assert np.diff(kept[:-1, 0]).min() >= REDRAW_STEP_PX - 0.1 - 1e-9
    # Points already a step apart are all kept.
    spaced = along_a_line[:: int(10 * REDRAW_STEP_PX)]
    assert np.array_equal(_thinned(spaced, REDRAW_STEP_PX), spaced)


def tap(x: float, y: float, width: float = 0.08) -> Stroke:
    """A click: press and release at one spot."""
    return Stroke(width, [(x, y)])


def test_a_stray_tap_beside_the_drawing_is_left_out():
    alone = model_image(seven(0.08))
    for spot in ((0.45, 0.45), (-0.45, 0.4), (0.0, -0.48)):
        assert np.array_equal(model_image(seven(0.08) + [tap(*spot)]), alone)
        assert np.array_equal(model_image([tap(*spot)] + seven(0.08)), alone)


def test_a_tap_on_the_drawing_or_touching_it_is_part_of_it():
    alone = model_image(seven(0.08))
    # Just past the end of the 7's stem: the dot's ink meets the stroke's.
    touching = seven(0.08) + [tap(-0.02, 0.33 + 0.07)]
    assert not np.array_equal(model_image(touching), alone)
    # The dot made the drawing taller, so the redraw, scaled to its longer side, is narrower.
    assert redraw(touching).shape[1] < redraw(seven(0.08)).shape[1]
    # A second dot touching only the first is part of the drawing too.
    chained = touching + [tap(-0.02, 0.33 + 0.14)]
    assert redraw(chained).shape[1] < redraw(touching).shape[1]


def test_a_drawing_of_taps_only_is_kept_whole():
    two_dots = [tap(0.0, 0.0), tap(0.0, 0.5)]
    image = model_image(two_dots)
    rows = np.flatnonzero(image.max(axis=1) > 0.5)
    assert np.ptp(rows) > 15  # both dots, the drawing's full height apart
    assert len(np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)) == 2


def test_short_strokes_that_are_not_taps_stay():
    alone = model_image(seven(0.08))
    # A dash longer than the pen is wide, away from the 7.
    assert not np.array_equal(model_image(seven(0.08) + [Stroke(0.08, [(0.4, 0.45), (0.5, 0.45)])]), alone)
    # Taps in a row, touching one another, make a dotted line longer than the pen.
    dotted = [tap(0.35 + 0.03 * k, 0.45) for k in range(6)]
    assert not np.array_equal(model_image(seven(0.08) + dotted), alone)


def test_many_taps_are_dotted_on_purpose_and_stay():
    from digitpad.strokes import _MOST_TAPS

    alone = model_image(seven(0.08))
    dots = [tap(0.45, -0.45 + 0.9 * k / _MOST_TAPS) for k in range(_MOST_TAPS + 1)]  # a column of separate dots
    assert not np.array_equal(model_image(seven(0.08) + dots), alone)
    assert np.array_equal(model_image(seven(0.08) + dots[:_MOST_TAPS:2]), alone)
