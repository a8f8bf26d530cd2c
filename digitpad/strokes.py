"""Pen strokes as the canvas records them, and how the model is shown them.

A person picks a pen width; the model should not care which. So the model is
not shown the canvas's pixels but the same strokes redrawn with one even pen,
always the same share of the drawing's size: read from the pixels, a thin or a
wide pen changed the answers, redrawn they do not (tests/bench/RESULTS.md,
"Every pen width"; only what counts as a stray tap depends on the pen).

Only NumPy here, and PIL when drawing: the canvas imports this module while
the window starts, before torch is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

# The drawing's longer side when redrawn, in pixels; to_mnist_image then
# shrinks it to MNIST's 20 px box, which smooths the edges. PIL does not
# antialias, and at 50 px its coarse strokes made drawings with hooks read
# worse than a picture of the canvas; at 150 px most of that gap closes, for
# 0.3 ms more a drawing (tests/bench/RESULTS.md, "The redraw's size").
REDRAW_SPAN_PX = 150
# 0.14 of the span: on the 20 px box the strokes are then as wide as a typical
# MNIST digit's (2.6 px of ink per skeleton pixel, the median over 10,000
# training digits).
REDRAW_PEN_PX = 21
# Along a stroke, one point per this many of the redraw's pixels is drawn:
# 0.8 px once shrunk to the 20 px box, below what the model can see.
REDRAW_STEP_PX = 6.0
# Strokes with no more points than this are drawn as they are: thinning them
# would cost more than it saves.
_FEW_POINTS = 64
# Stray taps are accidents: a drawing with more taps than this is dotted on
# purpose, and one with more strokes is not a digit drawn the usual way (the
# MNIST strokes have at most 8, and 4 taps). Past them, looking for strays
# would cost more than a frame, as every tap is compared with every stroke.
_MOST_TAPS = 8
_MOST_STROKES = 32


@dataclass
class Stroke:
    """One pen-down..pen-up trajectory: ``points`` (x right, y down) and the pen's ``width``, in one unit."""

    width: float
    points: list[tuple[float, float]] = field(default_factory=list)


def redraw(strokes: Sequence[Stroke]) -> np.ndarray | None:
    """The strokes redrawn for the model: float32 (H, W), ink 1 on paper 0; None without points.

    A drawing smaller than the pen it was drawn with (a dot, a tap) stays that
    pen's blob instead of being blown up to full size. Stray taps beside a
    drawing are left out (see ``_stray_taps``).
    """
    kept = marks(strokes)
    return None if kept is None else np.asarray(_redrawn(kept))


def to_mnist_image(strokes: Sequence[Stroke]) -> np.ndarray | None:
    """The strokes as the model's 28x28 input image (float32, ink 1, paper 0); None without points.

    Redrawn, then cropped, scaled and centred as ``preprocess.to_mnist_image``
    does to any image, with the same result, but without first finding the ink
    in an image whose ink is known.
    """
    kept = marks(strokes)
    return None if kept is None else mnist_image_of(kept)


def mnist_image_of(kept: Marks) -> np.ndarray:
    """``to_mnist_image`` of strokes whose ``marks`` are already found."""
    from digitpad.preprocess import fit_and_centre

    return fit_and_centre(_redrawn(kept))


def _stray_taps(widths: np.ndarray, lows: np.ndarray, highs: np.ndarray, trajectories: list[np.ndarray]) -> np.ndarray:
    """Which strokes are stray taps (a mask), given each one's pen width, box and points.

    A stray tap is a mark no bigger than its pen that touches nothing else: a
    click to focus the window, or a pen set down by accident. Kept, it would
    widen the drawing's box and shrink the digit (tests/bench/RESULTS.md,
    "Stray clicks"). Taps that touch the drawing are part of it, and a drawing
    made only of taps is kept whole.
    """
    small = (highs - lows).max(axis=1) <= widths
    stray = np.zeros(len(widths), dtype=bool)
    if small.all() or not small.any() or small.sum() > _MOST_TAPS or len(widths) > _MOST_STROKES:
        return stray
    boxes = np.concatenate([lows, highs], axis=1).tolist()
    paths: dict[int, np.ndarray] = {}

    def path(index: int) -> np.ndarray:
        # A quarter of the pen is precision enough to tell whether two strokes meet.
        if index not in paths:
            points = trajectories[index]
            paths[index] = _thinned(points, widths[index] / 4.0) if len(points) > _FEW_POINTS else points
        return paths[index]

    def touch(i: int, j: int) -> bool:
        reach = (widths[i] + widths[j]) / 2.0
        (left_i, top_i, right_i, bottom_i), (left_j, top_j, right_j, bottom_j) = boxes[i], boxes[j]
        gap_x = max(left_i - right_j, left_j - right_i, 0.0)
        gap_y = max(top_i - bottom_j, top_j - bottom_i, 0.0)
        if gap_x * gap_x + gap_y * gap_y >= reach * reach:
            return False
        return _distance_to_path(path(i), path(j)) < reach or _distance_to_path(path(j), path(i)) < reach

    small_indices = np.flatnonzero(small).tolist()
    large_indices = np.flatnonzero(~small).tolist()
    touching_drawing = {i for i in small_indices if any(touch(i, j) for j in large_indices)}
    # Small strokes that touch one another make one mark; it is part of the
    # drawing if any of them touches a larger stroke, or if together they are
    # bigger than their pen (a dotted line).
    group = {i: i for i in small_indices}

    def root(index: int) -> int:
        while group[index] != index:
            index = group[index]
        return index

    for position, i in enumerate(small_indices):
        for j in small_indices[position + 1 :]:
            if not (i in touching_drawing and j in touching_drawing) and touch(i, j):
                group[root(i)] = root(j)
    marks: dict[int, list[int]] = {}
    for i in small_indices:
        marks.setdefault(root(i), []).append(i)
    for members in marks.values():
        if touching_drawing.intersection(members):
            continue
        extent = highs[members].max(axis=0) - lows[members].min(axis=0)
        if float(extent.max()) <= float(widths[members].max()):
            stray[members] = True
    return stray


