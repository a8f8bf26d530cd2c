"""Fixtures for the app's tests: isolated settings and folders, a tiny MNIST, a test model,
real mouse strokes, and a guard that fails any test leaving a QThread or QTimer running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from digitpad.inference import Prediction
from mnist_fakes import MNIST_NAMES, write_idx
from qt_threads import running_threads, track
from stroke_replay import drag as draw_stroke  # noqa: F401 (the tests' name for a real mouse drag)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
track()  # every QThread the app starts is registered, so no test may leave one running

TRAIN_COUNT = 600
TEST_COUNT = 200
TRAIN_SEED, TEST_SEED = 1, 2  # synthetic_digits' seeds for each split
MODEL_TIMEOUT_MS = 60_000
TRAIN_TIMEOUT_MS = 120_000
SUBPROCESS_TIMEOUT_S = 120


# ---------------------------------------------------------------- isolation


@pytest.fixture(autouse=True)
def isolated_app_state(tmp_path, monkeypatch):
    """Settings, DIGITPAD_HOME and the data folder all live in tmp_path."""
    settings_dir = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    monkeypatch.setenv("DIGITPAD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("DIGITPAD_DATA_DIR", raising=False)
    monkeypatch.setenv("DIGITPAD_ALLOW_SMALL_MNIST", "1")
    yield tmp_path


@pytest.fixture(scope="session")
def torch_threads_at_start() -> int:
    """This thread's torch intra-op thread count when the app's tests began."""
    import torch

    return torch.get_num_threads()


@pytest.fixture(autouse=True)
def torch_threads_restored(torch_threads_at_start):
    """Put back the torch thread count of the thread the tests run on.

    The window pins the thread it predicts on (here pytest's) to one torch
    thread when it takes a model, and some tests set the count themselves;
    without this, every later test would run on one thread, depending on the
    order the tests run in.
    """
    import torch

    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


def _active_timers(widget: QWidget) -> list[str]:
    return [
        f"{type(timer.parent()).__name__}.{timer.objectName() or 'QTimer'}"
        for timer in widget.findChildren(QTimer)
        if timer.isActive()
    ]


def _stop_threads() -> list[str]:
    names = []
    for thread in running_threads():
        names.append(thread.objectName() or "QThread")
        thread.quit()
        thread.wait(30_000)
    return names


@pytest.fixture(autouse=True)
def no_threads_or_timers_left(qapp):
    """Fail a test that leaves one of the app's QThreads, or a widget's QTimer, running.

    pytest-qt has closed the widgets given to qtbot by the time this runs.
    """
    yield
    qapp.processEvents()
    problems = []
    threads = _stop_threads()
    if threads:
        problems.append(f"QThreads still running: {', '.join(threads)}")
    timers = [name for widget in QApplication.topLevelWidgets() for name in _active_timers(widget)]
    if timers:
        problems.append(f"QTimers still active: {', '.join(timers)}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


# -------------------------------------------------------------- tiny MNIST


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Easy, learnable 28x28 'digits': class k is a bar at a place of its own, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        shift = int(rng.integers(-1, 2))
        column = 4 + 2 * int(label) + shift
        image[4:24, column : column + 3] = 255
        if label % 2:
            image[10:13, 4:24] = 200
    return images, labels


def write_mnist(folder: Path, train_count: int = TRAIN_COUNT, test_count: int = TEST_COUNT) -> Path:
    """The four gzip IDX files, plain layout, with the standard names."""
    for split, count, seed in (("train", train_count, TRAIN_SEED), ("test", test_count, TEST_SEED)):
        images, labels = synthetic_digits(count, seed)
        images_name, labels_name = MNIST_NAMES[split]
        write_idx(folder / images_name, images)
        write_idx(folder / labels_name, labels)
    return folder


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    return write_mnist(tmp_path_factory.mktemp("tiny-mnist"))


@pytest.fixture
def use_tiny_mnist(tiny_mnist, monkeypatch) -> Path:
    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tiny_mnist))
    return tiny_mnist


# --------------------------------------------------------------- the model


@pytest.fixture(scope="session")
def test_model_path(tmp_path_factory) -> Path:
    """A small untrained MLP saved as a digitpad checkpoint (seeded, so predictions are stable).

    Small so that the many predictions in these tests stay cheap on a busy 2-core machine.
    """
    import torch

    from digitpad import checkpoint
    from digitpad.config import ModelConfig
    from digitpad.models import build_model

    torch.manual_seed(0)
    config = ModelConfig(arch="mlp", hidden=(64,))
    ckpt = checkpoint.Checkpoint(
        model_config=config,
        state_dict=build_model(config).state_dict(),
        metrics={"test_accuracy": 0.1, "test_loss": 2.3},
        name="test-model",
    )
    path = tmp_path_factory.mktemp("models") / "test-model.pt"
    checkpoint.save(ckpt, path)
    return path


def close_window(window) -> None:
    """Close like a user would, then check the window left nothing running."""
    window.close()
    QApplication.processEvents()
    timers = _active_timers(window)
    threads = [thread.objectName() for thread in running_threads()]
    window.deleteLater()
    QApplication.processEvents()
    assert not threads, f"threads still running after close: {threads}"
    assert not timers, f"timers still active after close: {timers}"


def new_window(qtbot):
    """A MainWindow, shown, once its start-up model is in use."""
    from digitpad.gui.main_window import MainWindow

    main_window = MainWindow()
    with qtbot.waitSignal(main_window.model_changed, timeout=MODEL_TIMEOUT_MS):
        main_window.show()
    return main_window


@pytest.fixture
def window(qtbot, test_model_path):
    """The real MainWindow, shown, with the test model loaded as the user's current model."""
    from digitpad import paths

    paths.set_current_model(test_model_path)
    main_window = new_window(qtbot)
    yield main_window
    close_window(main_window)


# ------------------------------------------------------------ what the window shows


def prediction_text(window) -> str:
    return window.findChild(QLabel, "prediction").text()


def shown_digit(window) -> int | None:
    """The digit the Prediction group names: the big label's ("7", "7?"), or under "not a digit" the
    closest one; None while it shows no answer (the hint, a model still loading)."""
    text = prediction_text(window)
    if text == "not a digit":
        closest = re.search(r"closest: (\d)", window.confidence_label.text())
        return int(closest.group(1)) if closest else None
    return int(text[0]) if text[:1].isdigit() else None


def error_boxes(window) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox, "error_dialog") if box.isVisible()]


