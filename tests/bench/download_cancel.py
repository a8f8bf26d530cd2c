"""How fast a stop ends an MNIST download, in the core and in the app, against a local fake mirror.

    QT_QPA_PLATFORM=offscreen python tests/bench/download_cancel.py [--trials 10]

Three kinds of bad connection (tests/fake_mirror.py): a mirror that stalls after
the first 16 kB ("stalled"), one that takes the connection and never answers
("silent"), and a slow one, 16 kB every 0.1 s ("slow"). The socket timeout is
30 s, so none of them ends on its own while this runs.

- core: ``mnist_download.download_mnist`` with a stop requested 0.3 s after the
  first progress report (after the start, for "silent"); the time from the stop
  to DownloadCancelled.
- app: the real window, offscreen, in a temporary home: Train, then Download in
  the "MNIST is needed" question; the progress bar's texts are sampled until it
  shows download progress (three different figures for "slow"), and 0.3-0.4 s
  more; then the Stop button is clicked,
  and the time runs to the window's ``training_ended``. "close" closes the window
  instead (stalled mirror) and times ``close()``.

Every stop must end the download within 1 s, and leave no partial file.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_S = 1.0
KINDS = {"stalled": dict(chunk_delay=60.0), "silent": dict(answer_delay=60.0), "slow": dict(chunk_delay=0.1)}


def start_mirror(workdir: Path, kind: str):
    from digitpad import mnist_download
    from fake_mirror import FakeMirror, mnist_gz_files

    mirror = FakeMirror(mnist_gz_files(workdir / "mirror-source"))
    for name, value in KINDS[kind].items():
        setattr(mirror, name, value)
    sources = mirror.sources()
    mnist_download._download_sources = lambda: ([mirror.url], sources)
    return mirror


def leftovers(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.startswith(".")] if root.exists() else []


def core_trial(workdir: Path, kind: str, trial: int) -> float:
    from digitpad import data, mnist_download

    mirror = start_mirror(workdir, kind)
    root = workdir / f"core-{kind}-{trial}"
    stop = threading.Event()
    stopped_at: list[float] = []
    first_progress = threading.Event()

    def stop_later():
        if kind != "silent":
            first_progress.wait(10)
        time.sleep(0.3 + random.uniform(0, 0.1))  # anywhere in the download's 0.1 s poll
        stopped_at.append(time.perf_counter())
        stop.set()

    threading.Thread(target=stop_later, daemon=True).start()
    try:
        mnist_download.download_mnist(root, progress=lambda done, total: first_progress.set(), should_stop=stop.is_set)
        raise RuntimeError("the download finished before the stop")
    except data.DownloadCancelled:
        latency = time.perf_counter() - stopped_at[0]
    finally:
        mirror.close()
    if leftovers(root) or data.locate_mnist(root) is not None:
        raise RuntimeError(f"a stopped download left files in {root}")
    return latency


def wait_until(condition, timeout_s: float) -> bool:
    """Run the event loop until ``condition()`` holds (checked every 5 ms); False on timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.perf_counter() + timeout_s
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(5)
    check.timeout.connect(lambda: (condition() or time.perf_counter() > deadline) and loop.quit())
    check.start()
    if not condition():
        loop.exec()
    check.stop()
    return condition()


