"""Training speed: the study note's loop against digitpad's, side by side in one run.

Both train the note's MLP (784-512-256-10, dropout 0.5, Adam) and report their
test accuracy. Two measures, each from runs that alternate (note, digitpad,
note, digitpad, ...) so that machine noise hits both alike; medians compared:

- steady state: the seconds per epoch after the first, with imports and data
  loading excluded, over ``--epochs`` epochs: the note's loop (its DataLoader,
  batch 64) against digitpad's (``fit`` with the MLP's defaults, as ``digitpad
  train --arch mlp`` runs it, validation included), each timed per epoch inside
  its own process, in wall and CPU seconds, and the test accuracy each reaches;
- whole process: one epoch each, timed from process start to exit.

Then the default CNN's recipe is trained for 1, 2, ... epochs (up to its
default), each a whole process, until one reaches 99 % on the MNIST test set.
With ``--device cuda`` (on a machine with a GPU) digitpad trains there, and the
MLP and the CNN are also trained with and without mixed precision.

    python tests/bench/train_speed.py [--repeats 3] [--epochs 3] [--threads N] [--data-dir ../shared/mnist]
                                      [--device cpu] [--skip-whole-process] [--skip-cnn]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench_process import SHARED_MNIST, isolated_env, run_timed

from digitpad.config import TrainConfig

# The study note's training loop: per-item PIL transforms in a DataLoader, then
# the note's own train and test loops around its Network class. Each epoch is
# timed on its own; imports and building the datasets are not in those times.
STUDY_NOTE_LOOP = textwrap.dedent(
    """
    import sys, time
    import torch
    from torch import nn, optim
    from torchvision import datasets, transforms

    from digitpad.models import Network  # the study note's class, line for line

    root, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if threads:
        torch.set_num_threads(threads)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    trainset = datasets.MNIST(root, download=False, train=True, transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=64, shuffle=True)
    testset = datasets.MNIST(root, download=False, train=False, transform=transform)
    testloader = torch.utils.data.DataLoader(testset, batch_size=64, shuffle=True)

    model = Network(784, 10, [512, 256], drop_p=0.5)
    criterion = nn.NLLLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    for epoch in range(epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        model.train()
        for images, labels in trainloader:
            images = images.view(images.shape[0], -1)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        print(f"epoch seconds: {time.perf_counter() - started:.3f} cpu {time.process_time() - cpu_started:.3f}",
              flush=True)

    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in testloader:
            output = model(images.view(images.shape[0], -1))  # Network also flattens itself
            correct += (output.exp().max(dim=1)[1] == labels).sum().item()
    print(f"test accuracy: {correct / len(testset):.4f}")
    """
)
# digitpad's loop, as `digitpad train --arch mlp` runs it: fit() with the MLP's defaults,
# each epoch timed from the end of the one before (so its validation is included).
DIGITPAD_LOOP = textwrap.dedent(
    """
    import sys, time
    import torch
    from digitpad.config import TrainConfig
    from digitpad.data import load_mnist
    from digitpad.training import BatchProgress, TrainingResult, fit, training_threads

    root, epochs, threads, device = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(threads or training_threads(leave_core_for_gui=False))
    data = load_mnist(root, download=False)
    started, cpu_started = time.perf_counter(), time.process_time()
    for event in fit(TrainConfig.defaults_for("mlp", epochs=epochs, device=device), data):
        if isinstance(event, BatchProgress) and event.step == event.steps_per_epoch:
            now, cpu_now = time.perf_counter(), time.process_time()
            print(f"epoch seconds: {now - started:.3f} cpu {cpu_now - cpu_started:.3f}", flush=True)
            started, cpu_started = now, cpu_now
        elif isinstance(event, TrainingResult):
            print(f"test accuracy: {event.test_accuracy:.4f}")
    """
)
EPOCH_SECONDS = re.compile(r"^epoch seconds: ([\d.]+) cpu ([\d.]+)$", re.MULTILINE)
DIGITPAD_EPOCH = re.compile(r"^epoch (\d+) validation: .*\(([\d.]+) s\)$", re.MULTILINE)


def stage_torchvision_layout(source: Path, target: Path) -> Path:
    """The note reads torchvision's layout: decompressed files under MNIST/raw."""
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for packed in source.glob("*-ubyte.gz"):
        with gzip.open(packed) as stream, open(raw / packed.name[:-3], "wb") as out:
            shutil.copyfileobj(stream, out)
    return target


def digitpad_epoch_seconds(output: str) -> list[float]:
    """Seconds per epoch from `digitpad train`'s validation lines (one validation per epoch)."""
    ends = [float(match.group(2)) for match in DIGITPAD_EPOCH.finditer(output)]
    return [b - a for a, b in zip([0.0, *ends], ends)]


def steady(per_epoch: list[float]) -> float:
    """Seconds per epoch after the first."""
    return statistics.median(per_epoch[1:]) if len(per_epoch) > 1 else float("nan")


def load_average() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime: not available"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the steady-state runs (at least 2)")
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST)
    parser.add_argument("--device", default="cpu", help="digitpad's device (the note's loop runs on the CPU)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for both steady-state loops (default 0: torch's and digitpad's own "
                        "choice, every core); with 1, CPU seconds are little disturbed by other work on the machine")
    parser.add_argument("--skip-whole-process", action="store_true")
    parser.add_argument("--skip-cnn", action="store_true")
    args = parser.parse_args()
    print(f"before: {load_average()}")

    with tempfile.TemporaryDirectory(prefix="digitpad-bench-") as scratch_name:
        scratch = Path(scratch_name)
        note_root = stage_torchvision_layout(args.data_dir, scratch / "note-data")
        note_script = scratch / "study_note_loop.py"
        note_script.write_text(STUDY_NOTE_LOOP)
        env = isolated_env(scratch)

        digitpad_script = scratch / "digitpad_loop.py"
        digitpad_script.write_text(DIGITPAD_LOOP)

        def note_loop(epochs: int) -> list[str]:
            return [sys.executable, str(note_script), str(note_root), str(epochs), str(args.threads)]

        def digitpad_loop(epochs: int) -> list[str]:
            return [sys.executable, str(digitpad_script), str(args.data_dir), str(epochs), str(args.threads),
                    args.device]

        def digitpad_train(epochs: int, *extra: str) -> list[str]:
            return [sys.executable, "-m", "digitpad", "train", "--arch", "mlp", "--epochs", str(epochs),
                    "--device", args.device, "--data-dir", str(args.data_dir), "--out", str(scratch / "mlp.pt"), *extra]

        # Warm both: the OS file cache for each, and digitpad's tensor cache (built once per data folder).
        cold_digitpad, _, _ = run_timed(digitpad_train(1), env)
        run_timed(note_loop(1), env)

        report_steady_state(args, note_loop, digitpad_loop, env)
        if not args.skip_whole_process:
            report_whole_process(args, note_loop, digitpad_train, env, cold_digitpad)
        if args.device.startswith("cuda"):
            report_mixed_precision(args, scratch, env)
        if not args.skip_cnn:
            report_cnn(args, scratch, env)
    print(f"\nafter: {load_average()}")
    return 0


