"""Teach through the real button: too few drawings are explained, a small collection changes
the model in use (a new file, the current model; Revert still works), and Stop keeps the
previous model in use."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QPushButton

from .conftest import TEST_COUNT, TRAIN_TIMEOUT_MS, close_window, new_window, synthetic_digits

pytest.importorskip("digitpad.teaching")


def collect(count: int) -> None:
    """``count`` drawings in My digits: tiny-MNIST-style images with strokes along their bars."""
    from digitpad.collection import Collection
    from digitpad.strokes import Stroke

    images, labels = synthetic_digits(count, seed=7)
    collection = Collection()
    for image, label in zip(images, labels):
        column = 4 + 2 * int(label)
        # The bar of class k, as a stroke in unit coordinates (the canvas's centred square).
        stroke = Stroke(0.08, [((column + 1 - 14) / 40, (4 - 14) / 40), ((column + 1 - 14) / 40, (23 - 14) / 40)])
        collection.add(int(label), image.astype(np.float32) / 255.0, [stroke], answer=None, confidence=None,
                       model="test")


def teach_button(window) -> QPushButton:
    return window.findChild(QPushButton, "teach_button")


def information(window) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox, "information_dialog") if box.isVisible()]


def test_too_few_drawings_explain_what_is_needed(window, qtbot, use_tiny_mnist):
    from digitpad.teaching import MIN_DRAWINGS

    collect(MIN_DRAWINGS - 3)
    qtbot.mouseClick(teach_button(window), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(information(window)), timeout=5_000)
    text = information(window)[0].text()
    assert f"at least {MIN_DRAWINGS}" in text and "3 more" in text
    assert not window.is_training()


@pytest.mark.slow
def test_teach_changes_the_model_in_use_and_revert_still_works(window, qtbot, use_tiny_mnist, test_model_path):
    from digitpad import checkpoint, paths

    collect(40)
    before = window.model()
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        with qtbot.waitSignal(window.model_changed, timeout=TRAIN_TIMEOUT_MS):
            qtbot.mouseClick(teach_button(window), Qt.MouseButton.LeftButton)
    taught = window.model()
    assert taught is not before
    assert taught.path.name.startswith("taught-") and taught.path.parent == paths.models_dir()
    assert paths.current_model_path() == taught.path
    assert any(not np.array_equal(taught.checkpoint.state_dict[k].numpy(), before.checkpoint.state_dict[k].numpy())
               for k in before.checkpoint.state_dict)
    saved = checkpoint.load(taught.path)
    assert saved.train_config["kind"] == "teach"
    report = information(window)[0].text()
    assert "held-out drawings" in report and "MNIST test set" in report
    assert window.findChild(QProgressBar, "train_progress").text().startswith("Taught")
    # The curves: the earlier model's, then the lesson's, with a line where teaching began.
    plot = window.training_panel.metrics_plot
    assert plot.taught_steps() == taught.checkpoint.history["taught_step"] and len(plot.taught_steps()) == 1

    assert window.revert_to_shipped_model()
    assert window.model().path == paths.shipped_model_path()


@pytest.mark.slow
def test_stop_mid_teach_keeps_the_previous_model(window, qtbot, use_tiny_mnist, test_model_path, monkeypatch):
    from digitpad import paths
    from digitpad.config import TeachConfig

    collect(40)
    # A long lesson, so there is time to press Stop in the middle of it.
    monkeypatch.setattr("digitpad.teaching.TeachConfig", lambda: TeachConfig(epochs=200))
    before = window.model()
    qtbot.mouseClick(teach_button(window), Qt.MouseButton.LeftButton)
    progress = window.findChild(QProgressBar, "train_progress")
    qtbot.waitUntil(lambda: progress.text().startswith("Epoch"), timeout=TRAIN_TIMEOUT_MS)
    assert window.training_panel.metrics_plot.taught_steps() == [0]  # the live curves are the lesson's
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        qtbot.mouseClick(window.findChild(QPushButton, "stop_button"), Qt.MouseButton.LeftButton)
    assert window.model() is before
    assert paths.current_model_path() == test_model_path
    assert "the model in use is unchanged" in window.statusBar().currentMessage()


@pytest.mark.slow
def test_closing_mid_teach_does_not_test_the_weights_it_throws_away(qtbot, use_tiny_mnist, test_model_path,
                                                                    monkeypatch):
    from digitpad import paths, teaching
    from digitpad.config import TeachConfig

    measured = []  # how many images each evaluation took; TEST_COUNT for MNIST's test set

    def counting_evaluate_fully(model, images, labels, batch_size=1000):
        measured.append(len(labels))
        return evaluate_fully(model, images, labels, batch_size)

    evaluate_fully = teaching.evaluate_fully
    monkeypatch.setattr(teaching, "evaluate_fully", counting_evaluate_fully)
    monkeypatch.setattr("digitpad.teaching.TeachConfig", lambda: TeachConfig(epochs=200))
    collect(40)
    paths.set_current_model(test_model_path)
    window = new_window(qtbot)
    qtbot.mouseClick(teach_button(window), Qt.MouseButton.LeftButton)
    progress = window.findChild(QProgressBar, "train_progress")
    qtbot.waitUntil(lambda: progress.text().startswith("Epoch"), timeout=TRAIN_TIMEOUT_MS)
    close_window(window)
    assert measured.count(TEST_COUNT) == 1  # before teaching; not again for the weights a close throws away


@pytest.mark.slow
def test_teach_teaches_the_stroke_reader_of_the_model_in_use_too(qtbot, use_tiny_mnist, test_model_path, tmp_path):
    import dataclasses

    import torch

    from digitpad import checkpoint, paths
    from digitpad.stroke_reader import StrokeReader

    torch.manual_seed(0)
    reader = StrokeReader().state_dict()
    with_reader = tmp_path / "with-reader.pt"
    checkpoint.save(dataclasses.replace(checkpoint.load(test_model_path), stroke_reader=reader), with_reader)
    paths.set_current_model(with_reader)
    collect(40)
    window = new_window(qtbot)
    try:
        with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
            with qtbot.waitSignal(window.model_changed, timeout=TRAIN_TIMEOUT_MS):
                qtbot.mouseClick(teach_button(window), Qt.MouseButton.LeftButton)
        taught = window.model()
        assert taught.path.name.startswith("taught-") and taught.classifier.stroke_reader is not None
        saved = checkpoint.load(taught.path).stroke_reader
        changed = {key for key, tensor in reader.items() if not torch.equal(saved[key], tensor)}
        assert changed == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}  # its convolutions are kept
        assert "+ a stroke reader" in window.findChild(QLabel, "model_label").text()
    finally:
        close_window(window)
