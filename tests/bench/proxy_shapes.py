"""The many writers with and without the digit shapes training also draws, read by several models.

proxy_writers.py gives some 1s a flag, some 7s a bar and some 0s a slash. The shipped
model's training draws the same habits (digitpad/habits.py), so on those digits the
proxy is no independent check. This bench reads the same writers with those shapes and
without them, for each model given, offline as the canvas reads a drawing
(``digitpad.answers.as_drawn``: the image network, with the stroke reader where the
model has one). A model's gain then splits into the habits it was taught and
everything else the writers do. The model the issue's hidden set was measured on is in
git: ``git show 2a03759:resources/model.pt > /tmp/then.pt``.

    python tests/bench/proxy_shapes.py [--checkpoint /tmp/then.pt] [--limit 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_process import SHARED_MNIST  # noqa: E402
from fine_strokes import load_strokes  # noqa: E402
from unsure_levels import digit_drawings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, action="append", default=[],
                        help="a model to read them with, as well as the shipped one (repeatable)")
    parser.add_argument("--limit", type=int, default=10000, help="drawings of each set (a seeded random subset)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from digitpad import answers, paths
    from digitpad.inference import Classifier

    torch.set_num_threads(1)  # as the app reads drawings
    models = {str(path): Classifier.from_path(path) for path in args.checkpoint}
    models["shipped"] = Classifier.from_path(paths.shipped_model_path())
    for name, classifier in models.items():
        print(f"{name}: {classifier.describe()}")
    print("\nAccuracy (unsure / sure answers right), read as the canvas reads:\n")
    print("| many writers | " + " | ".join(models) + " |")
    print("| --- |" + " --- |" * len(models))
    started = time.perf_counter()
    for stroke_set in ("shared", "fine"):
        sequences, labels = load_strokes(stroke_set, SHARED_MNIST)
        for shapes in (True, False):
            drawings, digits = digit_drawings(sequences, labels, args.limit, args.seed, shapes,
                                              names=("many writers",))["many writers"]
            cells = []
            for classifier in models.values():
                read = answers.as_drawn(classifier, drawings, digits)
                cells.append(f"{read.accuracy:.2%} ({read.unsure_share:.2%} / {read.right_when_sure:.2%})")
            print(f"| {stroke_set} strokes, {len(digits)}, {'with' if shapes else 'without'} the shapes | "
                  + " | ".join(cells) + " |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