def report_steady_state(args, note_loop, digitpad_loop, env) -> None:
    note_runs, digitpad_runs = [], []
    for _ in range(args.repeats):
        for command, runs in ((note_loop, note_runs), (digitpad_loop, digitpad_runs)):
            _, accuracy, output = run_timed(command(args.epochs), env)
            epochs = [(float(wall), float(cpu)) for wall, cpu in EPOCH_SECONDS.findall(output)]
            runs.append((epochs, accuracy))

    def summary(runs, which: int) -> tuple[float, float]:
        """Median over runs of the seconds per epoch after the first, and the fastest such epoch."""
        per_run = [steady([epoch[which] for epoch in epochs]) for epochs, _ in runs]
        return statistics.median(per_run), min(epoch[which] for epochs, _ in runs for epoch in epochs[1:])

    threads = args.threads or "all the cores'"
    print(f"\nSteady state: seconds per epoch after the first, {args.epochs} epochs each, {args.repeats} alternating "
          f"runs, {threads} torch threads ({os.cpu_count()} cores); imports and data loading not timed:\n")
    print(f"| loop | median wall | fastest wall | median CPU | test accuracy after {args.epochs} epochs |")
    print("| --- | --- | --- | --- | --- |")
    rows = {"study note (its DataLoader, batch 64, Adam 0.001)": note_runs,
            "digitpad (`fit`, the MLP's defaults: batch 512, one-cycle to 0.003, validation included)": digitpad_runs}
    for name, runs in rows.items():
        (wall, fastest), (cpu, _) = summary(runs, 0), summary(runs, 1)
        print(f"| {name} | {wall:.2f} s | {fastest:.2f} s | {cpu:.2f} s | "
              f"{statistics.median(a for _, a in runs):.4f} |")
    ratios = [summary(note_runs, which)[pick] / summary(digitpad_runs, which)[pick]
              for which, pick in ((0, 0), (0, 1), (1, 0))]
    print(f"\nsteady-state speed-up (target: at least 5x): median wall {ratios[0]:.2f}x, fastest wall "
          f"{ratios[1]:.2f}x, median CPU {ratios[2]:.2f}x")
    for name, runs in (("note", note_runs), ("digitpad", digitpad_runs)):
        print(f"{name} epochs (wall/CPU s): " + "; ".join(", ".join(f"{w:.2f}/{c:.2f}" for w, c in epochs)
                                                       for epochs, _ in runs))


