"""The MNIST test digits as pen strokes traced from a skeleton on a 4x finer grid.

../shared/strokes was traced from skeletons on MNIST's own 28x28 grid, and that
grid loses detail: the shipped model reads the MNIST test digits thinned on it
98.5 % right, thinned on a grid 4 times finer 99.1 % (tests/bench/RESULTS.md,
"Skeletons on a finer grid"). A person's strokes are not thinned at all, so
strokes traced from the finer skeleton are the closer stand-in for them. The
benchmarks read either set with ``--strokes shared|fine``; nothing trains on
either (the stroke reader trains on MNIST's training digits, traced the same
way by ``digitpad.tracing``).

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitpad import atomic, paths  # noqa: E402
from digitpad.config import MNIST_MEAN, MNIST_STD  # noqa: E402
from digitpad.data import DataError, _cache_key, load_mnist, locate_mnist  # noqa: E402
from digitpad.tracing import FINE_GRID, traced  # noqa: E402
from stroke_replay import load_stroke_set  # noqa: E402

STROKE_SETS = ("shared", "fine")
_CACHE_VERSION = 2


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
    digits = traced(ink)
    length = max(sum(len(stroke) for stroke in strokes) for strokes in digits)
    sequences = np.stack([encode(strokes, length) for strokes in digits])
    labels = mnist.test_labels.numpy().astype(np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, sequences=sequences, labels=labels)
    atomic.write_bytes(cache, buffer.getvalue())
    return sequences, labels


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
