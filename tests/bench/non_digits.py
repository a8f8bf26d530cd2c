"""Non-digits: how often the model says "not a digit" (or "unsure") of drawings that are no digit,
against how often it says so of digits.

The non-digits are drawn as pen strokes in four families that training never
shows (digitpad/non_digits.py trains on polygons, stars, grids, spirals, waves,
zig-zags, crossing strokes and blobs): capital letters that look like no digit,
words of two to four of them, symbols (heart, arrow, smiley, house, plus), and
two or three digits side by side (the MNIST test digits' strokes). Each drawing
is turned, sheared and stretched a little at random, its points jittered, and
placed on the canvas at a size people draw; it is then read along the canvas's
own path (``digitpad.strokes.to_mnist_image``, the function the canvas calls).
The digits are the 10,000 MNIST test digits' strokes, placed the same way.

    python tests/bench/non_digits.py [--per-family 150] [--checkpoint PATH] [--redraw-span PX] [--strokes shared|fine]

The drawings are for measuring only; they never go into training.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_process import SHARED_MNIST  # noqa: E402
from fine_strokes import add_stroke_set_argument, load_strokes  # noqa: E402
from stroke_replay import redraw_at, strokes_of  # noqa: E402
from writers import placed_on_canvas  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

# Capitals that look like no digit, as polylines in a unit box (x right, y down).
LETTERS = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.25, 0.55), (0.75, 0.55)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.55), (1, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "P": [[(0, 1), (0, 0), (0.8, 0), (1, 0.2), (0.8, 0.45), (0, 0.45)]],
    "R": [[(0, 1), (0, 0), (0.8, 0), (1, 0.2), (0.8, 0.45), (0, 0.45)], [(0.4, 0.45), (1, 1)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.4), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
}


def arc(centre_x: float, centre_y: float, radius: float, start: float, end: float, count: int = 24) -> list:
    return [(centre_x + radius * math.cos(a), centre_y + radius * math.sin(a)) for a in np.linspace(start, end, count)]


SYMBOLS = {
    "heart": [arc(0.28, 0.3, 0.24, math.pi, 2 * math.pi) + arc(0.74, 0.3, 0.24, math.pi, 2 * math.pi)[1:]
              + [(0.5, 1.0), (0.04, 0.3)]],
    "arrow": [[(0, 0.5), (1, 0.5)], [(0.7, 0.25), (1, 0.5), (0.7, 0.75)]],
    "smiley": [arc(0.5, 0.5, 0.5, 0, 2 * math.pi, 40), [(0.33, 0.35), (0.35, 0.37)], [(0.65, 0.35), (0.67, 0.37)],
               arc(0.5, 0.5, 0.3, 0.3, math.pi - 0.3)],
    "house": [[(0, 1), (0, 0.45), (1, 0.45), (1, 1), (0, 1)], [(0, 0.45), (0.5, 0), (1, 0.45)]],
    "plus": [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]],
}


def side_by_side(parts: list[list], gap: float = 0.15) -> list:
    """Drawings (each a list of polylines in a unit-high box) in a row, as one drawing."""
    row, left = [], 0.0
    for polylines in parts:
        points = np.concatenate([np.asarray(p, dtype=float) for p in polylines])
        low, high = points.min(axis=0), points.max(axis=0)
        for polyline in polylines:
            row.append([(x - low[0] + left, y) for x, y in polyline])
        left += (high[0] - low[0]) + gap
    return row


def hand_drawn(polylines: list, rng: np.random.Generator) -> list[np.ndarray]:
    """The polylines as a hand draws them: a point every 0.03 of the box, jittered, and the whole
    turned, sheared and stretched a little."""
    angle = math.radians(rng.uniform(-12, 12))
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    matrix = turn @ np.array([[1, rng.uniform(-0.2, 0.2)], [0, 1]]) @ np.diag([rng.uniform(0.8, 1.2), 1])
    strokes = []
    for polyline in polylines:
        corners = np.asarray(polyline, dtype=float)
        points = [corners[0]]
        for start, end in zip(corners[:-1], corners[1:]):
            steps = max(1, int(np.hypot(*(end - start)) / 0.03))
            points.extend(start + t * (end - start) for t in np.linspace(0, 1, steps + 1)[1:])
        points = np.array(points) + rng.normal(0, 0.008, (len(points), 2))
        strokes.append(points @ matrix.T)
    return strokes


def on_canvas(strokes: list[np.ndarray], rng: np.random.Generator):
    """As big as an MNIST digit's 20-pixel box, placed on the canvas as people draw (0.7-1.3 times that),
    in the canvas's unit coordinates, as the canvas records strokes."""
    points = np.concatenate(strokes)
    size = float((points.max(axis=0) - points.min(axis=0)).max())
    return placed_on_canvas([stroke * (20.0 / size) for stroke in strokes], rng)


