"""Training drawings for the stroke reader: traced MNIST digits written as many writers would.

The reader learns from MNIST's training digits traced into strokes
(``digitpad.tracing``). A tracer walks every digit the same way; people do
not. So each time a digit is shown it is changed as a writer might change it:
turned, slanted, stretched, wobbled; its loops begun anywhere; its strokes
drawn backwards or in another order; now and then a small hook where the pen
lands; and the habits ``digitpad.habits`` draws for the CNN (a flag on a 1, a
bar across a 7, a slash through a 0), here as strokes. Everything is NumPy, per
drawing, in a DataLoader's worker.

Non-digits come from ``digitpad.non_digits``' families, as strokes, and from
rows of two or three training digits.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from digitpad import habits, non_digits
from digitpad.augment import DEFAULT_AUGMENT

Strokes = list[np.ndarray]  # each (K, 2) of (x, y), y down

# The writer's hand, beyond the CNN's augmentation (digitpad.augment): slants
# from a little left to well right, narrow to wide digits.
SLANT = (-0.25, 0.45)
ASPECT = (0.75, 1.25)
WOBBLE = 0.03  # largest drift, as a share of the drawing's size
REVERSED_SHARE = 0.5  # of the strokes: nothing in a digit's shape says which way a pen goes
REORDERED_SHARE = 0.3  # of the drawings with several strokes
LOOP_MOVED_SHARE = 0.5  # of the closed loops: begun somewhere else on the loop
HOOK_SHARE = 0.15  # of the strokes
HOOK_LENGTH = (0.03, 0.09)  # of the drawing's size
ROW_SHARE = non_digits.ROW_SHARE  # of the non-digits: a number of two or three digits


def _box(strokes: Strokes) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate(strokes)
    return points.min(axis=0), points.max(axis=0)


def with_habits(strokes: Strokes, label: int, rng: np.random.Generator) -> Strokes:
    """A 1 with a flag (and maybe a base), a crossed 7 or a slashed 0, as often as ``digitpad.habits`` draws them."""
    low, high = _box(strokes)
    height = max(float(high[1] - low[1]), 1e-6)
    points = np.concatenate(strokes)
    if label == 1 and rng.random() < habits.FLAGGED_ONE_SHARE:
        top = points[points[:, 1].argmin()]
        reach = rng.uniform(*habits.FLAG_REACH) * height
        flag_end = top + [-reach, rng.uniform(*habits.FLAG_FALL) * reach]
        strokes = _joined_at(strokes, top, flag_end)
        if rng.random() < habits.BASE_SHARE:
            bottom = points[points[:, 1].argmax()]
            half = rng.uniform(*habits.FLAG_REACH) * height
            strokes = strokes + [np.array([bottom - [half, 0.0], bottom + [half, 0.0]])]
    elif label == 7 and rng.random() < habits.CROSSED_SEVEN_SHARE:
        waist = low[1] + 0.55 * height
        near = points[np.abs(points[:, 1] - waist) < 0.08 * height]
        stem = float(np.median(near[:, 0])) if len(near) else float(points[:, 0].mean())
        half = rng.uniform(*habits.BAR_HALF) * height
        strokes = strokes + [np.array([[stem - half, waist], [stem + half, waist]])]
    elif label == 0 and rng.random() < habits.SLASHED_ZERO_SHARE:
        strokes = strokes + [np.array([[high[0], low[1]], [low[0], high[1]]])]
    return strokes


def _joined_at(strokes: Strokes, point: np.ndarray, flag_end: np.ndarray) -> Strokes:
    """A flag from ``flag_end`` to ``point``, drawn in one go with the stroke that starts or ends there."""
    for number, stroke in enumerate(strokes):
        if np.allclose(stroke[0], point):
            return strokes[:number] + [np.vstack([flag_end, stroke])] + strokes[number + 1:]
        if np.allclose(stroke[-1], point):
            return strokes[:number] + [np.vstack([stroke, flag_end])] + strokes[number + 1:]
    return strokes + [np.array([flag_end, point])]


def _hooked(stroke: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """A small hook where the pen landed: a few points bent back from the stroke's first direction."""
    away = stroke[0] - stroke[1]
    away = away / max(float(np.hypot(*away)), 1e-9)
    side = np.array([-away[1], away[0]]) * rng.choice([-1.0, 1.0])
    length = rng.uniform(*HOOK_LENGTH) * size
    hook = np.array([stroke[0] + length * (0.5 * away + side * t) for t in (1.0, 0.7, 0.35)])
    return np.vstack([hook, stroke])