def mnist_question(window, qtbot) -> QMessageBox:
    """The 'MNIST is needed' question, once it shows."""
    qtbot.waitUntil(lambda: bool(window.findChildren(QMessageBox, "data_dialog")), timeout=5_000)
    return window.findChildren(QMessageBox, "data_dialog")[0]


# ------------------------------------------------------------ a fresh process


def run_python(code: str, tmp_path, **env_changes: str) -> subprocess.CompletedProcess:
    """``code`` in a new Python process, offscreen, with its own Qt settings folder."""
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONFAULTHANDLER="1",
               **env_changes)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT_S)


# ------------------------------------------------------------ threads


def run_on_thread(qtbot, job, name: str, timeout_ms: int = MODEL_TIMEOUT_MS, while_running=None) -> None:
    """Run ``job.run`` on its own QThread, as the app does, and join the thread.

    ``while_running`` is called once the thread has started (e.g. to request a stop).
    Queued signals from the job are delivered before this returns.
    """
    from digitpad.gui.threads import WorkerThread

    thread = WorkerThread(job, name)
    with qtbot.waitSignal(thread.ended, timeout=timeout_ms):
        thread.start()
        if while_running is not None:
            while_running()
    qtbot.wait(1)


# ------------------------------------------------------------ mouse strokes


def seven(widget: QWidget, steps: int = 12) -> list[tuple[float, float]]:
    """A 7 filling about two thirds of the widget's height."""
    side = min(widget.width(), widget.height())
    cx, cy = widget.width() / 2, widget.height() / 2
    top = [(cx - 0.2 * side + 0.4 * side * i / steps, cy - 0.33 * side) for i in range(steps + 1)]
    down = [(cx + 0.2 * side - 0.22 * side * i / steps, cy - 0.33 * side + 0.66 * side * i / steps) for i in range(1, steps + 1)]
    return top + down


def one(widget: QWidget, steps: int = 10) -> list[tuple[float, float]]:
    side = min(widget.width(), widget.height())
    cx, cy = widget.width() / 2, widget.height() / 2
    return [(cx, cy - 0.33 * side + 0.66 * side * i / steps) for i in range(steps + 1)]


# Answers a test can make the model give, to see how the window shows them.
SURE_SEVEN = Prediction(7, 0.99, np.eye(10)[7] * 0.99 + 0.001, np.zeros((28, 28), np.float32))
UNSURE_SEVEN = Prediction(7, 0.6, np.array([0.01, 0.3, 0.01, 0.01, 0.01, 0.01, 0.01, 0.6, 0.02, 0.02]),
                          np.zeros((28, 28), np.float32))  # runner-up: 1
