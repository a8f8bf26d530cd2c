"""MNIST digits traced into pen strokes: thinned to a one-pixel skeleton, then walked as a pen would.

The stroke reader (``digitpad.stroke_reader``) learns from MNIST's training
digits, which are images; this turns them into strokes. A skeleton on MNIST's
own 28x28 grid loses detail, so digits are thinned on a finer grid
(``FINE_GRID`` times finer) and the walk is smoothed. Tracing is plain Python,
about 2.5 minutes per 10,000 digits on one core, so ``digitpad.stroke_training``
traces the training set once and keeps it in digitpad's cache folder.

The benchmarks trace the test digits the same way (tests/bench/fine_strokes.py).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from digitpad.augment import thin

FINE_GRID = 4  # skeleton pixels per MNIST pixel
_INK_THRESHOLD = 0.4  # ink above this is thinned, as the training's redraw does (augment.redraw_with_pen)
# Neighbours in the order a walk tries them when no direction is known yet:
# the four sides before the four corners, so a staircase is walked step by step.
_STEPS = ((-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1))


def traced(ink: torch.Tensor, grid: int = FINE_GRID) -> list[list[np.ndarray]]:
    """Ink (N, 1, 28, 28) in [0, 1] -> each digit's strokes, (K, 2) arrays of (x, y) in MNIST pixels.

    On MNIST's own grid (``grid`` 1) the strokes keep the pixel staircase, as
    ../shared/strokes and a slow mouse do; on a finer grid they are smoothed.
    """
    return [to_mnist_frame(trace(skeleton), grid, smooth=grid > 1) for skeleton in fine_skeletons(ink, grid)]


def fine_skeletons(ink, grid: int = FINE_GRID) -> np.ndarray:
    """Ink (N, 1, 28, 28) in [0, 1] -> one-pixel skeletons (N, 28 grid, 28 grid), bool."""
    skeletons = []
    for batch in ink.split(256):
        fine = F.interpolate(batch, scale_factor=grid, mode="bilinear", align_corners=False)
        skeletons.append(thin(fine > _INK_THRESHOLD, max_iterations=20 * grid)[:, 0].bool().numpy())
    return np.concatenate(skeletons)


def _neighbours(on: np.ndarray, pixel: tuple[int, int]):
    height, width = on.shape
    row, column = pixel
    for d_row, d_column in _STEPS:
        r, c = row + d_row, column + d_column
        if 0 <= r < height and 0 <= c < width and on[r, c]:
            yield r, c


def trace(skeleton: np.ndarray) -> list[np.ndarray]:
    """Polylines of (row, column) pixels that cover a one-pixel skeleton.

    Each walk starts at a free end (else where a branch leaves a walked stroke,
    else anywhere on a loop) and goes as straight on as it can at junctions, as
    a pen would.
    """
    on = skeleton.astype(bool)
    walked = np.zeros_like(on)
    left = set(zip(*np.nonzero(on)))
    free_ends = {p for p in left if sum(1 for _ in _neighbours(on, p)) == 1}
    strokes = []
    while left:
        ends = sorted(left & free_ends)
        joins = sorted(p for p in left if any(walked[q] for q in _neighbours(on, p)))
        start = ends[0] if ends else joins[0] if joins else min(left)
        path = [start]
        if not ends and joins:
            path.insert(0, next(q for q in _neighbours(on, start) if walked[q]))
        walked[start] = True
        left.discard(start)
        while True:
            here = path[-1]
            ahead = [q for q in _neighbours(on, here) if not walked[q]]
            if not ahead:
                break
            if len(path) >= 3:
                heading = np.subtract(path[-1], path[-3])
                ahead.sort(key=lambda q: -np.dot(np.subtract(q, here), heading) / np.hypot(*np.subtract(q, here)))
            path.append(ahead[0])
            walked[ahead[0]] = True
            left.discard(ahead[0])
            # A pixel beside the path with nowhere else to go is the staircase's corner, not a branch.
            for q in _neighbours(on, ahead[0]):
                if not walked[q] and not any(not walked[s] for s in _neighbours(on, q)) and q not in free_ends:
                    walked[q] = True
                    left.discard(q)
        strokes.append(np.array(path, dtype=float))
    return _without_strays(strokes)


def _without_strays(strokes: list[np.ndarray], reach: float = 1.5, shortest: int = 4) -> list[np.ndarray]:
    """The strokes less those that only run beside a longer one, and short spurs off one.

    Thinning a slanted line on the fine grid can leave it two pixels wide; the
    walk follows one side, and the other would come out as short strokes beside
    it. A short stroke on its own is a dot the writer made, and stays.
    """
    kept: list[np.ndarray] = []
    for stroke in sorted(strokes, key=len, reverse=True):
        if kept:
            others = np.concatenate(kept)
            nearest = np.min(np.linalg.norm(stroke[:, None] - others[None], axis=2), axis=1)
            if nearest.max() <= reach or (len(stroke) < shortest and nearest.min() <= reach):
                continue
        kept.append(stroke)
    return sorted(kept, key=lambda stroke: min(map(tuple, stroke)))


def _smoothed(path: np.ndarray, width: int = 5) -> np.ndarray:
    """A moving average along the path (ends kept), every second point: no pixel staircase."""
    if len(path) < width:
        return path
    padded = np.concatenate([np.repeat(path[:1], width // 2, 0), path, np.repeat(path[-1:], width // 2, 0)])
    kernel = np.ones(width) / width
    smooth = np.column_stack([np.convolve(padded[:, axis], kernel, "valid") for axis in range(2)])
    smooth[0], smooth[-1] = path[0], path[-1]
    return np.concatenate([smooth[:-1:2], smooth[-1:]])


def to_mnist_frame(paths: list[np.ndarray], grid: int = FINE_GRID, smooth: bool = True) -> list[np.ndarray]:
    """Traced (row, column) paths on the fine grid as (x, y) strokes in MNIST pixels; ``smooth`` False
    keeps every pixel of the path, staircase and all."""
    strokes = []
    for path in paths:
        if smooth:
            path = _smoothed(path)
        strokes.append(np.column_stack([(path[:, 1] + 0.5) / grid - 0.5, (path[:, 0] + 0.5) / grid - 0.5]))
    return strokes
