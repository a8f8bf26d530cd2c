"""Issue 6, in the app: stopping, closing and errors in the worker thread.

What each test checks, item by item of the issue, is mapped in tests/gui/reliability_checks.py.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from faults import hidden_leftovers

from .conftest import (TEST_COUNT, TEST_SEED, TRAIN_TIMEOUT_MS, _active_timers, _stop_threads, close_window,
                       error_boxes, mnist_question, new_window, synthetic_digits)
from .reliability_checks import (assert_still_classifies, choose_download, one_error, progress_text, small_mlp,
                                 stop_button, train_button, train_to_the_end)

pytest.importorskip("digitpad.inference")


def _tiny_test_set() -> tuple[torch.Tensor, torch.Tensor]:
    from digitpad.data import normalize_uint8

    images, labels = synthetic_digits(TEST_COUNT, TEST_SEED)  # the tiny MNIST's own test images
    return normalize_uint8(torch.from_numpy(images)), torch.from_numpy(labels)


@pytest.mark.slow
def test_stop_then_train_twenty_times_then_training_and_classifying_still_work(window, qtbot, use_tiny_mnist):
    from digitpad import checkpoint, paths

    small_mlp(window, epochs=100)
    phases = []
    for attempt in range(20):
        validated = []
        with qtbot.waitSignal(window.training_started, timeout=5_000):
            train_button(window).click()
        worker = window.training.worker()
        worker.validated.connect(lambda result: validated.append(result))
        phase = attempt % 3
        if phase == 1:  # mid-epoch
            qtbot.waitUntil(lambda: progress_text(window).startswith("Epoch"), timeout=TRAIN_TIMEOUT_MS)
        elif phase == 2:  # after a validation, in the next epoch
            qtbot.waitUntil(lambda: bool(validated), timeout=TRAIN_TIMEOUT_MS)
        # phase 0: at once, while MNIST loads
        with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
            stop_button(window).click()
        phases.append(progress_text(window).split(" ")[0])
        assert train_button(window).isEnabled() and not stop_button(window).isEnabled()
        assert not window.is_training() and not error_boxes(window)
    assert set(phases) <= {"Stopped", "Cancelled"} and "Stopped" in phases
    assert_still_classifies(window, qtbot)

    # A complete run still trains a model that reads its digits, and the app uses it.
    small_mlp(window, epochs=3)
    train_to_the_end(window, qtbot)
    assert progress_text(window).startswith("Done"), progress_text(window)
    images, labels = _tiny_test_set()
    accuracy = (window.model().classifier.probabilities(images).argmax(axis=1) == labels.numpy()).mean()
    assert accuracy >= 0.9, accuracy
    assert paths.current_model_path() == window.model().path
    for saved in paths.models_dir().iterdir():  # every model written on the way loads
        checkpoint.load(saved)
    assert hidden_leftovers(paths.models_dir()) == []
    assert_still_classifies(window, qtbot)


def test_an_exception_mid_training_shows_a_dialog_and_the_next_run_works(window, qtbot, monkeypatch,
                                                                         use_tiny_mnist):
    from digitpad import training

    real_fit = training.fit
    calls = []

    def failing_fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        calls.append(config)
        for count, event in enumerate(real_fit(config, data, should_stop=should_stop, initial_state=initial_state,
                                              initial_history=initial_history)):
            if len(calls) == 1 and count == 3:
                raise RuntimeError("simulated failure in the middle of an epoch")
            yield event

    monkeypatch.setattr(training, "fit", failing_fit)
    small_mlp(window, epochs=2, hidden="16", batch_size=32)
    before = window.model()

    train_to_the_end(window, qtbot)

    text = one_error(window)
    assert "simulated failure in the middle of an epoch" in text
    assert window.model() is before and progress_text(window) == "Failed"
    assert_still_classifies(window, qtbot)
    train_to_the_end(window, qtbot)
    assert not error_boxes(window) and progress_text(window).startswith("Done")
    assert window.model() is not before


def test_an_unexpected_error_loading_data_shows_a_dialog(window, qtbot, monkeypatch, use_tiny_mnist):
    from digitpad import data

    def broken_load(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(data, "load_mnist", broken_load)
    train_to_the_end(window, qtbot)
    text = one_error(window)
    assert text.startswith("Training failed") and "MemoryError" in text
    assert train_button(window).isEnabled()
    assert_still_classifies(window, qtbot)


@pytest.mark.parametrize("network", ["slow", "stalled"])
def test_closing_during_a_real_download_keeps_no_half_file(qtbot, mirror, test_model_path, network):
    from digitpad import paths

    paths.set_current_model(test_model_path)
    # Slow: a pause after every 16 kB. Stalled: nothing more after the first 16 kB, for a minute.
    mirror.chunk_delay = 0.2 if network == "slow" else 60
    window = new_window(qtbot)
    choose_download(window, qtbot)
    qtbot.waitUntil(lambda: progress_text(window).startswith("Downloading MNIST:"), timeout=10_000)

    started = time.perf_counter()
    close_window(window)  # asserts no thread or timer is left
    assert time.perf_counter() - started < 3  # not held up by the network (it once waited for the socket)

    raw = paths.default_data_dir() / "MNIST" / "raw"
    assert hidden_leftovers(paths.default_data_dir()) == []
    for name, body in mirror.files.items():  # whatever was kept is whole
        if (raw / name).exists():
            assert (raw / name).read_bytes() == body
    assert len(list(raw.glob("*.gz"))) < 4


@pytest.mark.parametrize("when", ["while MNIST loads", "with an error dialog open", "with the data question open"])
def test_closing_while_mnist_loads_or_a_dialog_is_open(qtbot, monkeypatch, tmp_path, test_model_path, tiny_mnist,
                                                       when):
    from digitpad import data, paths

    paths.set_current_model(test_model_path)
    loading = threading.Event()
    if when == "while MNIST loads":
        real_load = data.load_mnist

        def slow_load(*args, **kwargs):
            loading.set()
            time.sleep(0.3)
            return real_load(*args, **kwargs)

        monkeypatch.setattr(data, "load_mnist", slow_load)
        monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tiny_mnist))
    elif when == "with an error dialog open":
        monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tmp_path / "nothing-here"))
    window = new_window(qtbot)
    train_button(window).click()
    if when == "while MNIST loads":
        qtbot.waitUntil(loading.is_set, timeout=10_000)
    elif when == "with an error dialog open":
        qtbot.waitUntil(lambda: bool(error_boxes(window)), timeout=TRAIN_TIMEOUT_MS)
    else:
        mnist_question(window, qtbot)
    close_window(window)


def test_the_thread_and_timer_guard_is_active_and_sees_leftovers(request, qapp):
    from qt_threads import new_thread, running_threads

    assert "no_threads_or_timers_left" in request.fixturenames
    thread = new_thread("left-running")
    thread.start()
    owner = QWidget()
    timer = QTimer(owner)
    timer.setObjectName("left_active")
    timer.start(10_000)
    try:
        assert "QWidget.left_active" in _active_timers(owner)
        assert _stop_threads() == ["left-running"]  # the guard reports it (and stops it)
        assert not running_threads()
    finally:
        timer.stop()
        thread.quit()
        thread.wait()
        owner.deleteLater()
        QApplication.processEvents()
