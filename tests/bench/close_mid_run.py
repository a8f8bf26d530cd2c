"""Closing the window mid-run: how long ``close()`` takes while Train or Teach is busy.

Each run is its own process: the real MainWindow, offscreen, in a fresh digitpad
home, MNIST from ../shared/mnist (its cache built once per run, outside the
time). For Teach, the home's My digits holds 100 drawings (10 of each digit, the
MNIST test digits' strokes). The button is clicked, and once the progress bar
shows the first "Epoch", the window is closed; the time is close() returning,
which joins the run's thread.

    python tests/bench/close_mid_run.py [--runs 3] [--baseline DIR]

``--baseline DIR`` runs another copy of the code (``git archive REV digitpad resources |
tar -x -C DIR``) in the same loop, alternating with this one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_process import REPO_ROOT, SHARED_MNIST  # noqa: E402

# Run in the child: one close, timed; prints {"seconds": ...}.
CHILD = r"""
import json, sys, time
import numpy as np
sys.path[:0] = [sys.argv[2], sys.argv[2] + "/bench"]
from PySide6.QtCore import QEventLoop, QTimer, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QProgressBar, QPushButton

def wait(ms):
    loop = QEventLoop(); QTimer.singleShot(ms, loop.quit); loop.exec()

def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        wait(20)

what = sys.argv[1]
if what == "teach":
    from stroke_replay import load_stroke_set
    from writers import PLAIN
    from digitpad.collection import Collection
    from digitpad.strokes import to_mnist_image
    sequences, labels = load_stroke_set()
    rng, collection = np.random.default_rng(0), Collection()
    for digit in range(10):
        for index in np.flatnonzero(labels == digit)[:10]:
            strokes = PLAIN.strokes(sequences[index], digit, rng)
            collection.add(digit, to_mnist_image(strokes), strokes, model="bench")
from digitpad.gui.app import create_application
app = create_application()
from digitpad.gui.main_window import MainWindow
window = MainWindow()
window.show()
wait_until(lambda: window.model() is not None, 60)
QTest.mouseClick(window.findChild(QPushButton, f"{what}_button"), Qt.MouseButton.LeftButton)
bar = window.findChild(QProgressBar, "train_progress")
wait_until(lambda: bar.text().startswith("Epoch"), 300)
started = time.perf_counter()
window.close()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def close_once(code: Path, what: str, scratch: Path) -> float:
    home = scratch / f"home-{what}-{len(list(scratch.iterdir()))}"
    env = {**os.environ, "DIGITPAD_HOME": str(home), "DIGITPAD_DATA_DIR": str(SHARED_MNIST),
           "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "PYTHONPATH": os.pathsep.join([str(code), str(REPO_ROOT / "tests")])}
    completed = subprocess.run([sys.executable, "-c", CHILD, what, str(REPO_ROOT / "tests")], env=env,
                               capture_output=True, text=True, cwd=scratch)
    if completed.returncode != 0:
        raise SystemExit(f"{code} {what} failed:\n{completed.stdout}\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])["seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another copy of the code to run alternately")
    args = parser.parse_args()
    codes = {"this checkout": REPO_ROOT}
    if args.baseline:
        codes["baseline"] = args.baseline.resolve()
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="digitpad-close-") as folder:
        scratch = Path(folder)
        for run in range(args.runs):
            for what in ("train", "teach"):
                for name, code in codes.items():
                    seconds = close_once(code, what, scratch)
                    times.setdefault((name, what), []).append(seconds)
                    print(f"  run {run + 1}: {name}, {what}: {seconds:.2f} s", flush=True)
    print("\n| close() during | " + " | ".join(codes) + " |")
    print("| --- |" + " --- |" * len(codes))
    for what in ("train", "teach"):
        cells = [f"{statistics.median(times[name, what]):.2f} s" for name in codes]
        print(f"| {what} (median of {args.runs}) | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
