"""Many writers on a tablet: a proxy for real handwriting, built from the MNIST test digits' strokes.

Every sample is written by a new random writer (issue 19's list): a slant, a
tilt, narrow or wide digits; now and then a crossed 7, a flagged 1 or a slashed
0 (writers.py's shapes); strokes drawn in the other direction or another order;
small hooks where the pen lands or lifts; a hand that wobbles; and a tablet's
sampling: a point every 0.5 to 3 pixels, slow at each stroke's ends and fast in
between, with repeated points where the pen paused. The digit is placed on the
canvas as people draw (0.7 to 1.3 times MNIST's size, anywhere it fits).

For measuring only: these drawings never go into training.
"""

from __future__ import annotations

import numpy as np

from stroke_replay import distances_along, points_at, strokes_of, to_canvas_points
from writers import continental_one, crossed_seven, flagged_one, slashed_zero, style_map, upright

# (digit, shape, how often a writer draws it that way)
_SHAPES = ((7, crossed_seven, 0.25), (1, continental_one, 0.15), (1, flagged_one, 0.1), (0, slashed_zero, 0.03))


def _hooked(stroke: np.ndarray, at_start: bool, height: float, rng: np.random.Generator) -> np.ndarray:
    """A small hook where the pen lands (or lifts): a few points bent back from the stroke's direction."""
    if len(stroke) < 2:
        return stroke
    end, inner = (stroke[0], stroke[1]) if at_start else (stroke[-1], stroke[-2])
    away = end - inner
    away = away / max(float(np.hypot(*away)), 1e-6)
    side = np.array([-away[1], away[0]]) * rng.choice([-1.0, 1.0])
    length = rng.uniform(0.04, 0.09) * height
    hook = np.array([end + length * (0.5 * away + side * t) for t in (0.35, 0.7, 1.0)])
    return np.vstack([hook[::-1], stroke]) if at_start else np.vstack([stroke, hook])


def _wobbled(strokes: list[np.ndarray], amount: float, rng: np.random.Generator) -> list[np.ndarray]:
    """A smooth, slow drift of the hand: the same displacement field for all strokes."""
    frequency = rng.uniform(0.08, 0.2, size=2)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    return [np.column_stack([s[:, 0] + amount * np.sin(frequency[0] * s[:, 1] + phase[0]),
                             s[:, 1] + amount * np.sin(frequency[1] * s[:, 0] + phase[1])]) for s in strokes]


def _tablet_sampled(points: list[tuple[float, float]], rng: np.random.Generator) -> list[tuple[float, float]]:
    """The path as a tablet records it: dense, uneven (slow at the ends), with repeated points."""
    path = np.asarray(points, dtype=np.float64)
    if len(path) < 2:
        return [tuple(point) for point in path]
    along = distances_along(path)
    spacing = rng.uniform(0.5, 3.0)
    count = max(2, int(along[-1] / spacing) + 1)
    # Evenly spaced in time; the pen speeds up and slows down along the stroke.
    time = np.linspace(0.0, 1.0, count)
    progress = time - np.sin(2 * np.pi * time) / (2 * np.pi)
    stops = progress * along[-1]
    sampled = points_at(path, along, stops)
    repeats = rng.random(len(sampled)) < 0.05
    return [tuple(point) for point in np.repeat(sampled, np.where(repeats, 2, 1), axis=0)]


def proxy_strokes(sequence: np.ndarray, digit: int, side: int, rng: np.random.Generator,
                  shapes: bool = True) -> list[list[tuple[float, float]]]:
    """One MNIST stroke sequence as a random writer draws it, in canvas pixels of a ``side`` x ``side`` canvas.

    ``shapes=False``: no flagged 1s, crossed 7s or slashed 0s (training draws those too; see proxy_shapes.py).
    """
    strokes = upright(strokes_of(sequence))
    for shaped_digit, shape, share in _SHAPES if shapes else ():
        if digit == shaped_digit and rng.random() < share:
            strokes = shape(strokes)
            break
    style = style_map(rotate_degrees=float(np.clip(rng.normal(0.0, 6.0), -15, 15)),
                      slant=rng.uniform(-0.2, 0.45), aspect=rng.uniform(0.75, 1.25))
    strokes = [stroke @ style.T for stroke in strokes]
    height = float(np.ptp(np.concatenate(strokes)[:, 1])) or 1.0
    if rng.random() < 0.3:
        strokes = [stroke[::-1] for stroke in strokes]
    if len(strokes) > 1 and rng.random() < 0.2:
        strokes = [strokes[i] for i in rng.permutation(len(strokes))]
    hooks = rng.uniform(0.0, 0.5)  # this writer's habit
    strokes = [_hooked(stroke, True, height, rng) if rng.random() < hooks else stroke for stroke in strokes]
    strokes = [_hooked(stroke, False, height, rng) if rng.random() < hooks / 2 else stroke for stroke in strokes]
    strokes = _wobbled(strokes, rng.uniform(0.0, 0.6), rng)
    return [_tablet_sampled(stroke, rng) for stroke in to_canvas_points(strokes, side, side, rng)]
