"""Training speed: the study note's loop against `digitpad train`, side by side in one run.

Both train the note's MLP (784-512-256-10, dropout 0.5) for one epoch and
report test accuracy; each is a whole process, timed from start to exit. The
runs alternate (note, digitpad, note, digitpad, ...) so that machine noise hits
both alike, and the median of each is compared. Then the default CNN's recipe
is trained for 1, 2, ... epochs (up to its default), each a whole process,
until one reaches 99 % on the MNIST test set: its seconds per epoch and that
time to 99 % are reported.

    python tests/bench/train_speed.py [--repeats 3] [--data-dir ../shared/mnist]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

from bench_process import SHARED_MNIST, isolated_env, run_timed

from digitpad.config import TrainConfig

# The study note's training loop: per-item PIL transforms in a DataLoader, then
# the note's own train and test loops around its Network class.
STUDY_NOTE_LOOP = textwrap.dedent(
    """
    import sys
    import torch
    from torch import nn, optim
    from torchvision import datasets, transforms

    from digitpad.models import Network  # the study note's class, line for line

    root = sys.argv[1]
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    trainset = datasets.MNIST(root, download=False, train=True, transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=64, shuffle=True)
    testset = datasets.MNIST(root, download=False, train=False, transform=transform)
    testloader = torch.utils.data.DataLoader(testset, batch_size=64, shuffle=True)

    model = Network(784, 10, [512, 256], drop_p=0.5)
    criterion = nn.NLLLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    model.train()
    for images, labels in trainloader:
        images = images.view(images.shape[0], -1)
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()

    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in testloader:
            output = model(images.view(images.shape[0], -1))  # Network also flattens itself
            correct += (output.exp().max(dim=1)[1] == labels).sum().item()
    print(f"test accuracy: {correct / len(testset):.4f}")
    """
)

def stage_torchvision_layout(source: Path, target: Path) -> Path:
    """The note reads torchvision's layout: decompressed files under MNIST/raw."""
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for packed in source.glob("*-ubyte.gz"):
        with gzip.open(packed) as stream, open(raw / packed.name[:-3], "wb") as out:
            shutil.copyfileobj(stream, out)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST)
    parser.add_argument("--skip-cnn", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="digitpad-bench-") as scratch_name:
        scratch = Path(scratch_name)
        note_root = stage_torchvision_layout(args.data_dir, scratch / "note-data")
        note_script = scratch / "study_note_loop.py"
        note_script.write_text(STUDY_NOTE_LOOP)
        note_loop = [sys.executable, str(note_script), str(note_root)]
        env = isolated_env(scratch)
        digitpad_train = [sys.executable, "-m", "digitpad", "train", "--arch", "mlp", "--hidden", "512,256",
                          "--dropout", "0.5", "--epochs", "1", "--data-dir", str(args.data_dir),
                          "--out", str(scratch / "mlp.pt")]
        # Warm both: the OS file cache for each, and digitpad's tensor cache (built once per data folder).
        cold_digitpad, _, _ = run_timed(digitpad_train, env)
        run_timed(note_loop, env)

        note_runs, digitpad_runs = [], []
        for _ in range(args.repeats):
            note_runs.append(run_timed(note_loop, env))
            digitpad_runs.append(run_timed(digitpad_train, env))

        note_time = statistics.median(run[0] for run in note_runs)
        digitpad_time = statistics.median(run[0] for run in digitpad_runs)
        print(f"\nOne epoch of the study note's MLP, whole process, median of {args.repeats} alternating runs "
              f"({os.cpu_count()} cores):\n")
        print("| run | wall time | test accuracy |")
        print("| --- | --- | --- |")
        print(f"| study note loop (DataLoader, batch 64) | {note_time:.2f} s | "
              f"{statistics.median(r[1] for r in note_runs):.4f} |")
        print(f"| `digitpad train --arch mlp --hidden 512,256 --dropout 0.5 --epochs 1` | {digitpad_time:.2f} s | "
              f"{statistics.median(r[1] for r in digitpad_runs):.4f} |")
        print(f"\nspeed-up: {note_time / digitpad_time:.2f}x   (digitpad's first run, building its tensor cache: "
              f"{cold_digitpad:.2f} s)")
        print("all runs (s): note " + ", ".join(f"{r[0]:.2f}" for r in note_runs)
              + "; digitpad " + ", ".join(f"{r[0]:.2f}" for r in digitpad_runs))

        if not args.skip_cnn:
            report_cnn(args.data_dir, scratch, env)
    return 0


EPOCH_LINE = re.compile(r"^epoch (\d+) validation: .*\(([\d.]+) s\)$")


def report_cnn(data_dir: Path, scratch: Path, env: dict[str, str]) -> None:
    """The default CNN: its seconds per epoch, and its time to 99 % on the MNIST test set.

    The one-cycle schedule spans the whole run, so an N-epoch run is not the first N
    epochs of a longer one: time to 99 % is the whole-process time of the shortest
    run of the default recipe (1, 2, ... up to its default epochs) that reaches it.
    """
    default_epochs = TrainConfig.defaults_for("cnn").epochs
    reached = None
    print(f"\nDefault CNN (`digitpad train`, {default_epochs} epochs by default), whole process each:\n")
    print("| epochs | wall time | test accuracy | seconds per epoch (training, from its log) |")
    print("| --- | --- | --- | --- |")
    for epochs in range(1, default_epochs + 1):
        seconds, accuracy, output = run_timed(
            [sys.executable, "-m", "digitpad", "train", "--epochs", str(epochs), "--data-dir", str(data_dir),
             "--out", str(scratch / "cnn.pt")], env)
        ends = [float(m.group(2)) for m in map(EPOCH_LINE.match, output.splitlines()) if m]
        per_epoch = [b - a for a, b in zip([0.0, *ends], ends)]
        print(f"| {epochs} | {seconds:.1f} s | {accuracy:.4f} | {', '.join(f'{t:.1f}' for t in per_epoch)} |")
        if accuracy >= 0.99:
            reached = (epochs, seconds)
            break
    if reached:
        print(f"\ntime to 99 %: {reached[1]:.1f} s, whole process ({reached[0]} epochs)")
    else:
        print(f"\ntime to 99 %: not reached within the default {default_epochs} epochs")


if __name__ == "__main__":
    sys.exit(main())