class App:
    """The real window in an isolated home, and what it showed."""

    def __init__(self, workdir: Path):
        from PySide6.QtCore import QSettings

        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(workdir / "settings"))
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        from digitpad.gui import app as gui_app

        self.workdir = workdir
        self.qt_app = gui_app.create_application([])

    def new_window(self):
        from PySide6.QtWidgets import QProgressBar

        from digitpad.gui.main_window import MainWindow

        window = MainWindow()
        loaded = []
        window.model_changed.connect(lambda *_: loaded.append(True))
        window.show()
        if not wait_until(lambda: loaded, 120):
            raise RuntimeError("the model did not load within 120 s")
        window.ended_at = []
        window.training_ended.connect(lambda: window.ended_at.append(time.perf_counter()))
        window.bar = window.findChild(QProgressBar, "train_progress")
        return window

    def start_download(self, window) -> None:
        from PySide6.QtWidgets import QMessageBox, QPushButton

        window.findChild(QPushButton, "train_button").click()
        if not wait_until(lambda: window.findChildren(QMessageBox, "data_dialog"), 10):
            raise RuntimeError("the 'MNIST is needed' question did not show")
        window.findChildren(QMessageBox, "data_dialog")[0].findChild(QPushButton, "download_button").click()

    def shown_progress(self, window, kind: str) -> list[str]:
        """The progress bar's texts until the download shows progress: its first figures (stalled),
        three different ones (slow), or 0.3 s of waiting for a first answer (silent)."""
        texts: list[str] = []
        wanted = {"stalled": 1, "slow": 3, "silent": 0}[kind]

        def shown() -> bool:
            text = window.bar.text()
            if not texts or texts[-1] != text:
                texts.append(text)
            return sum(text.startswith("Downloading MNIST:") for text in texts) >= wanted

        if not wait_until(shown, 20):
            raise RuntimeError(f"no download progress shown: {texts}")
        wait_until(lambda: shown() and False, 0.3 + random.uniform(0, 0.1))  # anywhere in the 0.1 s poll
        return texts

    def stop_trial(self, window, kind: str) -> tuple[float, list[str]]:
        from PySide6.QtWidgets import QPushButton

        mirror = start_mirror(Path(tempfile.mkdtemp(dir=self.workdir)), kind)
        try:
            self.start_download(window)
            texts = self.shown_progress(window, kind)
            window.ended_at.clear()
            clicked = time.perf_counter()
            window.findChild(QPushButton, "stop_button").click()
            if not wait_until(lambda: window.ended_at, 10):
                raise RuntimeError("Stop did not end the download within 10 s")
            latency = window.ended_at[0] - clicked
            wait_until(lambda: False, 0.05)
            if window.bar.text() != "Cancelled":
                raise RuntimeError(f"the download ended otherwise: {window.bar.text()!r}, "
                                   f"{window.statusBar().currentMessage()!r}")
            return latency, texts
        finally:
            mirror.close()

    def close_trial(self) -> float:
        mirror = start_mirror(Path(tempfile.mkdtemp(dir=self.workdir)), "stalled")
        try:
            window = self.new_window()
            self.start_download(window)
            self.shown_progress(window, "stalled")
            started = time.perf_counter()
            window.close()
            closed = time.perf_counter() - started
            window.deleteLater()
            wait_until(lambda: False, 0.05)
            return closed
        finally:
            mirror.close()


def row(name: str, latencies: list[float]) -> str:
    worst = max(latencies)
    verdict = "ok" if worst < TARGET_S else "TOO SLOW"
    return (f"| {name} | {len(latencies)} | {statistics.median(latencies) * 1000:.0f} ms | {worst * 1000:.0f} ms "
            f"| {verdict} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="digitpad-cancel-") as scratch:
        workdir = Path(scratch)
        os.environ["DIGITPAD_HOME"] = str(workdir / "home")
        os.environ["XDG_CONFIG_HOME"] = str(workdir / "config")
        os.environ.pop("DIGITPAD_DATA_DIR", None)

        rows = []
        for kind in KINDS:
            rows.append(row(f"core, {kind} mirror: stop → DownloadCancelled",
                            [core_trial(workdir, kind, trial) for trial in range(args.trials)]))

        app = App(workdir)
        window = app.new_window()
        examples = {}
        for kind in KINDS:
            latencies = []
            for _ in range(args.trials):
                latency, texts = app.stop_trial(window, kind)
                latencies.append(latency)
                examples[kind] = texts
            rows.append(row(f"app, {kind} mirror: Stop clicked → training_ended", latencies))
        window.close()
        window.deleteLater()
        wait_until(lambda: False, 0.05)
        rows.append(row("app, stalled mirror: window.close() during the download",
                        [app.close_trial() for _ in range(args.trials)]))
        raw = workdir / "home" / "mnist" / "MNIST" / "raw"
        if leftovers(workdir / "home" / "mnist"):
            raise RuntimeError(f"partial files left in {raw}")

    print(f"target: every stop within {TARGET_S:.0f} s\n")
    print("| what | trials | median | worst | |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("\nwhat the progress bar showed before Stop (last trial of each):")
    for kind, texts in examples.items():
        print(f"  {kind}: {' → '.join(texts)}")
    return 0 if all(line.endswith("| ok |") for line in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
