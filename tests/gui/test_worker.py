"""TrainingWorker on a real QThread, with fake and real training generators."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Slot

from digitpad.gui.worker import TrainingWorker

from . import worker_fakes as fakes

training = pytest.importorskip("digitpad.training")


def test_progress_is_coalesced_but_every_loss_point_arrives(qtbot):
    """Structure, not timing: a burst of 3000 batch events reaches the GUI as a
    handful of signals, and the loss points are all there, in order."""

    def burst_fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        for step in range(1, 3001):
            yield fakes.progress(step, 3000)
        yield training.ValidationResult(1, 3000, 0.2, 0.95, 1.0)
        yield fakes.result()

    worker = TrainingWorker(training.TrainConfig(), None, fit=burst_fit, load_data=fakes.fake_load)
    recorder = fakes.run_worker(qtbot, worker)
    assert [step for step, _ in recorder.points] == list(range(1, 3001))
    assert recorder.emissions < 100
    kinds = [kind for kind, _ in recorder.events]
    assert kinds[-2:] == ["validated", "finished"]
    last_batch = [payload for kind, payload in recorder.events if kind == "batch"][-1]
    assert last_batch.global_step == 3000


def test_stop_ends_the_run_cooperatively(qtbot):
    seen_stop = []

    def endless_fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        step = 0
        while not should_stop():
            step += 1
            yield fakes.progress(step, 10**9)
        seen_stop.append(step)
        yield fakes.result(stopped=True)

    worker = TrainingWorker(training.TrainConfig(), None, fit=endless_fit, load_data=fakes.fake_load)

    def stop_after_first_batch(recorder):
        qtbot.waitUntil(lambda: recorder.emissions > 0, timeout=10_000)
        worker.stop()

    recorder = fakes.run_worker(qtbot, worker, stop_after_first_batch)
    assert seen_stop
    kind, result = recorder.events[-1]
    assert kind == "finished" and result.stopped


def test_an_exception_becomes_a_failed_message(qtbot):
    def broken_fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        yield fakes.progress(1, 10)
        raise ValueError("the GPU caught fire")

    recorder = fakes.run_worker(qtbot, TrainingWorker(training.TrainConfig(), None, fit=broken_fit, load_data=fakes.fake_load))
    kind, message = recorder.events[-1]
    assert kind == "failed"
    assert "the GPU caught fire" in message
    assert "Traceback" not in message


def test_missing_data_is_reported_as_a_data_failure(qtbot, tmp_path):
    worker = TrainingWorker(training.TrainConfig(), tmp_path / "nowhere", download=False)
    recorder = fakes.run_worker(qtbot, worker)
    kind, message = recorder.events[-1]
    assert kind == "data_failed"
    assert "nowhere" in message


def test_stop_while_loading_data_cancels(qtbot):
    worker = TrainingWorker(training.TrainConfig(), None, fit=None, load_data=None)

    def slow_load(root, download=False, progress=None, should_stop=None):
        worker.stop()  # as if Stop was pressed mid-download
        return fakes.FakeData()

    worker._load_data = slow_load
    recorder = fakes.run_worker(qtbot, worker)
    assert recorder.events == [("cancelled", None)]


def test_download_progress_is_forwarded(qtbot):
    received = []

    class Progress(QObject):
        @Slot(int, int)
        def on(self, done, total):
            received.append((done, total))

    def downloading_load(root, download=False, progress=None, should_stop=None):
        assert download
        for done in range(0, 11_000_001, 1_000_000):
            progress(done, 11_000_000)
        raise _data_error("no network")

    worker = TrainingWorker(training.TrainConfig(), None, download=True, load_data=downloading_load)
    probe = Progress()
    worker.data_progressed.connect(probe.on)
    recorder = fakes.run_worker(qtbot, worker)
    assert received and received[-1] == (11_000_000, 11_000_000)
    assert recorder.events[-1][0] == "data_failed"


def _data_error(message: str) -> Exception:
    from digitpad.data import DataError

    return DataError(message)


@pytest.mark.slow
def test_real_training_on_tiny_mnist(qtbot, tiny_mnist):
    from digitpad.config import ModelConfig, TrainConfig

    config = TrainConfig(model=ModelConfig(arch="mlp", hidden=(64,)), epochs=2, batch_size=32, log_every=5)
    recorder = fakes.run_worker(qtbot, TrainingWorker(config, tiny_mnist))
    kinds = [kind for kind, _ in recorder.events]
    assert kinds[-1] == "finished", recorder.events[-1]
    assert "validated" in kinds
    result = recorder.events[-1][1]
    assert not result.stopped
    assert result.state_dict and result.history["train_loss"]
    assert len(recorder.points) == len(result.history["train_loss"])
