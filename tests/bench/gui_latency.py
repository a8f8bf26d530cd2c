"""GUI responsiveness: event-loop lateness and stroke-to-bars latency, idle and while training.

Runs the real MainWindow offscreen in an isolated home (temporary DIGITPAD_HOME,
QSettings and config folders), waits for the model, then measures two phases:

- idle: nothing but the user drawing;
- training: the default CNN trains on full MNIST, started with the real Train
  button, for ``--train-seconds`` (20 s); then Stop, and the window closes.

In each phase a QTimer probe fires every 5 ms and records how late it runs,
while MNIST test digits' pen strokes (tests/stroke_replay.py) are replayed as
real mouse events, one point every 8 ms, like a mouse (``--mouse-step`` and
``--moves-per-tick`` make it a mouse that reports more points). For each stroke it
records the time from the button release to the window's ``prediction_updated``
signal and to the end of the next paint of the probability bars. Before the phases,
it times one CNN prediction back to back and right after a short sleep: on a VM, how
cold the caches get while a core sleeps depends on the host, and it sets most of the
idle figure.

    QT_QPA_PLATFORM=offscreen python tests/bench/gui_latency.py [--train-seconds 20] [--idle-seconds 10]

The model in use is the shipped one, or ``--checkpoint PATH``, or (when neither
exists) an untrained default CNN: latency does not depend on the weights.
MNIST comes from ``--data-dir`` (default ../shared/mnist); its tensor cache is
built in the temporary home before the measurement (``--cold-cache`` skips that,
so the training phase starts by decoding the .gz files).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_process import SHARED_MNIST  # noqa: E402
from stroke_replay import at_mouse_rate, load_stroke_set, send_mouse_event, strokes_of, to_canvas_points  # noqa: E402

PROBE_MS = 5
POINT_MS = 8  # one mouse move every 8 ms (125 Hz), a typical mouse
PAUSE_AFTER_DIGIT_MS = 150
TARGETS = {
    "lateness_p99_training_ms": 30.0,
    "lateness_max_training_ms": 100.0,
    "stroke_p95_training_ms": 15.0,
    "stroke_p95_idle_ms": 5.0,
}


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def isolate(workdir: Path, data_dir: Path) -> None:
    """Point everything the app reads or writes into ``workdir`` (before Qt or digitpad load)."""
    os.environ["DIGITPAD_HOME"] = str(workdir / "home")
    os.environ["DIGITPAD_DATA_DIR"] = str(data_dir)
    os.environ["XDG_CONFIG_HOME"] = str(workdir / "config")
    os.environ.pop("DIGITPAD_ALLOW_SMALL_MNIST", None)


def run_helper(code: str) -> None:
    """Prepare something in a child process, so this one starts as the app does (torch not loaded)."""
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


def prepare_model(checkpoint: Path | None) -> str:
    if checkpoint is not None:
        run_helper(f"from digitpad import paths; paths.set_current_model({str(checkpoint)!r})")
        return str(checkpoint)
    shipped = subprocess.run(
        [sys.executable, "-c", "from digitpad import paths; print(paths.shipped_model_path())"],
        check=True, capture_output=True, text=True, env=dict(os.environ),
    ).stdout.strip()
    if Path(shipped).is_file():
        return f"shipped ({shipped})"
    run_helper(
        "import torch\n"
        "from digitpad import checkpoint, paths\n"
        "from digitpad.config import ModelConfig\n"
        "from digitpad.models import build_model\n"
        "torch.manual_seed(0)\n"
        "config = ModelConfig()\n"
        "path = paths.models_dir() / 'untrained-cnn.pt'\n"
        "path.parent.mkdir(parents=True, exist_ok=True)\n"
        "checkpoint.save(checkpoint.Checkpoint(model_config=config, state_dict=build_model(config).state_dict(),\n"
        "    metrics={}, name='untrained-cnn'), path)\n"
        "paths.set_current_model(path)\n"
    )
    return "untrained default CNN (no shipped model)"


class Recorder:
    """Timestamps (time.perf_counter, s) of probe ticks, releases, signals, bar paints and GC passes."""

    def __init__(self) -> None:
        self.gc_passes: list[tuple[float, float, int]] = []  # (end, duration s, generation)
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)
        self.probe: list[tuple[float, float]] = []  # (when, lateness s)
        self.strokes: list[dict] = []  # {"release", "signal", "paint", "cpu"}
        self._armed: dict | None = None

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            now = time.perf_counter()
            self.gc_passes.append((now, now - self._gc_started, info["generation"]))

    def release_sent(self, when: float) -> None:
        self._armed = {"release": when, "signal": None, "paint": None, "cpu": time.thread_time()}
        self.strokes.append(self._armed)

    def prediction_updated(self) -> None:
        if self._armed is not None and self._armed["signal"] is None:
            self._armed["signal"] = time.perf_counter()
            # The GUI thread's own CPU time from release to signal: the work, without the waiting.
            self._armed["cpu"] = time.thread_time() - self._armed["cpu"]

    def bars_painted(self) -> None:
        if self._armed is not None and self._armed["signal"] is not None and self._armed["paint"] is None:
            self._armed["paint"] = time.perf_counter()
            self._armed = None


def hook_bar_paints(recorder: Recorder) -> None:
    """Time the end of every paint of the probability bars (class-level: only ProbabilityBars)."""
    from digitpad.gui import plots

    original = plots.ProbabilityBars.paintEvent

    def paintEvent(self, event):  # noqa: N802 (Qt's name)
        result = original(self, event)
        recorder.bars_painted()
        return result

    plots.ProbabilityBars.paintEvent = paintEvent


class Probe:
    """A 5 ms single-shot timer, restarted on each tick: lateness = tick - (start + 5 ms)."""

    def __init__(self, recorder: Recorder) -> None:
        from PySide6.QtCore import Qt, QTimer

        self._recorder = recorder
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PROBE_MS)
        self._timer.timeout.connect(self._tick)
        self._due = 0.0

    def start(self) -> None:
        self._due = time.perf_counter() + PROBE_MS / 1000
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self._recorder.probe.append((now, max(0.0, now - self._due)))
        self._due = now + PROBE_MS / 1000
        self._timer.start()


class StrokePlayer:
    """Replays digits as paced mouse events: press, one move per tick (or ``moves_per_tick``), release; then clears."""

    def __init__(
        self, canvas, sequences, recorder: Recorder, seed: int = 0, mouse_step: float | None = None, moves_per_tick: int = 1
    ) -> None:
        from PySide6.QtCore import Qt, QTimer

        self._canvas = canvas
        self._mouse_step = mouse_step
        self._moves_per_tick = moves_per_tick
        self._sequences = sequences
        self._recorder = recorder
        self._rng = np.random.default_rng(seed)
        self._actions: list[tuple] = []
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(POINT_MS)
        self._timer.timeout.connect(self._step)
        self.digits = 0

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._canvas.is_drawing() and self._actions:
            # Finish the stroke in progress, so the canvas is left tidy.
            while self._actions and self._actions[0][0] != "release":
                self._actions.pop(0)
            if self._actions:
                self._send_release(self._actions[0][1])
        self._actions = []

    def _queue_digit(self) -> None:
        sequence = self._sequences[self._rng.integers(len(self._sequences))]
        width, height = self._canvas.width(), self._canvas.height()
        for stroke in to_canvas_points(strokes_of(sequence), width, height, self._rng):
            if self._mouse_step is not None:
                stroke = at_mouse_rate(stroke, self._mouse_step)
            self._actions.append(("press", stroke[0]))
            self._actions.extend(("move", point) for point in stroke[1:])
            self._actions.append(("release", stroke[-1]))
        self._actions.append(("clear", None))
        self._actions.extend([("pause", None)] * (PAUSE_AFTER_DIGIT_MS // POINT_MS))
        self.digits += 1

    def _send(self, kind, point, button, buttons) -> None:
        send_mouse_event(self._canvas, kind, point, button, buttons)

    def _send_release(self, point) -> None:
        from PySide6.QtCore import QEvent, Qt

        self._recorder.release_sent(time.perf_counter())
        self._send(QEvent.Type.MouseButtonRelease, point, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)

    def _step(self) -> None:
        from PySide6.QtCore import QEvent, Qt

        if not self._actions:
            self._queue_digit()
        kind, point = self._actions.pop(0)
        left = Qt.MouseButton.LeftButton
        if kind == "press":
            self._send(QEvent.Type.MouseButtonPress, point, left, left)
        elif kind == "move":
            self._send(QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left)
            for _ in range(self._moves_per_tick - 1):
                if not self._actions or self._actions[0][0] != "move":
                    break
                self._send(QEvent.Type.MouseMove, self._actions.pop(0)[1], Qt.MouseButton.NoButton, left)
        elif kind == "release":
            self._send_release(point)
        elif kind == "clear":
            self._canvas.clear()


def host_cache_check(classifier) -> dict[str, float]:
    """One CNN prediction's time back to back and right after an 8 ms sleep (ms, medians).

    On a VM a core's caches go cold while it sleeps, by an amount that depends on the
    host's other tenants, and that cost is most of the idle stroke-to-bars time. The
    two figures tell a quiet host from a busy one, so runs on different days can be
    read side by side.
    """
    import torch

    model_input = torch.zeros(1, 1, 28, 28)

    def median_ms(pause_s: float) -> float:
        times = []
        for _ in range(45):
            if pause_s:
                time.sleep(pause_s)
            started = time.perf_counter()
            classifier.probabilities(model_input)
            times.append(time.perf_counter() - started)
        return 1000 * float(np.median(times[5:]))

    return {"back_to_back_ms": median_ms(0.0), "after_sleep_ms": median_ms(0.008)}


def wait_until(condition, timeout_s: float) -> bool:
    """Run the event loop until ``condition()`` holds (checked every 10 ms); False on timeout.

    A real event loop, not processEvents() between sleeps: the probe and the strokes
    measured meanwhile (the "stopping" phase) would otherwise wait out the sleeps.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.perf_counter() + timeout_s
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(10)
    check.timeout.connect(lambda: (condition() or time.perf_counter() > deadline) and loop.quit())
    if not condition():
        check.start()
        loop.exec()
        check.stop()
    return condition()


