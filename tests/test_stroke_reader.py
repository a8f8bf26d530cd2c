"""The stroke reader: the pen path it reads, its network, how its answer joins the CNN's, and its training data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from digitpad import pen_path, stroke_augment, stroke_reader
from digitpad.pen_path import PATH_CHANNELS, PATH_POINTS
from digitpad.strokes import Stroke

SEVEN = [np.array([[2.0, 3.0], [12.0, 3.0], [6.0, 20.0]])]
FOUR = [np.array([[9.0, 2.0], [3.0, 13.0], [14.0, 13.0]]), np.array([[11.0, 6.0], [11.0, 21.0]])]


def _dense(stroke: np.ndarray, spacing: float) -> np.ndarray:
    """The same polyline with a point every ``spacing``, as a tablet reports it."""
    pieces = [np.linspace(a, b, max(2, int(np.hypot(*(b - a)) / spacing)), endpoint=False)
              for a, b in zip(stroke[:-1], stroke[1:])]
    return np.vstack(pieces + [stroke[-1:]])


def test_a_pen_path_is_the_same_wherever_and_however_large_and_however_densely_it_is_drawn():
    path = pen_path.pen_path(FOUR)
    assert path.shape == (PATH_CHANNELS, PATH_POINTS) and path.dtype == np.float32
    moved_and_scaled = pen_path.pen_path([stroke * 7.5 + [100.0, -40.0] for stroke in FOUR])
    np.testing.assert_allclose(moved_and_scaled, path, atol=1e-5)
    dense = pen_path.pen_path([_dense(stroke, 0.05) for stroke in FOUR])
    assert np.abs(dense[:2] - path[:2]).max() < 0.05  # positions, on a -1..1 box
    # The box's longer side spans -1..1; the directions are unit vectors.
    assert np.abs(path[:2]).max() == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(np.hypot(path[2], path[3]), 1.0, atol=1e-5)


def test_a_pen_path_marks_where_the_pen_landed_and_lifted():
    path = pen_path.pen_path(FOUR)
    landed, lifts = path[4], path[5]
    assert landed[0] == 1 and lifts[-1] == 1
    assert landed.sum() == lifts.sum() == 2  # two strokes
    first_of_second = int(np.flatnonzero(landed)[1])
    assert lifts[first_of_second - 1] == 1
    # The second stroke is the 4's stem: straight down.
    np.testing.assert_allclose(path[2:4, first_of_second + 1:-1].T, [[0.0, 1.0]] * (PATH_POINTS - first_of_second - 2),
                               atol=1e-3)


def test_a_pixel_staircase_gives_nearly_the_path_of_the_line_it_steps_along():
    diagonal = np.array([[0.0, 0.0], [20.0, 20.0]])
    staircase = np.array([[x + dx, x] for x in range(20) for dx in (0, 1)] + [[20.0, 20.0]])
    smooth, stepped = pen_path.pen_path([diagonal]), pen_path.pen_path([staircase])
    assert np.abs(stepped[:2] - smooth[:2]).max() < 0.1
    # Most directions follow the diagonal, not the steps' right angles.
    along = stepped[2:4].T @ np.array([1.0, 1.0]) / np.sqrt(2)
    assert np.median(along) > 0.95


def test_the_canvas_path_leaves_stray_taps_out_and_a_tap_alone_is_a_path():
    strokes = [Stroke(0.08, [tuple(point) for point in stroke / 25.0]) for stroke in SEVEN]
    tap = Stroke(0.08, [(2.0, 2.0)])
    np.testing.assert_allclose(pen_path.from_strokes(strokes + [tap]), pen_path.from_strokes(strokes))
    assert pen_path.from_strokes([]) is None
    alone = pen_path.from_strokes([tap])
    assert alone.shape == (PATH_CHANNELS, PATH_POINTS) and np.isfinite(alone).all()


def test_the_reader_gives_log_probabilities_for_a_batch_of_paths():
    reader = stroke_reader.StrokeReader().eval()
    paths = torch.from_numpy(np.stack([pen_path.pen_path(SEVEN), pen_path.pen_path(FOUR)]))
    log_probabilities = reader(paths)
    assert log_probabilities.shape == (2, 10)
    np.testing.assert_allclose(log_probabilities.exp().sum(dim=1).detach().numpy(), 1.0, rtol=1e-5)


def test_combining_two_answers_weighs_them_and_sums_to_one():
    image = np.array([[0.9, 0.1] + [0.0] * 8, [0.6, 0.4] + [0.0] * 8])
    strokes = np.array([[0.8, 0.2] + [0.0] * 8, [0.1, 0.9] + [0.0] * 8])
    joined = stroke_reader.combine(image, strokes)
    np.testing.assert_allclose(joined.sum(axis=1), 1.0)
    assert 0.8 < joined[0, 0] < 0.9  # a weighted geometric mean: between the two
    # The image counts more: 0.6 against 0.4 is outweighed only by a reader that is quite sure.
    expected = 0.6 ** stroke_reader.IMAGE_WEIGHT * 0.1 ** (1 - stroke_reader.IMAGE_WEIGHT)
    other = 0.4 ** stroke_reader.IMAGE_WEIGHT * 0.9 ** (1 - stroke_reader.IMAGE_WEIGHT)
    assert joined[1, 0] == pytest.approx(expected / (expected + other), rel=1e-4)


def test_a_writer_changes_a_digit_but_keeps_it_whole():
    rng = np.random.default_rng(0)
    for _ in range(50):
        written = stroke_augment.as_written(FOUR, 4, rng)
        assert len(written) == 2 and all(np.isfinite(stroke).all() for stroke in written)
        assert sum(len(stroke) for stroke in written) >= 5  # nothing dropped; maybe a hook added
    # Half the 1s get a flag, drawn in one go with the stroke that starts at the top.
    one = [np.array([[5.0, 2.0], [5.0, 20.0]])]
    flagged = [stroke_augment.with_habits(one, 1, np.random.default_rng(seed)) for seed in range(200)]
    with_flag = [strokes for strokes in flagged if len(strokes[0]) == 3]
    assert 0.35 < len(with_flag) / 200 < 0.65
    assert all(strokes[0][0][0] < 5.0 and strokes[0][0][1] > 2.0 for strokes in with_flag)  # from down-left


def test_non_digit_strokes_come_from_every_family_and_rows_of_digits():
    rng = np.random.default_rng(1)
    drawings = stroke_augment.non_digit_strokes(400, rng, [SEVEN, FOUR])
    assert len(drawings) == 400
    assert all(drawing and all(np.isfinite(stroke).all() and len(stroke) >= 2 for stroke in drawing)
               for drawing in drawings)
    widths = [np.ptp(np.concatenate(drawing)[:, 0]) for drawing in drawings]
    # Rows of two or three digits are several digits wide.
    assert sum(width > 25 for width in widths) >= 0.15 * 400
    for drawing in drawings:
        assert pen_path.pen_path(drawing).shape == (PATH_CHANNELS, PATH_POINTS)