def _loop_moved(stroke: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """A closed loop begun at another of its points."""
    if len(stroke) <= 4 or np.hypot(*(stroke[0] - stroke[-1])) >= 0.15 * size or rng.random() >= LOOP_MOVED_SHARE:
        return stroke
    start = int(rng.integers(1, len(stroke) - 1))
    return np.vstack([stroke[start:], stroke[1:start + 1]])


def as_written(strokes: Strokes, label: int | None, rng: np.random.Generator) -> Strokes:
    """``strokes`` changed as a random writer would write them; ``label`` None for a non-digit."""
    strokes = [np.asarray(stroke, dtype=np.float64) for stroke in strokes if len(stroke)]
    if label is not None:
        strokes = with_habits(strokes, label, rng)
    angle = math.radians(rng.uniform(-DEFAULT_AUGMENT.max_rotation_degrees, DEFAULT_AUGMENT.max_rotation_degrees))
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    lean = np.array([[1.0, -rng.uniform(*SLANT)], [0.0, 1.0]])  # y grows downwards: higher points move right
    style = turn @ lean @ np.diag([rng.uniform(*ASPECT), 1.0])
    strokes = [stroke @ style.T for stroke in strokes]
    low, high = _box(strokes)
    size = max(float((high - low).max()), 1e-6)
    drift = rng.uniform(0.0, WOBBLE) * size
    frequency = rng.uniform(2.0, 6.0, size=2) / size
    phase = rng.uniform(0.0, 2 * math.pi, size=2)
    strokes = [np.column_stack([stroke[:, 0] + drift * np.sin(frequency[0] * stroke[:, 1] + phase[0]),
                                stroke[:, 1] + drift * np.sin(frequency[1] * stroke[:, 0] + phase[1])])
               for stroke in strokes]
    strokes = [_loop_moved(stroke, size, rng) for stroke in strokes]
    strokes = [stroke[::-1] if rng.random() < REVERSED_SHARE else stroke for stroke in strokes]
    if len(strokes) > 1 and rng.random() < REORDERED_SHARE:
        strokes = [strokes[i] for i in rng.permutation(len(strokes))]
    return [_hooked(stroke, size, rng) if len(stroke) >= 2 and rng.random() < HOOK_SHARE else stroke
            for stroke in strokes]


def non_digit_strokes(count: int, rng: np.random.Generator, digits: list[Strokes]) -> list[Strokes]:
    """``count`` drawings that are no digit: ``digitpad.non_digits``' families as strokes, and rows of ``digits``."""
    generator = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
    families = rng.integers(0, len(non_digits.FAMILIES), count)
    drawings = []
    for number, make in enumerate(non_digits.FAMILIES):
        members = int((families == number).sum())
        if not members:
            continue
        starts, ends, used = (part.numpy() for part in make(members, generator))
        for member in range(members):
            strokes = _chained(starts[member], ends[member], used[member])
            upright = number in non_digits.UPRIGHT
            angle = rng.uniform(-non_digits.MOST_UPRIGHT_TILT, non_digits.MOST_UPRIGHT_TILT) if upright \
                else rng.uniform(0.0, 2 * math.pi)
            turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            drawings.append([stroke @ turn.T for stroke in strokes])
    rng.shuffle(drawings)
    rows = int(round(ROW_SHARE * count)) if digits else 0
    for row in range(rows):
        drawings[row] = _row_of(digits, rng)
    return drawings


def _chained(starts: np.ndarray, ends: np.ndarray, used: np.ndarray) -> Strokes:
    """Segments as strokes: a segment that begins where the last one ended continues its stroke."""
    strokes: list[list[np.ndarray]] = []
    for start, end, in_use in zip(starts, ends, used):
        if not in_use:
            continue
        if strokes and np.allclose(strokes[-1][-1], start):
            strokes[-1].append(end)
        else:
            strokes.append([start, end])
    return [np.array(stroke) for stroke in strokes]


def _row_of(digits: list[Strokes], rng: np.random.Generator) -> Strokes:
    """Two or three of ``digits`` side by side, a little apart, as a number is written."""
    row, x = [], 0.0
    for _ in range(int(rng.integers(2, 4))):
        digit = digits[int(rng.integers(len(digits)))]
        low, high = _box(digit)
        row += [stroke - [low[0] - x, 0.0] for stroke in digit]
        x += float(high[0] - low[0]) + rng.uniform(0.15, 0.3) * float(high[1] - low[1])
    return row
