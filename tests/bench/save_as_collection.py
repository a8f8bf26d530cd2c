"""Save the benchmarks' drawn digits as a collection, to measure with ``digitpad eval --images DIR``.

    python tests/bench/save_as_collection.py /tmp/writers --limit 2000
    digitpad eval --images /tmp/writers

The drawings are unsure_levels.py's (the same seed gives the same drawings): the
MNIST test digits' strokes, recorded or drawn by the many-writers proxy. Each is
kept as the app keeps a drawing you label: its 28x28 model input as a PNG and its
strokes in a JSON beside it, so ``eval --images`` reads them both as pictures and
as the canvas reads them. For measuring only: never train on them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_process import SHARED_MNIST  # noqa: E402
from fine_strokes import add_stroke_set_argument, load_strokes  # noqa: E402
from unsure_levels import digit_drawings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to save them (a new or empty folder)")
    parser.add_argument("--limit", type=int, default=2000, help="drawings (a seeded random subset of the 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recorded", action="store_true", help="the strokes as recorded, instead of many writers")
    add_stroke_set_argument(parser)
    args = parser.parse_args()
    if args.folder.exists() and any(args.folder.iterdir()):
        parser.error(f"{args.folder} is not empty")

    from digitpad.collection import Collection
    from digitpad.strokes import to_mnist_image

    started = time.perf_counter()
    sequences, labels = load_strokes(args.strokes, SHARED_MNIST)
    name = "recorded" if args.recorded else "many writers"
    drawings, digits = digit_drawings(sequences, labels, args.limit, args.seed, names=(name,))[name]
    collection = Collection(args.folder)
    for strokes, digit in zip(drawings, digits):
        collection.add(int(digit), to_mnist_image(strokes), strokes, model="benchmark drawing")
    print(f"{len(drawings)} drawings saved in {args.folder} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
