"""A drawing as the path its pen took, for the stroke reader (``digitpad.stroke_reader``).

The image the CNN reads keeps the ink and loses how it was laid down. The pen
path keeps that too: the order of the strokes, which way each one runs and
where the pen lifted. It is the same whatever device drew it: the drawing is
scaled to its box, smoothed, and walked at ``PATH_POINTS`` evenly spaced
positions along its ink, so a tablet's dense, uneven points, a mouse's pixel
steps and a traced skeleton's staircases all give the same path.

Each position is six numbers: where it is (x, y, the box's longer side
spanning -1 to 1), which way the pen moves there (a unit vector), and whether
the pen has just landed or is about to lift.

Only NumPy here: the canvas calls it on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digitpad.strokes import Marks, Stroke, marks

PATH_POINTS = 64
PATH_CHANNELS = 6  # x, y, direction x, direction y, pen landed, pen lifts
# Before smoothing, each stroke is resampled every 1/32 of the drawing's longer
# side and averaged over 3 neighbours: that removes a traced skeleton's pixel
# staircase (which otherwise cost the reader 20 points on ../shared/strokes)
# and keeps a digit's corners (tests/bench/RESULTS.md, "A second reader").
_SMOOTHING_STEP = 1 / 32
_SMOOTHING_WIDTH = 3
# A tap has no length; it is given this much (of the box) so that a dot still gets a position.
_TAP_LENGTH = 1e-3


def from_strokes(strokes: Sequence[Stroke]) -> np.ndarray | None:
    """The canvas's strokes as a pen path (PATH_CHANNELS, PATH_POINTS), float32; None without points.

    Stray taps are left out, as the CNN's redraw leaves them out.
    """
    kept = marks(strokes)
    return None if kept is None else from_marks(kept)


def from_marks(kept: Marks) -> np.ndarray:
    """``from_strokes`` of strokes whose ``marks`` are already found (the redraw found them too)."""
    return pen_path(kept.trajectories)


def pen_path(strokes: Sequence[np.ndarray], points: int = PATH_POINTS) -> np.ndarray:
    """Strokes, each (K, 2) of (x, y) with y down, in any unit, as a pen path (PATH_CHANNELS, ``points``)."""
    strokes = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in strokes if len(stroke)]
    if not strokes:
        raise ValueError("a pen path needs at least one point")
    every_point = np.concatenate(strokes)
    low, high = every_point.min(axis=0), every_point.max(axis=0)
    centre = (low + high) / 2.0
    span = max(float((high - low).max()), 1e-9)
    smooth = [_averaged(_evenly_spaced((stroke - centre) / span, _SMOOTHING_STEP)) for stroke in strokes]

    starts, ends, stroke_of = [], [], []
    for number, stroke in enumerate(smooth):
        if len(stroke) == 1:
            stroke = np.vstack([stroke, stroke])
        starts.append(stroke[:-1])
        ends.append(stroke[1:])
        stroke_of.append(np.full(len(stroke) - 1, number))
    start, end, stroke_of = np.concatenate(starts), np.concatenate(ends), np.concatenate(stroke_of)
    step = end - start
    length = np.maximum(np.hypot(step[:, 0], step[:, 1]), _TAP_LENGTH)
    reached = np.cumsum(length)
    # Evenly along the ink only: the jumps between strokes are not part of it.
    along = (np.arange(points) + 0.5) / points * reached[-1]
    segment = np.minimum(np.searchsorted(reached, along, side="right"), len(reached) - 1)
    share = np.clip((along - (reached[segment] - length[segment])) / length[segment], 0.0, 1.0)
    position = start[segment] + share[:, None] * step[segment]
    direction = step[segment] / length[segment][:, None]
    stroke_changes = stroke_of[segment][1:] != stroke_of[segment][:-1]
    landed = np.concatenate([[True], stroke_changes])
    lifts = np.concatenate([stroke_changes, [True]])
    # Positions doubled: the box's longer side spans -1..1, like the directions.
    return np.stack([2.0 * position[:, 0], 2.0 * position[:, 1], direction[:, 0], direction[:, 1],
                     landed, lifts]).astype(np.float32)


def _evenly_spaced(stroke: np.ndarray, step: float) -> np.ndarray:
    """A point every ``step`` along the stroke, its ends kept; a tap stays a point."""
    if len(stroke) < 2:
        return stroke
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(stroke, axis=0).T))])
    if along[-1] <= step:
        return stroke[[0, -1]]
    stops = np.append(np.arange(0.0, along[-1], step), along[-1])
    return np.column_stack([np.interp(stops, along, stroke[:, 0]), np.interp(stops, along, stroke[:, 1])])


def _averaged(stroke: np.ndarray, width: int = _SMOOTHING_WIDTH) -> np.ndarray:
    """A moving average over ``width`` points, the stroke's ends kept where they are."""
    if len(stroke) <= width:
        return stroke
    padded = np.concatenate([np.repeat(stroke[:1], width // 2, axis=0), stroke,
                             np.repeat(stroke[-1:], width // 2, axis=0)])
    kernel = np.full(width, 1.0 / width)
    averaged = np.column_stack([np.convolve(padded[:, axis], kernel, mode="valid") for axis in range(2)])
    averaged[0], averaged[-1] = stroke[0], stroke[-1]
    return averaged
