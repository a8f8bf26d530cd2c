"""Training in several processes: seconds per epoch for 1, 2, ... torchrun processes.

Each run is `torchrun --standalone --nproc_per_node=N -m digitpad train` with the
same global batch and seed, so only the number of processes changes. On the
CPU the processes use gloo and share the machine's cores (each takes cores / N
torch threads); on a GPU machine, with ``--device cuda``, they use nccl and one
GPU each. The runs alternate (1, 2, ..., 1, 2, ...) and the medians of the
seconds per epoch after the first (rank 0's validation lines, validation
included) are compared, with the test accuracy each run reaches.

    python tests/bench/ddp_scaling.py [--processes 1,2] [--arch mlp] [--epochs 3] [--repeats 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_process import SHARED_MNIST, isolated_env, run_timed
from train_speed import digitpad_epoch_seconds, load_average, steady


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default=None,
                        help="process counts, comma separated (default: 1, 2, 4, ... up to the cores, or the GPUs)")
    parser.add_argument("--arch", default="mlp", choices=("mlp", "cnn"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST)
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")] if args.processes else default_counts(args.device)
    print(f"before: {load_average()}")

    with tempfile.TemporaryDirectory(prefix="digitpad-bench-") as scratch_name:
        scratch = Path(scratch_name)
        env = isolated_env(scratch)
        def train(epochs: int) -> list[str]:
            return ["-m", "digitpad", "train", "--arch", args.arch, "--epochs", str(epochs), "--device", args.device,
                    "--data-dir", str(args.data_dir), "--out", str(scratch / "model.pt")]

        run_timed([sys.executable, *train(1)], env)  # digitpad's tensor cache, and the OS file cache

        runs: dict[int, list[tuple[float, float, float]]] = {n: [] for n in counts}
        for _ in range(args.repeats):
            for processes in counts:
                seconds, accuracy, output = run_timed(
                    [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                     *train(args.epochs)], env)
                runs[processes].append((steady(digitpad_epoch_seconds(output)), accuracy, seconds))

    base = statistics.median(r[0] for r in runs[counts[0]])
    print(f"\n`digitpad train --arch {args.arch} --epochs {args.epochs} --device {args.device}` under torchrun, "
          f"median of {args.repeats} alternating runs ({os.cpu_count()} cores):\n")
    print("| processes | seconds per epoch after the first | against the first row | test accuracy | whole run |")
    print("| --- | --- | --- | --- | --- |")
    for processes, results in runs.items():
        epoch = statistics.median(r[0] for r in results)
        print(f"| {processes} | {epoch:.2f} s | {base / epoch:.2f}x | {statistics.median(r[1] for r in results):.4f} "
              f"| {statistics.median(r[2] for r in results):.1f} s |")
    print("\nall (s per epoch): " + "; ".join(f"{n}: " + ", ".join(f"{r[0]:.2f}" for r in results)
                                          for n, results in runs.items()))
    print(f"after: {load_average()}")
    return 0


def default_counts(device: str) -> list[int]:
    if device == "cuda":
        import torch

        most = max(1, torch.cuda.device_count())
    else:
        most = max(1, os.cpu_count() or 1)
    counts = [1]
    while counts[-1] * 2 <= most:
        counts.append(counts[-1] * 2)
    return counts if len(counts) > 1 else [1, 2]


if __name__ == "__main__":
    sys.exit(main())
