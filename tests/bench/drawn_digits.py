"""Drawn-digit accuracy: replay the MNIST test digits' pen strokes on the real canvas.

Each sample is drawn with real mouse events (press, moves with the left button
held, release) on the app's DrawingCanvas at its default pen width, then
classified along the app's own path (canvas -> preprocess -> model). In the
same run, the same canvas image is also classified the naive way other apps
use: the whole canvas shrunk to 28x28.

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


def naive_input(canvas_image: np.ndarray):
    """The other apps' method: shrink the whole canvas to 28x28."""
    from PIL import Image

    from digitpad.preprocess import normalize

    small = Image.fromarray(canvas_image).resize((28, 28), Image.Resampling.BILINEAR)
    return normalize(np.asarray(small, dtype=np.float32) / 255.0)


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
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from digitpad import paths
    from digitpad.gui.canvas import DEFAULT_PEN_WIDTH, DrawingCanvas
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
    canvas.show()
    app.processEvents()

    placement_rng = np.random.default_rng(args.seed) if args.placement == "person" else None
    started = time.perf_counter()
    app_predictions, naive_predictions, confidences = [], [], []
    for count, index in enumerate(chosen, start=1):
        canvas.clear()
        draw_sample(canvas, sequences[index], placement_rng)
        image = canvas.to_array()
        prediction = classifier.predict(image, light_ink=True)
        app_predictions.append(-1 if prediction is None else prediction.digit)
        confidences.append(0.0 if prediction is None else prediction.confidence)
        naive_predictions.append(int(classifier.probabilities(naive_input(image))[0].argmax()))
        if count % 1000 == 0:
            print(f"  {count} samples, {time.perf_counter() - started:.0f} s", flush=True)
    elapsed = time.perf_counter() - started
    canvas.close()

    truth = labels[chosen]
    app_predictions = np.array(app_predictions)
    naive_predictions = np.array(naive_predictions)
    confidences = np.array(confidences)
    app_right = app_predictions == truth

    print(f"\nmodel: {checkpoint_path} ({classifier.describe()})")
    subset = "all" if len(chosen) == len(labels) else f"seeded subset (seed {args.seed})"
    print(f"samples: {len(chosen)} of {len(labels)} ({subset}); canvas {args.side}x{args.side}, "
          f"pen width {DEFAULT_PEN_WIDTH:g} of the side; placement {args.placement}; time {elapsed:.1f} s ({1000 * elapsed / len(chosen):.1f} ms/sample)")
    print()
    print("| method | accuracy |")
    print("| --- | --- |")
    print(f"| digitpad (crop, fit 20x20, centre of mass) | {app_right.mean():.2%} |")
    print(f"| naive resize of the canvas to 28x28 | {(naive_predictions == truth).mean():.2%} |")
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
