"""Drawn-digit accuracy: replay the MNIST test digits' pen strokes on the real canvas.

Each sample is drawn with real mouse events (press, moves with the left button
held, release) on the app's DrawingCanvas at its default pen width (or
``--pen-width``), then classified along the app's own path (the canvas's
strokes redrawn with an even pen -> preprocess -> model). In the same run, the
same drawing is also classified from the canvas's pixels, with the same
preprocessing (the app's path before the redraw), and the naive way other
apps use: the whole canvas shrunk to 28x28.

    QT_QPA_PLATFORM=offscreen python tests/bench/drawn_digits.py [--limit N] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from stroke_replay import draw_sample, load_stroke_set  # noqa: E402


def naive_prediction(classifier, canvas_image: np.ndarray):
    """The other apps' method: shrink the whole canvas to 28x28."""
    from PIL import Image

    from digitpad.inference import Prediction
    from digitpad.preprocess import normalize

    small = np.asarray(Image.fromarray(canvas_image).resize((28, 28), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    probabilities = classifier.probabilities(normalize(small))[0]
    digit = int(probabilities.argmax())
    return Prediction(digit, float(probabilities[digit]), probabilities, small)


def writing_style(rotate_degrees: float, slant: float, aspect: float) -> np.ndarray | None:
    """A 2x2 map (x right, y down) that turns, slants and stretches a digit; None for none."""
    if rotate_degrees == 0 and slant == 0 and aspect == 1:
        return None
    angle = np.radians(rotate_degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lean = np.array([[1.0, -slant], [0.0, 1.0]])  # y grows downwards: higher points move right
    stretch = np.array([[aspect, 0.0], [0.0, 1.0]])
    return turn @ lean @ stretch


def print_confusion(labels: np.ndarray, predictions: np.ndarray) -> None:
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (labels, predictions), 1)
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for digit in range(10):
        print(f"{digit:>6}" + "".join(f"{n:>6}" for n in matrix[digit]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10000, help="samples to replay (a seeded random subset if < 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="model to measure (default: the shipped model)")
    parser.add_argument("--side", type=int, default=360, help="canvas side in pixels")
    parser.add_argument("--placement", choices=("person", "mnist"), default="person",
                        help="person: seeded random size (0.7-1.3x) and position, as people draw; "
                             "mnist: exactly where MNIST's frame puts the digit")
    parser.add_argument("--pen-width", type=float,
                        help="pen width as a fraction of the canvas side (default: the app's default)")
    parser.add_argument("--rotate", type=float, default=0.0, metavar="DEGREES",
                        help="turn every digit by this much (clockwise on screen), as people tilt their writing")
    parser.add_argument("--slant", type=float, default=0.0,
                        help="shear every digit: x moves by this times the height above the baseline (0.2 leans right)")
    parser.add_argument("--aspect", type=float, default=1.0, help="stretch every digit's width by this factor")
    args = parser.parse_args()
    transform = writing_style(args.rotate, args.slant, args.aspect)

    from PySide6.QtWidgets import QApplication

    from digitpad import paths
    from digitpad.gui.canvas import DrawingCanvas
    from digitpad.inference import UNSURE_BELOW, Classifier

    sequences, labels = load_stroke_set()
    chosen = np.arange(len(labels))
    if args.limit < len(labels):
        chosen = np.sort(np.random.default_rng(args.seed).choice(len(labels), args.limit, replace=False))
    checkpoint_path = args.checkpoint or paths.shipped_model_path()
    classifier = Classifier.from_path(checkpoint_path)

    app = QApplication.instance() or QApplication([])
    canvas = DrawingCanvas()
    canvas.resize(args.side, args.side)
    if args.pen_width is not None:
        canvas.set_pen_width(args.pen_width)
    canvas.show()
    app.processEvents()

    placement_rng = np.random.default_rng(args.seed) if args.placement == "person" else None
    methods = {
        "digitpad (strokes redrawn with an even pen; crop, fit 20x20, centre of mass)":
            lambda image: classifier.predict_strokes(canvas.strokes()),
        "the canvas's pixels, the same preprocessing": lambda image: classifier.predict(image, light_ink=True),
        "naive resize of the canvas to 28x28": lambda image: naive_prediction(classifier, image),
    }
    answers = {name: [] for name in methods}  # (digit, confidence) per sample; digit -1 = no answer
    started = time.perf_counter()
    for count, index in enumerate(chosen, start=1):
        canvas.clear()
        draw_sample(canvas, sequences[index], placement_rng, transform)
        image = canvas.to_array()
        for name, predict in methods.items():
            prediction = predict(image)
            answers[name].append((-1, 0.0) if prediction is None else (prediction.digit, prediction.confidence))
        if count % 1000 == 0:
            print(f"  {count} samples, {time.perf_counter() - started:.0f} s", flush=True)
    elapsed = time.perf_counter() - started
    canvas.close()

    truth = labels[chosen]
    app_name = next(iter(methods))
    app_predictions, confidences = (np.array(column) for column in zip(*answers[app_name]))
    app_predictions = app_predictions.astype(int)
    app_right = app_predictions == truth

    print(f"\nmodel: {checkpoint_path} ({classifier.describe()})")
    subset = "all" if len(chosen) == len(labels) else f"seeded subset (seed {args.seed})"
    print(f"samples: {len(chosen)} of {len(labels)} ({subset}); canvas {args.side}x{args.side}, "
          f"pen width {canvas.pen_width():g} of the side; placement {args.placement}; time {elapsed:.1f} s ({1000 * elapsed / len(chosen):.1f} ms/sample)")
    if transform is not None:
        print(f"every digit turned {args.rotate:g} degrees, slanted {args.slant:g}, stretched {args.aspect:g}x in width")
    print()
    print(f"| method | accuracy | unsure (< {UNSURE_BELOW:.2f}) | right when sure |")
    print("| --- | --- | --- | --- |")
    for name, pairs in answers.items():
        digits, certainty = (np.array(column) for column in zip(*pairs))
        right, sure = digits == truth, certainty >= UNSURE_BELOW
        print(f"| {name} | {right.mean():.2%} | {1 - sure.mean():.2%} | {right[sure].mean():.2%} |")
    print()
    print("per-digit accuracy (digitpad):")
    print("  " + "  ".join(f"{d}: {app_right[truth == d].mean():.2%}" for d in range(10)))
    print()
    print_confusion(truth, np.where(app_predictions < 0, 0, app_predictions))
    print()
    sure = confidences >= UNSURE_BELOW
    print(f"uncertainty at the app's threshold {UNSURE_BELOW:.2f}: says 'unsure' on {1 - sure.mean():.2%} of drawings; "
          f"answers marked sure are right {app_right[sure].mean():.2%} of the time")
    print("threshold sweep:  threshold | unsure | right when sure")
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.98):
        marked = confidences >= threshold
        print(f"                  {threshold:>9.2f} | {1 - marked.mean():>6.2%} | {app_right[marked].mean():.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
