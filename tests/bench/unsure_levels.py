"""How the canvas's two networks are weighed, and where "unsure" begins: the figures behind the choice.

The canvas reads a drawing with the image network and the stroke reader and
combines their answers (``digitpad.stroke_reader.combine``); a drawing is unsure
below ``inference.UNSURE_BELOW_WITH_STROKES``, or where one network alone sees no
digit (``inference.doubter``). This bench reads, once, both networks' answers on:

- the MNIST strokes as recorded and the many-writers proxy (proxy_writers.py),
  ``--limit`` of each, the same drawings as canvas_vs_picture.py's first two rows;
- non_digits.py's 600 drawn non-digits and its 10,000 placed digits,

for both stroke sets, then prints the accuracy for several weights, and for
several "not a digit" levels, each set's drawings read right and named (a digit
shown, not "not a digit"), and for several unsure levels, with and without the
doubt, each set's unsure share and how often its sure answers are right, and the
non-digits "not a digit" or unsure. Issue 19's targets: unsure on at most 5 % of
digits, sure answers right at least 99.5 % of the time, at least 90 % of
non-digits "not a digit" or unsure, at most 1 % of digits "not a digit".

    python tests/bench/unsure_levels.py [--limit 10000] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_process import SHARED_MNIST  # noqa: E402
from fine_strokes import load_strokes  # noqa: E402
from non_digits import non_digit_drawings  # noqa: E402
from proxy_writers import proxy_strokes  # noqa: E402
from stroke_replay import strokes_of, to_canvas_points  # noqa: E402
from writers import CANVAS_SIDE, placed_on_canvas, recorded  # noqa: E402

WEIGHTS = (0.5, 0.6, 0.7, 0.8, 1.0)
NOT_A_DIGIT_LEVELS = (0.3, 0.35, 0.4, 0.45, 0.5)
LEVELS = (0.85, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93, 0.95)


def both_answers(classifier, drawings: list) -> tuple[np.ndarray, np.ndarray]:
    """The image network's and the stroke reader's probabilities, (N, 10) each, read as the canvas reads."""
    import torch

    from digitpad import pen_path
    from digitpad.preprocess import normalize
    from digitpad.strokes import marks, mnist_image_of

    images, paths = [], []
    for strokes in drawings:
        kept = marks(strokes)
        images.append(mnist_image_of(kept))
        paths.append(pen_path.from_marks(kept))
    image_answers = np.concatenate([classifier.probabilities(normalize(np.stack(images[i:i + 1000])))
                                    for i in range(0, len(images), 1000)])
    reader_answers = np.concatenate([classifier.stroke_probabilities(torch.from_numpy(np.stack(paths[i:i + 1000])))
                                     for i in range(0, len(paths), 1000)])
    return image_answers, reader_answers


DIGIT_SETS = ("recorded", "many writers")


def digit_drawings(sequences: np.ndarray, labels: np.ndarray, limit: int, seed: int, shapes: bool = True,
                   names: tuple[str, ...] = DIGIT_SETS) -> dict[str, tuple[list, np.ndarray]]:
    """A stroke set's digits "recorded" and drawn by "many writers" (in the canvas's recorded strokes),
    with their digits: ``limit`` of them, a seeded random subset in MNIST's order. ``shapes``: see
    ``proxy_writers.proxy_strokes``. ``names``: the sets to draw; each is the same drawn alone."""
    chosen = np.sort(np.random.default_rng(seed).choice(len(labels), min(limit, len(labels)), replace=False))
    sets = {}
    for name in names:
        rng = np.random.default_rng([seed, 19])  # as canvas_vs_picture.py draws them
        drawings = [recorded(to_canvas_points(strokes_of(sequences[index]), CANVAS_SIDE, CANVAS_SIDE, rng)
                             if name == "recorded" else
                             proxy_strokes(sequences[index], int(labels[index]), CANVAS_SIDE, rng, shapes))
                    for index in chosen]
        sets[name] = drawings, labels[chosen]
    return sets


def drawing_sets(stroke_set: str, limit: int, seed: int, per_family: int) -> dict[str, tuple[list, np.ndarray | None]]:
    """Named sets of drawings (in the canvas's recorded strokes) and their digits (None for non-digits)."""
    sequences, labels = load_strokes(stroke_set, SHARED_MNIST)
    sets: dict[str, tuple[list, np.ndarray | None]] = dict(digit_drawings(sequences, labels, limit, seed))
    sets["non-digits"] = [drawing for family in non_digit_drawings(per_family, sequences, seed).values()
                          for drawing in family], None
    rng = np.random.default_rng([seed, 1])  # as non_digits.py places them
    sets["placed digits"] = [placed_on_canvas(strokes_of(sequence), rng) for sequence in sequences], labels
    return sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10000, help="drawings per digit set (a seeded random subset)")
    parser.add_argument("--per-family", type=int, default=150, help="non-digits of each of non_digits.py's families")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="model to measure (default: the shipped model)")
    parser.add_argument("--image-weight", type=float, help="weigh the image network so in the level tables "
                        "(default: digitpad.stroke_reader.IMAGE_WEIGHT)")
    args = parser.parse_args()

    import torch

    from digitpad import paths
    from digitpad.inference import Classifier, doubter
    from digitpad.stroke_reader import IMAGE_WEIGHT, combine

    torch.set_num_threads(1)  # as the app reads drawings
    classifier = Classifier.from_path(args.checkpoint or paths.shipped_model_path())
    if classifier.stroke_reader is None:
        raise SystemExit("this model has no stroke reader: the canvas reads it with the image network alone")
    started = time.perf_counter()
    read = {}
    for stroke_set in ("shared", "fine"):
        for name, (drawings, digits) in drawing_sets(stroke_set, args.limit, args.seed, args.per_family).items():
            read[f"{stroke_set}, {name}"] = (*both_answers(classifier, drawings), digits)
    print(f"model: {classifier.describe()}")
    print(f"{args.limit} drawings of each digit set, {4 * args.per_family} non-digits, read in "
          f"{time.perf_counter() - started:.0f} s\n")

    digit_sets = [name for name in read if name.endswith(("recorded", "many writers"))]
    print("Accuracy as the image network's weight moves (the reader's is the rest of 1; shipped: "
          f"{IMAGE_WEIGHT:g}):\n")
    print("| image weight | " + " | ".join(digit_sets) + " |")
    print("| --- |" + " --- |" * len(digit_sets))
    for image_weight in WEIGHTS:
        cells = [f"{np.mean(combine(image, reader, image_weight).argmax(1) == digits):.2%}"
                 for image, reader, digits in (read[name] for name in digit_sets)]
        print(f"| {image_weight:g} | " + " | ".join(cells) + " |")

    weight = IMAGE_WEIGHT if args.image_weight is None else args.image_weight
    combined = {name: combine(image, reader, weight) for name, (image, reader, _) in read.items()}
    tops = {name: answers.max(1) for name, answers in combined.items()}
    right = {name: combined[name].argmax(1) == read[name][2] for name in digit_sets}
    print("\nThe 'not a digit' level: each digit set's drawings read right and named (not 'not a digit'); "
          "the non-digits and placed digits called 'not a digit':\n")
    print("| not a digit below | " + " | ".join(digit_sets) + " | non-digits, shared / fine | placed digits, shared / fine |")
    print("| --- |" + " --- |" * (len(digit_sets) + 2))
    for level in NOT_A_DIGIT_LEVELS:
        cells = [f"{np.mean(right[name] & (tops[name] >= level)):.2%}" for name in digit_sets]
        for kind in ("non-digits", "placed digits"):
            cells.append(" / ".join(f"{np.mean(tops[f'{s}, {kind}'] < level):.2%}" for s in ("shared", "fine")))
        print(f"| {level:g} | " + " | ".join(cells) + " |")

    doubted = {name: np.array([bool(doubter(i, r)) for i, r in zip(image, reader)])
               for name, (image, reader, _) in read.items()}
    for with_doubt in (True, False):
        heading = "or where one network alone sees no digit" if with_doubt else "the top probability alone"
        print(f"\nImage weight {weight:g}. Unsure below each level, {heading}: each digit set's unsure share / "
              "its sure answers right; the non-digits 'not a digit' or unsure:\n")
        print("| unsure below | " + " | ".join(digit_sets) + " | non-digits, shared / fine |")
        print("| --- |" + " --- |" * (len(digit_sets) + 1))
        for level in LEVELS:
            cells = []
            for name in digit_sets:
                sure = (tops[name] >= level) & ~(doubted[name] & with_doubt)
                cells.append(f"{1 - sure.mean():.2%} / {right[name][sure].mean():.2%}")
            non_digits = [np.mean((tops[f"{s}, non-digits"] < level) | (doubted[f"{s}, non-digits"] & with_doubt))
                          for s in ("shared", "fine")]
            cells.append(" / ".join(f"{share:.1%}" for share in non_digits))
            print(f"| {level:g} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
