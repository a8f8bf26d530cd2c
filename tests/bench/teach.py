"""Teaching digitpad a writer's handwriting: before and after, per writer and per K drawings of each digit.

Each simulated writer (tests/bench/writers.py) draws the MNIST test digits'
strokes in a style of their own. For K = 1, 3 and 10, K of their drawings of
each digit are put in a real collection (digitpad.collection, real files) and
the shipped model is taught on them with digitpad.teaching.teach, as
`digitpad teach` and the app's Teach button do; the model before and after
is then measured on all of that writer's other drawings, and on the MNIST test
set. Nothing is held out of the K drawings here (--holdout 0 by default): the
writer's other drawings are the measure. With a stroke reader, teaching
teaches it too; "after, stroke reader not taught" reads the same taught image
network beside the reader as it was, side by side in the same run.

The strokes are skeletons of MNIST test digits, and some are unreadable in any
style, so each writer's other drawings are also drawn in no style at all (the
plain writer, same digits): "plain" is what the shipped model reads of those,
the ceiling no style can pass, and "after, of those readable" is the accuracy
after teaching on the drawings whose plain version the shipped model reads
right, so what is left there is the writer's style.

    python tests/bench/teach.py [--writers 0,1,...] [--ks 1,3,10] [--per-digit N] [--epochs N] [--data-dir DIR]
        [--strokes shared|fine] [--checkpoint PATH]

The strokes are for measuring only: the taught models are thrown away.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_process import SHARED_MNIST  # noqa: E402
from fine_strokes import add_stroke_set_argument, load_strokes  # noqa: E402
from writers import PLAIN, WRITERS  # noqa: E402


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.split("load average:")[-1].strip()


def right(classifier, images: np.ndarray, drawings: list, labels: np.ndarray) -> np.ndarray:
    """(N,) bool: which drawings (their redraws ``images`` and their strokes) the classifier reads right,
    as the app reads the canvas: with the stroke reader too when the model has one."""
    answers = np.concatenate([classifier.drawing_probabilities(images[i:i + 1000], drawings[i:i + 1000])
                              for i in range(0, len(images), 1000)])
    return answers.argmax(axis=1) == labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", default=",".join(str(n) for n in range(len(WRITERS))),
                        help="which writers to run, by number (0 is the first)")
    parser.add_argument("--ks", default="1,3,10", help="drawings of each digit to teach with")
    parser.add_argument("--per-digit", type=int, default=0,
                        help="measure on this many other drawings of each digit (default 0: all of them)")
    parser.add_argument("--epochs", type=int, help="TeachConfig.epochs (default: its default)")
    parser.add_argument("--lr", type=float, help="TeachConfig.lr")
    parser.add_argument("--reader-lr", type=float, help="TeachConfig.reader_lr")
    parser.add_argument("--variants", type=int, help="TeachConfig.variants")
    parser.add_argument("--drawings-per-batch", type=int, help="TeachConfig.drawings_per_batch")
    parser.add_argument("--mnist-per-batch", type=int, help="TeachConfig.mnist_per_batch")
    parser.add_argument("--holdout", type=float, default=0.0, help="TeachConfig.holdout_fraction (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="model to teach (default: the shipped model)")
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST)
    add_stroke_set_argument(parser)
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]

    # Before the scratch home: the fine strokes are traced once, into the user's cache.
    sequences, labels = load_strokes(args.strokes, args.data_dir)
    scratch = Path(tempfile.mkdtemp(prefix="digitpad-teach-bench-"))
    os.environ["DIGITPAD_HOME"] = str(scratch / "home")  # the MNIST cache and nothing else goes there

    import torch

    from digitpad import checkpoint, paths
    from digitpad.collection import Collection
    from digitpad.config import TeachConfig
    from digitpad.data import load_mnist
    from digitpad.inference import Classifier
    from digitpad.strokes import to_mnist_image
    from digitpad.teaching import TeachingResult, teach
    from digitpad.training import training_threads

    torch.set_num_threads(training_threads(leave_core_for_gui=False))
    changes = {name: getattr(args, name) for name in ("epochs", "lr", "reader_lr", "variants", "drawings_per_batch",
                                                      "mnist_per_batch") if getattr(args, name) is not None}
    config = TeachConfig(holdout_fraction=args.holdout, seed=args.seed, **changes)
    shipped = checkpoint.load(args.checkpoint or paths.shipped_model_path())
    model = Classifier.from_checkpoint(shipped)
    data = load_mnist(args.data_dir, download=False)
    print(f"model: {args.checkpoint or paths.shipped_model_path()} ({model.describe()}); torch threads "
          f"{torch.get_num_threads()}; {config}; the {args.strokes} MNIST strokes")
    print(f"load average at start: {load()}\n", flush=True)

    rows = []
    print("| writer | K | before | after | after, stroke reader not taught | plain (ceiling) | after, of those readable "
          "| MNIST test after (before) | teach wall time | load average |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for number in (int(n) for n in args.writers.split(",")):
        writer = WRITERS[number]
        rng = np.random.default_rng([args.seed, number])
        taught_index, measured_index = {}, []
        for digit in range(10):
            of_digit = rng.permutation(np.flatnonzero(labels == digit))
            taught_index[digit] = of_digit[: max(ks)]
            others = of_digit[max(ks):]
            measured_index.extend(others[: args.per_digit] if args.per_digit else others)
        measured_labels = labels[measured_index]
        measured_strokes = [writer.strokes(sequences[i], labels[i], rng) for i in measured_index]
        measured = np.stack([to_mnist_image(strokes) for strokes in measured_strokes])
        before = right(model, measured, measured_strokes, measured_labels).mean()
        plain_rng = np.random.default_rng([args.seed, number, 1])
        plain_strokes = [PLAIN.strokes(sequences[i], labels[i], plain_rng) for i in measured_index]
        plain = np.stack([to_mnist_image(strokes) for strokes in plain_strokes])
        readable = right(model, plain, plain_strokes, measured_labels)
        for k in ks:
            collection = Collection(scratch / f"writer-{number}-k{k}")
            for digit in range(10):
                for index in taught_index[digit][:k]:
                    strokes = writer.strokes(sequences[index], digit, rng)
                    collection.add(digit, to_mnist_image(strokes), strokes, model="shipped")
            started = time.perf_counter()
            result = None
            for event in teach(shipped.model_config, shipped.state_dict, shipped.history, collection.drawings(),
                               data, config, stroke_reader=shipped.stroke_reader):
                if isinstance(event, TeachingResult):
                    result = event
            elapsed = time.perf_counter() - started
            # As the app keeps it: the taught image network with the taught stroke reader.
            taught = Classifier.from_state(result.model_config, result.state_dict,
                                           stroke_reader_state=result.stroke_reader)
            taught_right = right(taught, measured, measured_strokes, measured_labels)
            after, after_readable = taught_right.mean(), taught_right[readable].mean()
            # Side by side: the same taught image network with the stroke reader as it was before teaching.
            untaught_reader = Classifier.from_state(result.model_config, result.state_dict,
                                                    stroke_reader_state=shipped.stroke_reader)
            reader_kept = right(untaught_reader, measured, measured_strokes, measured_labels).mean()
            rows.append((writer.name, k, before, after, result.test_accuracy, result.mnist_before, elapsed))
            print(f"| {writer.name} | {k} | {before:.2%} | {after:.2%} | {reader_kept:.2%} | {readable.mean():.2%} "
                  f"| {after_readable:.2%} "
                  f"| {result.test_accuracy:.2%} ({result.mnist_before:.2%}) | {elapsed:.1f} s | {load()} |", flush=True)
    print(f"\nmeasured on {len(measured_labels)} other drawings per writer; holdout {config.holdout_fraction:g}")
    drops = [100 * (row[5] - row[4]) for row in rows]
    print(f"largest MNIST test drop: {max(drops):.2f} points; longest teach: {max(r[6] for r in rows):.1f} s")
    print(f"config: {dataclasses.asdict(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