def non_digit_drawings(per_family: int, sequences: np.ndarray, seed: int) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    letters, symbols = list(LETTERS.values()), list(SYMBOLS.values())

    def digit_strokes() -> list:
        return [[(x / 28.0, y / 28.0) for x, y in stroke] for stroke in strokes_of(sequences[rng.integers(len(sequences))])]

    makers = {
        "letters": lambda k: letters[k % len(letters)],
        "words": lambda k: side_by_side([letters[rng.integers(len(letters))] for _ in range(2 + k % 3)]),
        "symbols": lambda k: symbols[k % len(symbols)],
        "several digits": lambda k: side_by_side([digit_strokes() for _ in range(2 + k % 2)], gap=0.1),
    }
    return {family: [on_canvas(hand_drawn(make(k), rng), rng) for k in range(per_family)]
            for family, make in makers.items()}


def top_and_unsure(classifier, drawings: list) -> tuple[np.ndarray, np.ndarray]:
    """Each drawing's top probability as the app reads it (redrawn, and by the stroke reader where there
    is one), and whether the app calls it unsure (or not a digit)."""
    from digitpad.strokes import to_mnist_image

    images = np.stack([to_mnist_image(strokes) for strokes in drawings])
    answers = [answer for i in range(0, len(images), 1000)
               for answer in classifier.read_drawings(images[i:i + 1000], drawings[i:i + 1000])]
    return np.array([answer.confidence for answer in answers]), np.array([answer.unsure for answer in answers])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=150, help="drawings of each of the four families")
    parser.add_argument("--checkpoint", type=Path, help="model to measure (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--redraw-span", type=int, metavar="PX",
                        help="redraw the strokes this big instead of digitpad.strokes.REDRAW_SPAN_PX (to compare)")
    add_stroke_set_argument(parser)  # the digits' strokes, and the several-digit drawings'
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST, help="MNIST, for --strokes fine")
    args = parser.parse_args()

    import torch

    from digitpad import paths
    from digitpad.inference import NOT_A_DIGIT_BELOW, Classifier

    torch.set_num_threads(1)  # as the app reads drawings: one thread on the GUI's
    classifier = Classifier.from_path(args.checkpoint or paths.shipped_model_path())
    unsure_below = classifier.strokes_unsure_below
    redraw_at(args.redraw_span)
    sequences, labels = load_strokes(args.strokes, args.data_dir)
    families = non_digit_drawings(args.per_family, sequences, args.seed)
    rng = np.random.default_rng([args.seed, 1])
    digits = [placed_on_canvas(strokes_of(sequence), rng) for sequence in sequences]
    digit_top, digit_unsure = top_and_unsure(classifier, digits)
    family_answers = {family: top_and_unsure(classifier, drawings) for family, drawings in families.items()}
    every_top = np.concatenate([top for top, _ in family_answers.values()])
    every_unsure = np.concatenate([unsure for _, unsure in family_answers.values()])
    print(f"model: {classifier.describe()}")
    print(f"{len(every_top)} non-digits ({args.per_family} of each family), {len(digit_top)} digits from the "
          f"{args.strokes} MNIST strokes; 'not a digit' below a top probability of {NOT_A_DIGIT_BELOW:g}, 'unsure' below "
          f"{unsure_below:g} or where one network alone sees no digit\n")

    print("| family | not a digit | not a digit or unsure |")
    print("| --- | --- | --- |")
    for family, (top, unsure) in family_answers.items():
        print(f"| {family} | {np.mean(top < NOT_A_DIGIT_BELOW):.1%} | {np.mean(unsure):.1%} |")
    print(f"| **all non-digits** | **{np.mean(every_top < NOT_A_DIGIT_BELOW):.1%}** | **{np.mean(every_unsure):.1%}** |")
    print(f"| MNIST-strokes digits | {np.mean(digit_top < NOT_A_DIGIT_BELOW):.2%} | {np.mean(digit_unsure):.2%} |")

    print("\nThe trade-off, as the 'not a digit' level moves:\n")
    print("| not a digit below | non-digits called not a digit | digits called not a digit |")
    print("| --- | --- | --- |")
    for threshold in THRESHOLDS:
        print(f"| {threshold:g} | {np.mean(every_top < threshold):.1%} | {np.mean(digit_top < threshold):.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
