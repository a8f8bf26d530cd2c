"""Training through the real Train button on a tiny MNIST, stopping, closing, data problems."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, QSettings, Qt, Slot
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QPushButton

from digitpad.gui import saved_settings

from .conftest import (TEST_COUNT, TRAIN_TIMEOUT_MS, close_window, draw_stroke, error_boxes, mnist_question, seven,
                       shown_digit)

pytest.importorskip("digitpad.inference")


class PlotWatcher(QObject):
    """Counts the worker's signals and the plot's points as the window sees them."""

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.batches = 0
        self.validations = 0
        self.counts: list[tuple[int, int, int]] = []
        window.training.worker().batch_progressed.connect(self.on_batch)
        window.training.worker().validated.connect(self.on_validated)

    @Slot(object, object)
    def on_batch(self, progress, points) -> None:
        self.batches += 1

    @Slot(object)
    def on_validated(self, result) -> None:
        self.validations += 1
        self.counts.append(self.window.training_panel.metrics_plot.point_counts())


def buttons(window) -> tuple[QPushButton, QPushButton]:
    return window.findChild(QPushButton, "train_button"), window.findChild(QPushButton, "stop_button")


def small_run(window, epochs: int = 2, batch_size: int = 32) -> None:
    window.training_panel.epochs_spin.setValue(epochs)
    window.training_panel.batch_spin.setValue(batch_size)


def click_train(window, qtbot) -> None:
    train, _ = buttons(window)
    with qtbot.waitSignal(window.training_started, timeout=5_000):
        qtbot.mouseClick(train, Qt.MouseButton.LeftButton)


def wait_for_first_batch(window, qtbot) -> None:
    progress = window.findChild(QProgressBar, "train_progress")
    qtbot.waitUntil(lambda: progress.text().startswith("Epoch"), timeout=TRAIN_TIMEOUT_MS)


@pytest.mark.slow
def test_train_button_trains_and_the_new_model_takes_over(window, qtbot, use_tiny_mnist):
    from digitpad import paths

    train, stop = buttons(window)
    progress = window.findChild(QProgressBar, "train_progress")
    small_run(window)
    old_model = window.model()
    changes = []
    window.model_changed.connect(changes.append)

    click_train(window, qtbot)
    assert not train.isEnabled() and stop.isEnabled()
    # Connected after the window's slots, so it runs (queued, on this thread) after them.
    seen = PlotWatcher(window)
    # Drawing and predicting keep working with the old model while training runs.
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert window.model() is old_model

    qtbot.waitUntil(lambda: not window.is_training(), timeout=TRAIN_TIMEOUT_MS)

    assert seen.batches >= 1 and seen.validations == 2
    # The curves gained points while training ran.
    assert seen.counts[0][0] >= 1 and seen.counts[0][1] == 1
    assert seen.counts[1][0] > seen.counts[0][0] and seen.counts[1][1] == 2
    train_points, val_points, acc_points = window.training_panel.metrics_plot.point_counts()
    assert train_points >= 2 and val_points == acc_points == 2

    new_model = window.model()
    assert new_model is not old_model
    assert new_model.path.parent == paths.models_dir()
    assert new_model.path.is_file()
    assert paths.current_model_path() == new_model.path
    assert "accuracy" in window.statusBar().currentMessage()
    assert new_model.name in window.findChild(QLabel, "model_label").text()
    assert len(changes) == 1 and new_model.name in changes[0]
    assert progress.text().startswith("Done")
    assert train.isEnabled() and not stop.isEnabled()
    # The new model predicts.
    window.canvas.clear()
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert shown_digit(window) is not None


@pytest.mark.slow
def test_continue_training_starts_from_the_weights_in_use(window, qtbot, use_tiny_mnist, monkeypatch):
    from digitpad import training

    captured = {}
    real_fit = training.fit

    def spying_fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        captured["config"], captured["initial_state"] = config, initial_state
        yield from real_fit(config, data, should_stop=should_stop, initial_state=initial_state,
                            initial_history=initial_history)

    monkeypatch.setattr(training, "fit", spying_fit)
    small_run(window, epochs=1)
    click_train(window, qtbot)  # a first run, so the model to continue has curves of its own
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    continued_config = window.model().model_config
    first_history = window.model().checkpoint.history
    assert len(first_history["val_accuracy"]) == 1
    window.training_panel.continue_radio.setChecked(True)
    assert not window.training_panel.arch_combo.isEnabled()
    click_train(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    weights = window.model().checkpoint.state_dict if captured["initial_state"] is None else captured["initial_state"]
    assert captured["initial_state"] is not None
    assert set(captured["initial_state"]) == set(weights)
    assert captured["config"].model == continued_config
    # The continued model's curves go on from its earlier ones: one more epoch's validation, in order.
    history = window.model().checkpoint.history
    earlier = list(first_history.get("val_accuracy", []))
    assert history["val_accuracy"][: len(earlier)] == earlier and len(history["val_accuracy"]) == len(earlier) + 1
    assert history["val_step"] == sorted(history["val_step"])
    assert window.training_panel.metrics_plot.point_counts()[2] == len(earlier) + 1

    window.training_panel.fresh_radio.setChecked(True)
    small_run(window, epochs=1)
    click_train(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    assert captured["initial_state"] is None


@pytest.mark.slow
def test_stop_mid_run(window, qtbot, use_tiny_mnist):
    train, stop = buttons(window)
    small_run(window, epochs=100)
    click_train(window, qtbot)
    wait_for_first_batch(window, qtbot)
    progress = window.findChild(QProgressBar, "train_progress")
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    # Until the stopped model has been tested, the window says that is what it is doing.
    assert progress.text() == "Stopping: testing the model so far…"  # what the bar shows, busy or not
    assert window.statusBar().currentMessage() == "Stopping after this batch, then testing the model trained so far…"
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    assert progress.text().startswith("Stopped")
    assert progress.value() < progress.maximum() or progress.maximum() == 1
    assert "Stopped" in window.statusBar().currentMessage()
    assert train.isEnabled() and not stop.isEnabled()
    assert not error_boxes(window)


@pytest.mark.slow
def test_closing_mid_training_joins_the_thread_without_testing_the_weights_it_throws_away(
        qtbot, use_tiny_mnist, test_model_path, monkeypatch):
    from digitpad import paths, training
    from digitpad.gui.main_window import MainWindow
    from qt_threads import running_threads

    measured = []  # how many images each evaluation took: 120 to validate, TEST_COUNT to test

    def counting_evaluate(model, images, labels, batch_size=1000):
        measured.append(len(labels))
        return evaluate(model, images, labels, batch_size)

    evaluate = training.evaluate
    monkeypatch.setattr(training, "evaluate", counting_evaluate)
    paths.set_current_model(test_model_path)
    window = MainWindow()
    with qtbot.waitSignal(window.model_changed, timeout=TRAIN_TIMEOUT_MS):
        window.show()
    small_run(window, epochs=100)
    click_train(window, qtbot)
    wait_for_first_batch(window, qtbot)
    close_window(window)  # asserts no thread or timer is left
    assert not running_threads()
    assert paths.current_model_path() == test_model_path
    assert TEST_COUNT not in measured  # a Stop tests them; a close does not wait for that


def test_an_exception_in_training_shows_a_dialog_and_the_app_stays_usable(window, qtbot, use_tiny_mnist, monkeypatch):
    from digitpad import training

    def broken_fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        raise RuntimeError("simulated worker crash")
        yield  # a generator, like the real one

    monkeypatch.setattr(training, "fit", broken_fit)
    click_train(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    boxes = error_boxes(window)
    assert len(boxes) == 1 and "simulated worker crash" in boxes[0].text()
    boxes[0].close()
    train, _ = buttons(window)
    assert train.isEnabled()
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert shown_digit(window) is not None


# -------------------------------------------------------------------------- data


def test_missing_data_folder_from_the_environment(window, qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tmp_path / "no-mnist-here"))
    click_train(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    boxes = error_boxes(window)
    assert len(boxes) == 1
    assert "no-mnist-here" in boxes[0].text()
    assert window.findChildren(QMessageBox, "data_dialog") == []  # never asks when the folder is given
    boxes[0].close()
    train, stop = buttons(window)
    assert train.isEnabled() and not stop.isEnabled()


def test_missing_data_asks_and_cancel_leaves_the_app_usable(window, qtbot):
    buttons(window)[0].click()
    dialog = mnist_question(window, qtbot)
    assert "download" in dialog.informativeText().lower()
    dialog.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: buttons(window)[0].isEnabled())
    assert not window.is_training()
    assert "cancelled" in window.statusBar().currentMessage().lower()


def test_choosing_a_folder_remembers_it_and_trains(window, qtbot, monkeypatch, tiny_mnist):
    from digitpad.gui import data_folder

    monkeypatch.setattr(data_folder, "choose_folder", lambda parent, start: tiny_mnist)
    small_run(window, epochs=1)
    buttons(window)[0].click()
    dialog = mnist_question(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        dialog.findChild(QPushButton, "choose_folder_button").click()
    assert saved_settings.read_str(saved_settings.app_settings(), saved_settings.DATA_DIR) == str(tiny_mnist)
    assert window.findChild(QProgressBar, "train_progress").text().startswith("Done")
    # Next time it does not ask.
    click_train(window, qtbot)
    assert window.findChildren(QMessageBox, "data_dialog") == []
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        buttons(window)[1].click()


def test_choosing_a_folder_without_mnist_says_so(window, qtbot, monkeypatch, tmp_path):
    from digitpad.gui import data_folder

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(data_folder, "choose_folder", lambda parent, start: empty)
    buttons(window)[0].click()
    mnist_question(window, qtbot).findChild(QPushButton, "choose_folder_button").click()
    qtbot.waitUntil(lambda: bool(error_boxes(window)))
    assert str(empty) in error_boxes(window)[0].text()
    assert not window.is_training()
    assert QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "digitpad", "digitpad").value(saved_settings.DATA_DIR) is None


def test_download_without_network_fails_clearly(window, qtbot, monkeypatch):
    from digitpad import data, mnist_download

    def no_network(root, progress=None, should_stop=None):
        if progress:
            progress(0, 11_000_000)
        raise data.DataError(f"Could not download MNIST into {root}: no network.")

    monkeypatch.setattr(mnist_download, "download_mnist", no_network)
    buttons(window)[0].click()
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        mnist_question(window, qtbot).findChild(QPushButton, "download_button").click()
    boxes = error_boxes(window)
    assert boxes and "no network" in boxes[0].text()
    boxes[0].close()
    assert buttons(window)[0].isEnabled()


def test_stop_cancels_a_download(window, qtbot, monkeypatch):
    import threading

    from digitpad import data, mnist_download

    started = threading.Event()

    def slow_download(root, progress=None, should_stop=None):
        started.set()
        while not should_stop():
            progress(1_000_000, 11_000_000)
            threading.Event().wait(0.01)
        raise data.DownloadCancelled("Download cancelled.")

    monkeypatch.setattr(mnist_download, "download_mnist", slow_download)
    buttons(window)[0].click()
    mnist_question(window, qtbot).findChild(QPushButton, "download_button").click()
    progress = window.findChild(QProgressBar, "train_progress")
    qtbot.waitUntil(lambda: progress.text().startswith("Downloading MNIST:"), timeout=10_000)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        buttons(window)[1].click()
    assert progress.text() == "Cancelled"
    assert not error_boxes(window)


def test_closing_during_a_download_exits_cleanly(qtbot, monkeypatch, test_model_path):
    import threading

    from digitpad import data, mnist_download, paths
    from digitpad.gui.main_window import MainWindow

    def slow_download(root, progress=None, should_stop=None):
        while not should_stop():
            progress(1_000_000, 11_000_000)
            threading.Event().wait(0.01)
        raise data.DownloadCancelled("Download cancelled.")

    monkeypatch.setattr(mnist_download, "download_mnist", slow_download)
    paths.set_current_model(test_model_path)
    window = MainWindow()
    with qtbot.waitSignal(window.model_changed, timeout=TRAIN_TIMEOUT_MS):
        window.show()
    buttons(window)[0].click()
    mnist_question(window, qtbot).findChild(QPushButton, "download_button").click()
    progress = window.findChild(QProgressBar, "train_progress")
    qtbot.waitUntil(lambda: progress.text().startswith("Downloading MNIST:"), timeout=10_000)
    close_window(window)


@pytest.mark.slow
def test_closing_during_validation_exits_cleanly(qtbot, use_tiny_mnist, test_model_path, monkeypatch):
    import threading
    import time

    from digitpad import paths, training
    from digitpad.gui.main_window import MainWindow

    validating = threading.Event()
    real_evaluate = training.evaluate

    def slow_evaluate(*args, **kwargs):
        validating.set()
        time.sleep(0.3)  # still validating when the window closes
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", slow_evaluate)
    paths.set_current_model(test_model_path)
    window = MainWindow()
    with qtbot.waitSignal(window.model_changed, timeout=TRAIN_TIMEOUT_MS):
        window.show()
    small_run(window, epochs=100, batch_size=128)
    click_train(window, qtbot)
    qtbot.waitUntil(validating.is_set, timeout=TRAIN_TIMEOUT_MS)
    close_window(window)


@pytest.mark.parametrize("text", ["64,32", "64, 32", "64;32", " 64 ; 32 "])
def test_the_hidden_field_reads_sizes_as_the_command_line_does(qtbot, text):
    from digitpad.cli.parser import build_parser
    from digitpad.gui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData("mlp"))
    panel.hidden_edit.setText(text)

    assert panel.build_train_config().model.hidden == build_parser().parse_args(["train", "--hidden", text]).hidden
    assert panel.build_train_config().model.hidden == (64, 32)
