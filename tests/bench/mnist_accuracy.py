"""MNIST test accuracy: the shipped model, then each architecture trained with its defaults.

Training runs through `digitpad train` (a whole process each) on this
machine's cores; its wall time is reported beside the accuracy.

    python tests/bench/mnist_accuracy.py [--data-dir ../shared/mnist] [--skip-training]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench_process import SHARED_MNIST, isolated_env, run_timed

TARGETS = {"shipped": 0.993, "cnn": 0.990, "mlp": 0.980}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()

    from digitpad import paths

    rows = []
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-") as scratch_name:
        scratch = Path(scratch_name)
        env = isolated_env(scratch)
        shipped = paths.shipped_model_path()
        _, accuracy, output = run_timed([sys.executable, "-m", "digitpad", "eval", "--checkpoint", str(shipped),
                                         "--data-dir", str(args.data_dir)], env)
        rows.append(("shipped model (resources/model.pt)", accuracy, None, TARGETS["shipped"]))
        print(output)
        if not args.skip_training:
            for arch in ("cnn", "mlp"):
                seconds, accuracy, _ = run_timed([sys.executable, "-m", "digitpad", "train", "--arch", arch,
                                                  "--data-dir", str(args.data_dir), "--out", str(scratch / f"{arch}.pt")],
                                                 env)
                rows.append((f"`digitpad train --arch {arch}` (defaults)", accuracy, seconds, TARGETS[arch]))

    print(f"| model | MNIST test accuracy | target | training wall time ({os.cpu_count()} cores, whole process) |")
    print("| --- | --- | --- | --- |")
    for name, accuracy, seconds, target in rows:
        verdict = "met" if accuracy >= target else "MISSED"
        timing = "-" if seconds is None else f"{seconds:.1f} s"
        print(f"| {name} | {accuracy:.2%} | ≥ {target:.1%} ({verdict}) | {timing} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