def report_whole_process(args, note_loop, digitpad_train, env, cold_digitpad: float) -> None:
    note_runs, digitpad_runs = [], []
    for _ in range(args.repeats):
        note_runs.append(run_timed(note_loop(1), env))
        digitpad_runs.append(run_timed(digitpad_train(1, "--hidden", "512,256", "--dropout", "0.5"), env))

    note_time = statistics.median(run[0] for run in note_runs)
    digitpad_time = statistics.median(run[0] for run in digitpad_runs)
    print(f"\nWhole process: one epoch of the study note's MLP, median of {args.repeats} alternating runs:\n")
    print("| run | wall time | test accuracy |")
    print("| --- | --- | --- |")
    print(f"| study note loop (DataLoader, batch 64) | {note_time:.2f} s | "
          f"{statistics.median(r[1] for r in note_runs):.4f} |")
    print(f"| `digitpad train --arch mlp --hidden 512,256 --dropout 0.5 --epochs 1` | {digitpad_time:.2f} s | "
          f"{statistics.median(r[1] for r in digitpad_runs):.4f} |")
    print(f"\nwhole-process speed-up: {note_time / digitpad_time:.2f}x   (digitpad's first run, building its tensor "
          f"cache: {cold_digitpad:.2f} s)")
    print("all runs (s): note " + ", ".join(f"{r[0]:.2f}" for r in note_runs)
          + "; digitpad " + ", ".join(f"{r[0]:.2f}" for r in digitpad_runs))


def report_mixed_precision(args, scratch: Path, env: dict[str, str]) -> None:
    """On a GPU: each architecture's defaults with and without bfloat16 autocast, alternating."""
    print(f"\nMixed precision on {args.device}, each architecture's defaults, median of {args.repeats}:\n")
    print("| network | precision | seconds per epoch after the first | test accuracy |")
    print("| --- | --- | --- | --- |")
    for arch in ("mlp", "cnn"):
        runs: dict[str, list[tuple[float, float]]] = {"--mixed-precision": [], "--no-mixed-precision": []}
        for _ in range(args.repeats):
            for flag, results in runs.items():
                _, accuracy, output = run_timed(
                    [sys.executable, "-m", "digitpad", "train", "--arch", arch, "--device", args.device, flag,
                     "--data-dir", str(args.data_dir), "--out", str(scratch / f"{arch}-amp.pt")], env)
                results.append((steady(digitpad_epoch_seconds(output)), accuracy))
        for flag, results in runs.items():
            name = "bfloat16 autocast" if flag == "--mixed-precision" else "float32"
            print(f"| {arch} | {name} | {statistics.median(r[0] for r in results):.2f} s | "
                  f"{statistics.median(r[1] for r in results):.4f} |")


def report_cnn(args, scratch: Path, env: dict[str, str]) -> None:
    """The default CNN: its seconds per epoch, and its time to 99 % on the MNIST test set.

    The one-cycle schedule spans the whole run, so an N-epoch run is not the first N
    epochs of a longer one: time to 99 % is the whole-process time of the shortest
    run of the default recipe (1, 2, ... up to its default epochs) that reaches it.
    """
    default_epochs = TrainConfig.defaults_for("cnn").epochs
    reached = None
    print(f"\nDefault CNN (`digitpad train --device {args.device}`, {default_epochs} epochs by default), "
          "whole process each:\n")
    print("| epochs | wall time | test accuracy | seconds per epoch (training, from its log) |")
    print("| --- | --- | --- | --- |")
    for epochs in range(1, default_epochs + 1):
        seconds, accuracy, output = run_timed(
            [sys.executable, "-m", "digitpad", "train", "--epochs", str(epochs), "--device", args.device,
             "--data-dir", str(args.data_dir), "--out", str(scratch / "cnn.pt")], env)
        per_epoch = digitpad_epoch_seconds(output)
        print(f"| {epochs} | {seconds:.1f} s | {accuracy:.4f} | {', '.join(f'{t:.1f}' for t in per_epoch)} |")
        if accuracy >= 0.99 and reached is None:
            reached = (epochs, seconds)
    if reached:
        print(f"\ntime to 99 %: {reached[1]:.1f} s, whole process ({reached[0]} epochs)")
    else:
        print(f"\ntime to 99 %: not reached within the default {default_epochs} epochs")


if __name__ == "__main__":
    sys.exit(main())
