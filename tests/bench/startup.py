"""Start-up time: from process start to the window shown, and to the first possible prediction.

Each run starts ``python -m digitpad gui`` offscreen in an isolated home with
--trace-startup FILE (digitpad/gui/startup_trace.py): the app records
when its steps happen, runs one prediction on the GUI thread once its model
is ready, writes the times and quits. Times are measured from just before
the process was started (time.monotonic is shared across processes). Beside
each run, in the same loop, ``python -c "import torch"`` is timed for scale.

    QT_QPA_PLATFORM=offscreen python tests/bench/startup.py [--runs 7]

``--platform xcb`` runs it on an X server instead (e.g. under ``xvfb-run -a``),
as on a Linux desktop, where the start-up's window check loads Qt's xcb plugin
and connects to the X server.

The model is the shipped one, or ``--checkpoint PATH``, or (when neither
exists) an untrained default CNN. ``--baseline DIR`` also runs another copy
of the code (which must have the trace hook), alternating with this one, for
before/after comparisons.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent.parent
sys.path.insert(0, str(BENCH_DIR))

from bench_process import SHARED_MNIST, run_timed  # noqa: E402
from gui_latency import isolate, prepare_model  # noqa: E402

STEPS = [
    ("app_main", "app.main entered (Python, PySide6 and the CLI imported)"),
    ("window_checked", "window check done (display_check; this checkout only)"),
    ("window_shown", "window.show() returned"),
    ("window_painted", "the canvas first painted"),
    ("torch_imported", "torch imported (loader thread)"),
    ("model_ready", "model in use: first prediction possible"),
    ("first_prediction", "a first prediction done on the GUI thread"),
    ("exited", "process exited"),
]
FIRST_PREDICTION_TARGET_S = 3.0


def run_once(env: dict, trace: Path) -> dict[str, float]:
    trace.unlink(missing_ok=True)
    started = time.monotonic()
    # Run outside the checkout: `python -m` puts the working directory before PYTHONPATH.
    result = subprocess.run(
        # Code older than --trace-startup read the environment variable instead (for --baseline).
        [sys.executable, "-m", "digitpad", "gui", "--trace-startup", str(trace)],
        env={**env, "DIGITPAD_STARTUP_TRACE": str(trace)},
        capture_output=True, text=True, timeout=180, cwd=trace.parent,
    )
    exited = time.monotonic()
    if result.returncode != 0 or not trace.is_file():
        raise RuntimeError(f"the app failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    data = json.loads(trace.read_text())
    if data.get("error"):
        raise RuntimeError(f"the app reported: {data['error']}")
    times = {name: value - started for name, value in data["marks"].items()}
    times["exited"] = exited - started
    times["torch_import_started_at_paint"] = bool(data.get("torch_import_started_at_paint"))
    return times


def time_torch_import(env: dict) -> float:
    return run_timed([sys.executable, "-c", "import torch"], env)[0]


def print_table(title: str, runs: list[dict], torch_alone: list[float]) -> None:
    print(title)
    print(f"  {'step (s from process start)':<60}{'median':>8}{'min':>7}{'max':>7}   runs")
    for name, label in STEPS:
        values = [run[name] for run in runs if name in run]
        if values:
            listed = " ".join(f"{v:.2f}" for v in values)
            print(f"  {label:<60}{statistics.median(values):>8.2f}{min(values):>7.2f}{max(values):>7.2f}   {listed}")
    scale_label = 'for scale: python -c "import torch" alone'
    print(f"  {scale_label:<60}{statistics.median(torch_alone):>8.2f}{min(torch_alone):>7.2f}"
          f"{max(torch_alone):>7.2f}   " + " ".join(f"{v:.2f}" for v in torch_alone))
    before_torch = all(r["window_painted"] < r["torch_imported"] for r in runs)
    ready = statistics.median(r["model_ready"] for r in runs)
    print(f"    {'met    ' if before_torch else 'NOT MET'}  window painted before torch finished importing, in every run")
    print(f"    {'met    ' if ready < FIRST_PREDICTION_TARGET_S else 'NOT MET'}  first prediction possible within "
          f"{FIRST_PREDICTION_TARGET_S:.0f} s (median {ready:.2f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--baseline", type=Path,
                        help="another copy of the code (with the trace hook) to run alternately, for before/after")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--platform", default="offscreen", help="Qt's platform plugin (default: offscreen)")
    args = parser.parse_args()

    versions: dict[str, Path | None] = {"this checkout": None}
    if args.baseline:
        versions = {f"baseline {args.baseline}": args.baseline.resolve(), **versions}
    results: dict[str, list[dict]] = {name: [] for name in versions}
    workdir = Path(tempfile.mkdtemp(prefix="digitpad-startup-"))
    try:
        isolate(workdir, SHARED_MNIST)
        env = dict(os.environ, QT_QPA_PLATFORM=args.platform)
        model_note = prepare_model(args.checkpoint.resolve() if args.checkpoint else None)

        def env_for(code: Path | None) -> dict:
            return {**env, "PYTHONPATH": str(code or REPO_ROOT)}

        for code in versions.values():
            run_once(env_for(code), workdir / "trace.json")  # warm caches and bytecode; not counted
        torch_alone = []
        for _ in range(args.runs):
            for name, code in versions.items():
                results[name].append(run_once(env_for(code), workdir / "trace.json"))
            torch_alone.append(time_torch_import(env))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"model: {model_note}; platform {args.platform}; {args.runs} runs of each, alternating; "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, runs in results.items():
        print_table(name, runs, torch_alone)
    if args.baseline:
        (base_name, base), (_, new) = results.items()
        for step in ("window_painted", "model_ready", "first_prediction"):
            ratio = statistics.median(r[step] for r in base) / statistics.median(r[step] for r in new)
            print(f"  {step}: baseline / this checkout = {ratio:.2f}x (medians)")
    if args.json:
        args.json.write_text(json.dumps({"runs": results, "torch_alone": torch_alone}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
