"""Drive a TrainingWorker without MNIST or real training: fake data and events, and a
recorder of what reaches the GUI thread. Shared by the worker and responsiveness tests."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from digitpad.gui.worker import TrainingWorker

from .conftest import run_on_thread


class FakeData:
    train_labels = list(range(60000))
    test_labels = list(range(10000))


def fake_load(root, download=False, progress=None, should_stop=None):
    return FakeData()


def progress(step: int, total: int):
    from digitpad import training

    return training.BatchProgress(1, 1, step, total, step, total, 1.0 / step, step * 1e-4)


def result(stopped: bool = False):
    from digitpad import training

    config = training.TrainConfig()
    return training.TrainingResult(config.model, config, {}, {"train_step": [1]}, 0.1, 0.97, stopped, 1.0)


class Recorder(QObject):
    """Receives the worker's signals on the GUI thread (queued), like the window does."""

    def __init__(self, worker: TrainingWorker) -> None:
        super().__init__()
        self.events: list[tuple[str, object]] = []
        self.points: list[tuple[int, float]] = []
        self.emissions = 0
        worker.batch_progressed.connect(self.on_batch)
        worker.validated.connect(self.on_validated)
        worker.finished.connect(self.on_finished)
        worker.failed.connect(self.on_failed)
        worker.data_failed.connect(self.on_data_failed)
        worker.cancelled.connect(self.on_cancelled)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    @Slot(object, object)
    def on_batch(self, progress, points) -> None:
        self.emissions += 1
        self.points.extend(points)
        self.events.append(("batch", progress))

    @Slot(object)
    def on_validated(self, result) -> None:
        self.events.append(("validated", result))

    @Slot(object)
    def on_finished(self, result) -> None:
        self.events.append(("finished", result))

    @Slot(str)
    def on_failed(self, message) -> None:
        self.events.append(("failed", message))

    @Slot(str)
    def on_data_failed(self, message) -> None:
        self.events.append(("data_failed", message))

    @Slot()
    def on_cancelled(self) -> None:
        self.events.append(("cancelled", None))


def run_worker(qtbot, worker: TrainingWorker, before_wait=None) -> Recorder:
    """Run ``worker`` on its own QThread, as the app does; ``before_wait(recorder)`` once it runs."""
    recorder = Recorder(worker)
    run_on_thread(qtbot, worker, "test-training", 60_000,
                  while_running=None if before_wait is None else lambda: before_wait(recorder))
    return recorder