def run_for(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def summarize(recorder: Recorder, start: float, end: float) -> dict:
    lateness = [late * 1000 for when, late in recorder.probe if start <= when < end]
    strokes = [s for s in recorder.strokes if start <= s["release"] < end and s["signal"] is not None]
    to_signal = [(s["signal"] - s["release"]) * 1000 for s in strokes]
    to_paint = [(s["paint"] - s["release"]) * 1000 for s in strokes if s["paint"] is not None]
    cpu = [s["cpu"] * 1000 for s in strokes]
    gc_ms = [duration * 1000 for when, duration, _gen in recorder.gc_passes if start <= when < end]
    return {
        "seconds": end - start,
        "probes": len(lateness),
        "lateness_p50": percentile(lateness, 50),
        "lateness_p95": percentile(lateness, 95),
        "lateness_p99": percentile(lateness, 99),
        "lateness_max": max(lateness) if lateness else float("nan"),
        "strokes": len(to_signal),
        "signal_p50": percentile(to_signal, 50),
        "signal_p95": percentile(to_signal, 95),
        "signal_max": max(to_signal) if to_signal else float("nan"),
        "paint_p50": percentile(to_paint, 50),
        "paint_p95": percentile(to_paint, 95),
        "paint_max": max(to_paint) if to_paint else float("nan"),
        "cpu_p50": percentile(cpu, 50),
        "cpu_p95": percentile(cpu, 95),
        "gc_passes": len(gc_ms),
        "gc_max": max(gc_ms) if gc_ms else 0.0,
    }


def print_table(rows: dict[str, dict]) -> None:
    header = (
        f"{'phase':<16}{'s':>5}{'probes':>8}{'late p50':>9}{'p95':>7}{'p99':>7}{'max':>8}"
        f"{'strokes':>9}{'→signal p50':>13}{'p95':>7}{'max':>7}{'→paint p50':>12}{'p95':>7}{'max':>7}"
        f"{'cpu p50':>9}{'p95':>6}{'gc n':>6}{'max':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(
            f"{name:<16}{r['seconds']:>5.1f}{r['probes']:>8}{r['lateness_p50']:>9.1f}{r['lateness_p95']:>7.1f}"
            f"{r['lateness_p99']:>7.1f}{r['lateness_max']:>8.1f}{r['strokes']:>9}{r['signal_p50']:>13.2f}"
            f"{r['signal_p95']:>7.2f}{r['signal_max']:>7.1f}{r['paint_p50']:>12.2f}{r['paint_p95']:>7.2f}"
            f"{r['paint_max']:>7.1f}{r['cpu_p50']:>9.2f}{r['cpu_p95']:>6.2f}{r['gc_passes']:>6}{r['gc_max']:>6.1f}"
        )
    print("(all times in ms; lateness = how late a 5 ms timer fired; →signal / →paint = from a stroke's "
          "release to prediction_updated / to the end of the bars' next paint; cpu = the GUI thread's CPU time "
          "from release to signal; gc = the garbage collector's passes, any thread)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-seconds", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST)
    parser.add_argument("--checkpoint", type=Path, help="model to use (default: shipped, else an untrained CNN)")
    parser.add_argument("--cold-cache", action="store_true", help="do not build the MNIST tensor cache first")
    parser.add_argument("--no-strokes", action="store_true", help="only the lateness probe, no drawing")
    parser.add_argument("--mouse-step", type=float, metavar="PX",
                        help="a mouse move every PX pixels along each stroke (default: the skeleton's points, 13-22 px apart)")
    parser.add_argument("--moves-per-tick", type=int, default=1, metavar="N",
                        help="mouse moves sent together every 8 ms, as a mouse that reports N times as often")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--trainer-nice", type=int,
                        help="override digitpad.gui.worker.TRAINER_NICENESS (to compare priorities)")
    parser.add_argument("--baseline", type=Path,
                        help="another copy of the code: run it and this checkout alternately, each in its own process")
    parser.add_argument("--rounds", type=int, default=1, help="with --baseline: how many alternating pairs")
    args = parser.parse_args()
    if args.train_seconds > 20.0:
        parser.error("--train-seconds is at most 20 (training on full MNIST is kept short here)")
    if args.baseline:
        return compare(args)

    workdir = Path(tempfile.mkdtemp(prefix="digitpad-gui-latency-"))
    try:
        return measure(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


# Each figure's place in a run's --json output, and its label.
KEY_FIGURES = [
    (("rows", "idle", "paint_p95"), "stroke→bars p95, idle (ms)"),
    (("rows", "training (all)", "paint_p95"), "stroke→bars p95, training (ms)"),
    (("rows", "training (all)", "cpu_p50"), "release→signal GUI CPU p50, training (ms)"),
    (("rows", "training (all)", "lateness_p99"), "lateness p99, training (ms)"),
    (("rows", "training (all)", "lateness_max"), "lateness max, training (ms)"),
    (("batches_per_s",), "training batches/s in the window"),
    (("host", "after_sleep_ms"), "host: CNN right after an 8 ms sleep (ms)"),
]


def _without_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """``argv`` less the options ``names`` and their values (``--name value`` or ``--name=value``)."""
    kept, skip_value = [], False
    for word in argv:
        if skip_value:
            skip_value = False
        elif word in names:
            skip_value = True
        elif not word.startswith(tuple(f"{name}=" for name in names)):
            kept.append(word)
    return kept


def compare(args) -> int:
    """Run the baseline code and this checkout alternately, each in a fresh process, and compare."""
    versions = {f"baseline {args.baseline}": args.baseline.resolve(), "this checkout": None}
    passed = _without_options(sys.argv[1:], ("--baseline", "--rounds"))
    results: dict[str, list[dict]] = {name: [] for name in versions}
    with tempfile.TemporaryDirectory(prefix="digitpad-gui-latency-cmp-") as folder:
        for round_ in range(args.rounds):
            for name, code in versions.items():
                out = Path(folder) / f"{round_}-{len(results[name])}-{code is None}.json"
                env = dict(os.environ, **({"PYTHONPATH": str(code)} if code else {}))
                print(f"--- round {round_ + 1}: {name}", flush=True)
                subprocess.run([sys.executable, __file__, *passed, "--json", str(out)], env=env, check=True)
                results[name].append(json.loads(out.read_text()))
    print("\n=== side by side (median over rounds; ratio = baseline / this checkout) ===")
    print(f"{'':<44}" + "".join(f"{name[:28]:>30}" for name in versions) + f"{'ratio':>8}")
    for place, label in KEY_FIGURES:
        values = []
        for name in versions:
            figures = [functools.reduce(dict.__getitem__, place, run) for run in results[name]]
            values.append(float(np.median(figures)))
        ratio = values[0] / values[1] if values[1] else float("nan")  # no batches: a window shorter than loading
        print(f"{label:<44}" + "".join(f"{v:>30.2f}" for v in values) + f"{ratio:>8.2f}")
    return 0


def measure(args, workdir: Path) -> int:
    isolate(workdir, args.data_dir.resolve())
    model_note = prepare_model(args.checkpoint.resolve() if args.checkpoint else None)
    if not args.cold_cache:
        run_helper(f"from digitpad.data import load_mnist; load_mnist({str(args.data_dir.resolve())!r}, download=False)")
    sequences, _labels = load_stroke_set()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QComboBox, QPushButton, QRadioButton, QSpinBox

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(workdir / "settings"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)

    from digitpad.gui import app as gui_app
    from qt_threads import running_threads, track

    track()

    qt_app = gui_app.create_application([])
    if args.trainer_nice is not None:
        from digitpad.gui import worker as worker_module

        worker_module.TRAINER_NICENESS = args.trainer_nice
    recorder = Recorder()
    hook_bar_paints(recorder)
    from digitpad.gui.main_window import MainWindow

    window = MainWindow()
    ready = {"model": False, "failed": None, "ended": False, "data_loaded": None, "first_batch": None, "steps": 0}
    window.model_changed.connect(lambda *_: ready.__setitem__("model", True))
    window.model_failed.connect(lambda message: ready.__setitem__("failed", message))
    window.prediction_updated.connect(recorder.prediction_updated)
    window.training_ended.connect(lambda: ready.__setitem__("ended", True))
    window.show()
    window.raise_()
    if not wait_until(lambda: ready["model"] or ready["failed"], 120):
        print("the model did not load within 120 s", file=sys.stderr)
        return 1
    if ready["failed"]:
        print(f"no model: {ready['failed']}", file=sys.stderr)
        return 1
    host = host_cache_check(window.model().classifier)
    run_for(1.0)  # let start-up work settle

    probe = Probe(recorder)
    player = StrokePlayer(window.canvas, sequences, recorder, mouse_step=args.mouse_step, moves_per_tick=args.moves_per_tick)
    rows: dict[str, dict] = {}

    # ---- idle
    probe.start()
    if not args.no_strokes:
        player.start()
    idle_start = time.perf_counter()
    run_for(args.idle_seconds)
    idle_end = time.perf_counter()
    rows["idle"] = summarize(recorder, idle_start, idle_end)

    # ---- training, started with the real button
    def on_started():
        worker = window.training.worker() if hasattr(window, "training") else window._worker  # older code: --baseline
        if worker is None:
            return
        worker.data_loaded.connect(lambda *_: ready.__setitem__("data_loaded", time.perf_counter()))

        def on_batch(progress, _points):
            if ready["first_batch"] is None:
                ready["first_batch"] = time.perf_counter()
                ready["first_step"] = progress.global_step
            ready["steps"] = progress.global_step

        worker.batch_progressed.connect(on_batch)

    window.training_started.connect(on_started)
    # Found by name, so that a --baseline whose window lays out its widgets differently runs too.
    arch_combo = window.findChild(QComboBox, "arch_combo")
    arch_combo.setCurrentIndex(arch_combo.findData("cnn"))
    window.findChild(QRadioButton, "fresh_radio").setChecked(True)
    batch_size = window.findChild(QSpinBox, "batch_size_spin").value()
    train_start = time.perf_counter()
    window.findChild(QPushButton, "train_button").click()
    if not window.is_training():
        print("the Train button did not start training", file=sys.stderr)
        return 1
    run_for(args.train_seconds)
    train_end = time.perf_counter()
    steps_in_window = ready["steps"]
    window.findChild(QPushButton, "stop_button").click()
    stop_clicked = time.perf_counter()
    wait_until(lambda: ready["ended"], 300)
    stop_to_end = time.perf_counter() - stop_clicked
    player.stop()
    probe.stop()
    stopped_end = time.perf_counter()

    rows["training (all)"] = summarize(recorder, train_start, train_end)
    loaded = ready["data_loaded"] or train_end
    rows["· loading data"] = summarize(recorder, train_start, min(loaded, train_end))
    first = ready["first_batch"] or train_end
    rows["· first steps"] = summarize(recorder, min(loaded, train_end), first)
    rows["· training steps"] = summarize(recorder, first, train_end)
    rows["stopping"] = summarize(recorder, train_end, stopped_end)

    window.close()
    qt_app.processEvents()
    leftover = [thread.objectName() for thread in running_threads()]
    window.deleteLater()
    qt_app.processEvents()

    training_seconds = train_end - first if ready["first_batch"] else 0.0
    rate = (steps_in_window - ready.get("first_step", 0)) / training_seconds if training_seconds else 0.0
    print(f"model: {model_note}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print(f"host: one CNN prediction takes {host['back_to_back_ms']:.2f} ms back to back and "
          f"{host['after_sleep_ms']:.2f} ms right after an 8 ms sleep (caches gone cold)")
    print(f"training: data loaded {(loaded - train_start):.2f} s after the click; "
          f"{steps_in_window} batches of {batch_size} in the window "
          f"({rate:.1f} batches/s once started); "
          f"Stop to training_ended {stop_to_end:.2f} s; {player.digits} digits drawn")
    if args.mouse_step is not None or args.moves_per_tick != 1:
        spacing = "the skeleton's points" if args.mouse_step is None else f"a point every {args.mouse_step:g} px"
        print(f"mouse: {spacing}, {args.moves_per_tick} move(s) every {POINT_MS} ms")
    print_table(rows)
    training = rows["training (all)"]
    verdicts = {
        "lateness p99 while training < 30 ms": training["lateness_p99"] < TARGETS["lateness_p99_training_ms"],
        "lateness max while training < 100 ms": training["lateness_max"] < TARGETS["lateness_max_training_ms"],
        "stroke→bars p95 while training < 15 ms": training["paint_p95"] < TARGETS["stroke_p95_training_ms"],
        "stroke→bars p95 idle < 5 ms": rows["idle"]["paint_p95"] < TARGETS["stroke_p95_idle_ms"],
    }
    for name, met in verdicts.items():
        print(f"  {'met    ' if met else 'NOT MET'}  {name}")
    if leftover:
        print(f"threads still running after close: {leftover}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({
            "rows": rows, "steps": steps_in_window, "training_seconds": training_seconds,
            "batches_per_s": rate,
            "stop_to_end": stop_to_end, "verdicts": verdicts, "model": model_note, "host": host,
            "strokes": recorder.strokes,
            "phases": {"idle": [idle_start, idle_end], "training": [train_start, train_end]},
        }, indent=2))
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())
