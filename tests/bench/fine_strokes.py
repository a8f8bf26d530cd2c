"""The MNIST test digits as pen strokes traced from a skeleton on a 4x finer grid.

../shared/strokes was traced from skeletons on MNIST's own 28x28 grid, and that
grid loses detail: the shipped model reads the MNIST test digits thinned on it
98.5 % right, thinned on a grid 4 times finer 99.1 % (tests/bench/RESULTS.md,
"Skeletons on a finer grid"). A person's strokes are not thinned at all, so
strokes traced from the finer skeleton are the closer stand-in for them. The
benchmarks read either set with ``--strokes shared|fine``; nothing trains on
either.

The set has ../shared/strokes' encoding (one row per pen step: dx, dy, end of
stroke, end of digit; padded with zero rows at the start), so
``stroke_replay.strokes_of`` reads both. Tracing the 10,000 digits takes about
2.5 minutes; the result is cached in digitpad's cache folder, keyed by the
MNIST files.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitpad import atomic, paths  # noqa: E402
from digitpad.augment import thin  # noqa: E402
from digitpad.config import MNIST_MEAN, MNIST_STD  # noqa: E402
from digitpad.data import DataError, _cache_key, load_mnist, locate_mnist  # noqa: E402
from stroke_replay import load_stroke_set  # noqa: E402

STROKE_SETS = ("shared", "fine")
FINE_GRID = 4  # skeleton pixels per MNIST pixel
_INK_THRESHOLD = 0.4  # ink above this is thinned, as the training's redraw does (augment.redraw_with_pen)
_CACHE_VERSION = 2
# Neighbours in the order a walk tries them when no direction is known yet:
# the four sides before the four corners, so a staircase is walked step by step.
_STEPS = ((-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1))


def add_stroke_set_argument(parser: argparse.ArgumentParser) -> None:
    """The benchmarks' ``--strokes shared|fine`` option."""
    parser.add_argument("--strokes", choices=STROKE_SETS, default="shared",
                        help="shared: ../shared/strokes (traced from skeletons on MNIST's 28x28 grid); "
                             "fine: the same digits traced from skeletons on a 4x finer grid (fine_strokes.py)")


def load_strokes(which: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(sequences, labels) of the stroke set ``which``: "shared" (../shared/strokes) or "fine"."""
    if which == "shared":
        return load_stroke_set()
    if which == "fine":
        return load_fine_stroke_set(data_dir)
    raise ValueError(f"no stroke set {which!r}; choose from {', '.join(STROKE_SETS)}")


def load_fine_stroke_set(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test digits traced from fine skeletons: (sequences (N, T, 4), labels (N,))."""
    files = locate_mnist(data_dir)
    if files is None:
        raise DataError(f"no MNIST in {data_dir}: the fine strokes are traced from its test images")
    # Keyed like digitpad's own MNIST cache, so new MNIST files mean new strokes.
    cache = paths.cache_dir() / f"fine-strokes-{_CACHE_VERSION}-{FINE_GRID}x-{_cache_key(files)}.npz"
    try:
        with np.load(cache) as stored:
            return stored["sequences"], stored["labels"]
    except (OSError, ValueError, KeyError):
        pass  # not made yet, or unreadable: trace again
    print(f"tracing the MNIST test digits from {FINE_GRID}x finer skeletons (once; cached in {cache})", flush=True)
    mnist = load_mnist(data_dir, download=False)
    ink = mnist.test_images * MNIST_STD + MNIST_MEAN
    traced = [to_mnist_frame(trace(skeleton)) for skeleton in fine_skeletons(ink)]
    length = max(sum(len(stroke) for stroke in strokes) for strokes in traced)
    sequences = np.stack([encode(strokes, length) for strokes in traced])
    labels = mnist.test_labels.numpy().astype(np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, sequences=sequences, labels=labels)
    atomic.write_bytes(cache, buffer.getvalue())
    return sequences, labels


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


def to_mnist_frame(paths: list[np.ndarray], grid: int = FINE_GRID) -> list[np.ndarray]:
    """Traced (row, column) paths on the fine grid as (x, y) strokes in MNIST pixels."""
    strokes = []
    for path in paths:
        smooth = _smoothed(path)
        strokes.append(np.column_stack([(smooth[:, 1] + 0.5) / grid - 0.5, (smooth[:, 0] + 0.5) / grid - 0.5]))
    return strokes


def encode(strokes: list[np.ndarray], length: int) -> np.ndarray:
    """Strokes in ../shared/strokes' encoding, padded at the start to ``length`` rows."""
    rows, last = [], np.zeros(2)
    for number, stroke in enumerate(strokes):
        for index, point in enumerate(stroke):
            stroke_ends = index == len(stroke) - 1
            rows.append([*(point - last), float(stroke_ends), float(stroke_ends and number == len(strokes) - 1)])
            last = point
    padding = np.zeros((length - len(rows), 4))
    return np.concatenate([padding, np.array(rows).reshape(-1, 4)])
