"""Simulated writers for tests/bench/teach.py: one consistent style applied to every digit they write.

Each writer's drawings are the MNIST test digits' pen strokes (../shared/strokes)
changed the way that writer draws: a slant, a tilt, narrow or wide letters
(one 2x2 map over every digit, after each digit's own slant is taken out, so
all of them lean alike), and digit shapes of their own: a 7 with a crossbar,
a 1 with a long flag (which reads as a 7 to a model that never saw one), a
1 with a flag and a base, a 0 with a slash. They are
placed on a 360 px canvas as a person draws (stroke_replay.to_canvas_points)
and recorded in the canvas's unit coordinates, as digitpad.gui.canvas does, so
digitpad.strokes.to_mnist_image shows the model what the app would.

These drawings are for measuring only; they never go into shipped training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from digitpad.strokes import Stroke
from stroke_replay import strokes_of, to_canvas_points

CANVAS_SIDE = 360
PEN_WIDTH = 0.08  # the canvas's default, as a share of its side


def style_map(rotate_degrees: float = 0.0, slant: float = 0.0, aspect: float = 1.0) -> np.ndarray:
    """A 2x2 map (x right, y down): turn (clockwise on screen), lean (0.3: right) and stretch the width."""
    angle = np.radians(rotate_degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lean = np.array([[1.0, -slant], [0.0, 1.0]])  # y grows downwards: higher points move right
    return turn @ lean @ np.diag([aspect, 1.0])


def upright(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """The digit with its slant taken out (MNIST's classic deskew, a shear by the points' moments), so a
    writer's own slant is the only one: every digit they write leans the same way."""
    points = np.concatenate(strokes)
    centre = points.mean(axis=0)
    offsets = points - centre
    variance = float((offsets[:, 1] ** 2).mean())
    if variance <= 0:
        return strokes
    skew = float((offsets[:, 0] * offsets[:, 1]).mean()) / variance
    return [np.column_stack([stroke[:, 0] - skew * (stroke[:, 1] - centre[1]), stroke[:, 1]]) for stroke in strokes]


def _box(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate(strokes)
    return points.min(axis=0), points.max(axis=0)


def crossed_seven(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """A 7 with a bar across its stem, a little below the middle."""
    (left, top), (right, bottom) = _box(strokes)
    height, width = bottom - top, max(right - left, 1.0)
    y = top + 0.55 * height
    points = np.concatenate(strokes)
    near = points[np.abs(points[:, 1] - y) < 0.15 * height]
    stem_x = near[:, 0].mean() if len(near) else (left + right) / 2
    half = 0.22 * max(width, 0.6 * height)
    return strokes + [np.array([[stem_x - half, y], [stem_x + half, y]])]


def flagged_one(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """A 1 with a flag down to the left from its top, and a base across its foot."""
    (_, top), (_, bottom) = _box(strokes)
    height = bottom - top
    points = np.concatenate(strokes)
    summit, foot = points[points[:, 1].argmin()], points[points[:, 1].argmax()]
    flag = np.array([[summit[0] - 0.3 * height, summit[1] + 0.28 * height], summit])
    base = np.array([[foot[0] - 0.28 * height, foot[1]], [foot[0] + 0.28 * height, foot[1]]])
    return [flag, *strokes, base]


def continental_one(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """A 1 with a long flag, the way it is written where 7s are crossed: drawn without lifting the pen."""
    (_, top), (_, bottom) = _box(strokes)
    height = bottom - top
    points = np.concatenate(strokes)
    summit = points[points[:, 1].argmin()]
    flag = np.array([[summit[0] - 0.42 * height, summit[1] + 0.3 * height], summit])
    return [flag, *strokes]


def slashed_zero(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """A 0 with a slash through it, from below its lower left to above its upper right."""
    (left, top), (right, bottom) = _box(strokes)
    width, height = right - left, bottom - top
    slash = np.array([[left + 0.15 * width, bottom + 0.1 * height], [right - 0.15 * width, top - 0.1 * height]])
    return strokes + [slash]


@dataclass(frozen=True)
class Writer:
    name: str
    style: np.ndarray  # 2x2, applied to every digit
    shapes: dict[int, Callable[[list[np.ndarray]], list[np.ndarray]]] = field(default_factory=dict)

    def strokes(self, sequence: np.ndarray, digit: int, rng: np.random.Generator) -> list[Stroke]:
        """One MNIST stroke sequence as this writer draws it, in the canvas's unit coordinates."""
        strokes = upright(strokes_of(sequence))
        if digit in self.shapes:
            strokes = self.shapes[digit](strokes)
        return placed_on_canvas([stroke @ self.style.T for stroke in strokes], rng)


def placed_on_canvas(strokes: list[np.ndarray], rng: np.random.Generator) -> list[Stroke]:
    """Strokes in MNIST's 28-pixel frame, placed on the canvas as a person draws
    (stroke_replay.to_canvas_points) and recorded in the canvas's unit coordinates with its default pen."""
    return recorded(to_canvas_points(strokes, CANVAS_SIDE, CANVAS_SIDE, rng))


def recorded(points: list[list[tuple[float, float]]]) -> list[Stroke]:
    """Strokes in pixels of the CANVAS_SIDE canvas as the canvas records them: in its unit coordinates,
    with its default pen (empty strokes left out)."""
    half = CANVAS_SIDE / 2
    return [Stroke(PEN_WIDTH, [((x - half) / CANVAS_SIDE, (y - half) / CANVAS_SIDE) for x, y in stroke])
            for stroke in points if stroke]


# No style of its own: the digits as the stroke set has them, deskewed.
PLAIN = Writer("plain (control)", style_map())

WRITERS = (
    Writer("continental: long-flagged 1, crossed 7", style_map(), {1: continental_one, 7: crossed_seven}),
    Writer("continental, slanted: long-flagged 1, crossed 7, slashed 0", style_map(slant=0.3),
           {1: continental_one, 7: crossed_seven, 0: slashed_zero}),
    Writer("continental, wide backhand: long-flagged 1, crossed 7", style_map(slant=-0.3, aspect=1.3),
           {1: continental_one, 7: crossed_seven}),
    Writer("narrow, tilted 10°: long-flagged 1", style_map(rotate_degrees=10, aspect=0.7), {1: continental_one}),
    Writer("programmer, tilted 20°: slashed 0, flagged 1 with a base", style_map(rotate_degrees=20),
           {0: slashed_zero, 1: flagged_one}),
    Writer("European, tilted 25°: flagged 1 with a base, crossed 7", style_map(rotate_degrees=25),
           {1: flagged_one, 7: crossed_seven}),
    Writer("very narrow and slanted: crossed 7", style_map(slant=0.6, aspect=0.5), {7: crossed_seven}),
    PLAIN,
)