def _distance_to_path(points: np.ndarray, path: np.ndarray) -> float:
    """The shortest distance from any of ``points`` to the polyline ``path``."""
    return float(_distances_to_path(points, path).min())


def _distances_to_path(points: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Each of ``points``' distance to the nearest point of the polyline ``path``."""
    if len(path) == 1:
        return np.hypot(*(points - path[0]).T)
    starts, steps = path[:-1], np.diff(path, axis=0)
    lengths_squared = (steps**2).sum(axis=1)
    offsets = points[:, None, :] - starts[None, :, :]
    along = (offsets * steps[None]).sum(axis=2) / np.where(lengths_squared > 0, lengths_squared, 1.0)
    nearest = starts[None] + np.clip(along, 0.0, 1.0)[..., None] * steps[None]
    return np.sqrt(((points[:, None, :] - nearest) ** 2).sum(axis=2)).min(axis=1)


def _thinned(points: np.ndarray, step: float) -> np.ndarray:
    """A trajectory with one point per ``step`` of its length: the first point past each step (the ends stay)."""
    if len(points) <= 2 or step <= 0:
        return points
    along = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))))
    steps_reached = np.floor(along / step)
    keep = np.concatenate(([True], steps_reached[1:] > steps_reached[:-1]))
    keep[-1] = True
    return points[keep]


def _as_array(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Points as a float (N, 2) array; twice as fast as ``np.asarray`` on the long lists a fast mouse leaves."""
    return np.fromiter(chain.from_iterable(points), dtype=np.float64, count=2 * len(points)).reshape(-1, 2)


@dataclass(frozen=True)
class Marks:
    """The strokes that count, as arrays: each one's points (N, 2), pen width and box."""

    trajectories: list[np.ndarray]
    widths: np.ndarray  # (S,)
    lows: np.ndarray  # (S, 2): each stroke's smallest x and y
    highs: np.ndarray  # (S, 2)


def marks(strokes: Sequence[Stroke]) -> Marks | None:
    """The strokes with points, less stray taps beside the drawing (see ``_stray_taps``); None without points."""
    strokes = [stroke for stroke in strokes if stroke.points]
    if not strokes:
        return None
    trajectories = [_as_array(stroke.points) for stroke in strokes]
    every_point = np.concatenate(trajectories)
    starts = np.cumsum([0] + [len(points) for points in trajectories[:-1]])
    widths = np.array([stroke.width for stroke in strokes], dtype=np.float64)
    lows = np.minimum.reduceat(every_point, starts, axis=0)
    highs = np.maximum.reduceat(every_point, starts, axis=0)
    stray = _stray_taps(widths, lows, highs, trajectories)
    if stray.any():
        trajectories = [points for points, left_out in zip(trajectories, stray) if not left_out]
        widths, lows, highs = widths[~stray], lows[~stray], highs[~stray]
    return Marks(trajectories, widths, lows, highs)


def _redrawn(kept: Marks):
    from PIL import Image, ImageDraw

    trajectories, widths, lows, highs = kept.trajectories, kept.widths, kept.lows, kept.highs
    origin = lows.min(axis=0)
    extent = highs.max(axis=0) - origin
    span = max(float(extent.max()), float(widths.max()))
    scale = REDRAW_SPAN_PX / span if span > 0 else 1.0
    radius = REDRAW_PEN_PX / 2.0
    margin = radius + 1.0
    width, height = (int(size) for size in np.ceil(extent * scale + 2.0 * margin))
    # Float ink from the start ("F"): the preprocessing works on floats.
    image = Image.new("F", (width, height), 0.0)
    pen = ImageDraw.Draw(image)
    for trajectory in trajectories:
        points = (trajectory - origin) * scale + margin
        if len(points) > _FEW_POINTS:
            # A mouse that reports often gives hundreds of points a stroke, and PIL
            # draws each corner with its own Python call; closer than a step
            # apart, they change nothing the model sees.
            points = _thinned(points, REDRAW_STEP_PX)
        if len(points) > 1:
            pen.line(points.ravel().tolist(), fill=1.0, width=REDRAW_PEN_PX, joint="curve")
        # PIL's wide lines end square and notch sharp turns, such as a hook where the
        # pen landed; a round pen leaves a round mark at every point it passes.
        for x, y in points:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=1.0)
    return image
