"""The training device in the app: the Training group's choice, what the model loader finds, and the worker."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QObject, Slot

from digitpad.config import TrainConfig
from digitpad.gui import collector
from digitpad.gui import saved_settings
from digitpad.gui.model_loader import ModelLoader, prepare_training
from digitpad.gui.training_panel import TrainingPanel
from digitpad.gui.worker import TrainingWorker

from . import worker_fakes as fakes
from .conftest import run_on_thread


@pytest.fixture
def panel(qtbot) -> TrainingPanel:
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    return widget


def choose(panel: TrainingPanel, device: str) -> None:
    panel.device_combo.setCurrentIndex(panel.device_combo.findData(device))


def test_the_device_choice_goes_into_the_train_config_and_is_remembered(panel, qtbot):
    assert panel.build_train_config().device == "auto"
    choose(panel, "cpu")
    assert panel.build_train_config().device == "cpu"
    settings = saved_settings.app_settings()
    panel.save_settings(settings)
    settings.sync()

    again = TrainingPanel()
    qtbot.addWidget(again)
    again.restore_settings(saved_settings.app_settings())
    assert again.device_combo.currentData() == "cpu"


def test_a_foreign_saved_device_falls_back_to_auto(panel):
    settings = saved_settings.app_settings()
    settings.setValue(saved_settings.TRAINING_GROUP + "/device", "tpu")
    panel.restore_settings(settings)
    assert panel.device_combo.currentData() == "auto"


def test_the_devices_found_name_autos_choice_and_mark_the_missing_ones(panel):
    assert "looked up once the model has loaded" in panel.device_summary()
    panel.set_available_devices(("cpu",))
    texts = {panel.device_combo.itemData(i): panel.device_combo.itemText(i) for i in range(panel.device_combo.count())}
    assert texts["auto"] == "Auto (CPU)" and texts["cpu"] == "CPU"
    assert texts["cuda"] == "CUDA GPU (not on this machine)"
    cuda_item = panel.device_combo.model().item(panel.device_combo.findData("cuda"))
    assert not cuda_item.isEnabled()
    assert panel.device_summary() == "Auto: CPU (no GPU found)"
    choose(panel, "cuda")  # e.g. restored from settings made on another computer
    assert "not on this machine" in panel.device_summary()

    panel.set_available_devices(("cuda", "cpu"))
    assert panel.device_combo.itemText(panel.device_combo.findData("auto")) == "Auto (CUDA GPU)"
    assert panel.device_combo.model().item(panel.device_combo.findData("cuda")).isEnabled()
    assert panel.device_summary() == "CUDA GPU"
    choose(panel, "auto")
    assert panel.device_summary() == "Auto: CUDA GPU"


def test_the_device_cannot_change_while_training(panel):
    panel.set_training(True)
    assert not panel.device_combo.isEnabled()
    panel.set_training(False)
    assert panel.device_combo.isEnabled()


class Prepared(QObject):
    def __init__(self, loader: ModelLoader) -> None:
        super().__init__()
        self.order: list[str] = []
        self.devices = None
        loader.loaded.connect(self.on_loaded)
        loader.failed.connect(self.on_failed)
        loader.training_prepared.connect(self.on_prepared)

    @Slot(object, object)
    def on_loaded(self, model, notes) -> None:
        self.order.append("loaded")

    @Slot(str)
    def on_failed(self, message) -> None:
        self.order.append("failed")

    @Slot(object)
    def on_prepared(self, devices) -> None:
        self.order.append("prepared")
        self.devices = devices


@pytest.mark.parametrize("load_works", [True, False])
def test_the_loader_prepares_training_after_the_model_with_the_collector_paused(qtbot, load_works):
    states = []

    def load():
        if not load_works:
            raise ValueError("no model here")
        return object(), []

    def prepare():
        states.append((gc.isenabled(), collector.is_paused()))
        return ("cpu",)

    loader = ModelLoader(load, prepare)
    seen = Prepared(loader)
    run_on_thread(qtbot, loader, "test-loader", 10_000)
    assert seen.order == ["loaded" if load_works else "failed", "prepared"]
    assert seen.devices == ("cpu",)
    assert states == [(False, True)]


def test_a_failing_preparation_is_only_logged(qtbot):
    def prepare():
        raise RuntimeError("broken")

    loader = ModelLoader(lambda: (object(), []), prepare)
    seen = Prepared(loader)
    run_on_thread(qtbot, loader, "test-loader", 10_000)
    assert seen.order == ["loaded"]


def test_preparing_training_finds_this_machines_devices():
    from digitpad import devices

    assert prepare_training() == devices.available()


def test_training_on_a_device_this_machine_lacks_fails_with_its_reason(qtbot):
    from digitpad import devices

    missing = next((name for name in ("cuda", "mps") if name not in devices.available()), None)
    if missing is None:
        pytest.skip("this machine has every device")
    worker = TrainingWorker(TrainConfig(device=missing), None, load_data=lambda *a, **k: _tiny_data())
    recorder = fakes.run_worker(qtbot, worker)
    kind, message = recorder.events[-1]
    assert kind == "failed"
    assert message.startswith(f"Training failed: the device '{missing}' is not available")


def _tiny_data():
    import torch

    from digitpad.data import MnistTensors

    images, labels = torch.zeros(60, 1, 28, 28), torch.arange(60) % 10
    return MnistTensors(images, labels, images[:10], labels[:10])



def test_the_window_names_the_device_it_trains_on_once_the_model_has_loaded(window, qtbot):
    from PySide6.QtWidgets import QMessageBox

    from digitpad import devices

    panel = window.training_panel
    qtbot.waitUntil(lambda: "looked up" not in panel.device_summary(), timeout=30_000)
    taken = devices.describe(devices.resolve("auto"))
    assert taken in panel.device_combo.itemText(panel.device_combo.findData("auto"))  # Auto names its device
    window.about_action.trigger()
    (box,) = window.findChildren(QMessageBox, "about_dialog")
    assert "Training device" in box.text() and panel.device_summary() in box.text()
    box.close()
