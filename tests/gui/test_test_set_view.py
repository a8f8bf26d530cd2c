"""The Test set view through the real window: Evaluate on a tiny MNIST, the confusion
matrix's counts, a cell's gallery, a thumbnail's bars, Stop, and results kept per model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressBar, QPushButton

from .conftest import MODEL_TIMEOUT_MS, close_window, error_boxes, new_window

pytest.importorskip("digitpad.evaluation")


def expected_evaluation(model_path, mnist_folder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions and probabilities of the test images, computed here without the app."""
    from digitpad import checkpoint
    from digitpad.data import load_mnist
    from digitpad.models import build_model

    data = load_mnist(mnist_folder, download=False)
    loaded = checkpoint.load(model_path)
    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    model.eval()
    with torch.no_grad():
        probabilities = model(data.test_images).exp().numpy()
    return data.test_labels.numpy(), probabilities.argmax(axis=1), probabilities


def open_test_set(window) -> None:
    window.views.setCurrentWidget(window.test_set_view)


def evaluate(window, qtbot) -> None:
    button = window.findChild(QPushButton, "evaluate_button")
    with qtbot.waitSignal(window.test_set_view.evaluated, timeout=MODEL_TIMEOUT_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.test_set_view.is_running(), timeout=MODEL_TIMEOUT_MS)


def click_cell(window, qtbot, true: int, predicted: int) -> None:
    matrix = window.test_set_view.matrix
    rect = matrix.visualItemRect(matrix.item(true, predicted))
    with qtbot.waitSignal(window.test_set_view.gallery_filled, timeout=5_000):
        qtbot.mouseClick(matrix.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_evaluate_fills_the_matrix_with_the_right_counts_and_a_cell_fills_the_gallery(
    window, qtbot, use_tiny_mnist, test_model_path
):
    labels, predictions, probabilities = expected_evaluation(test_model_path, use_tiny_mnist)
    expected = np.zeros((10, 10), dtype=np.int64)
    np.add.at(expected, (labels, predictions), 1)

    open_test_set(window)
    evaluate(window, qtbot)
    view = window.test_set_view
    assert np.array_equal(view.matrix.counts(), expected)
    for true in range(10):
        for predicted in range(10):
            text = view.matrix.item(true, predicted).text()
            assert text == (f"{expected[true, predicted]:,}" if expected[true, predicted] or true == predicted else "")
        right = expected[true, true] / expected[true].sum()
        assert view.matrix.item(true, 10).text() == f"{right * 100:.1f} %"
    accuracy = (labels == predictions).mean()
    assert f"{accuracy * 100:.2f} %" in view.summary.text()

    # The largest mistake: exactly its images, the most confident first.
    off_diagonal = expected.copy()
    np.fill_diagonal(off_diagonal, 0)
    true, predicted = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)
    click_cell(window, qtbot, int(true), int(predicted))
    cell = np.flatnonzero((labels == true) & (predictions == predicted))
    confidences = probabilities[cell, predicted]
    assert sorted(view.gallery_indices()) == sorted(cell.tolist())
    assert np.all(np.diff(probabilities[view.gallery_indices(), predicted]) <= 1e-7)
    assert confidences.size == view.gallery.count()

    # The diagonal: the least confident right answers first.
    right_digit = int(np.argmax(np.diag(expected)))
    click_cell(window, qtbot, right_digit, right_digit)
    shown = view.gallery_indices()
    assert sorted(shown) == sorted(np.flatnonzero((labels == right_digit) & (predictions == right_digit)).tolist())
    assert np.all(np.diff(probabilities[shown, right_digit]) >= -1e-7)

    # A thumbnail's ten bars.
    first = view.gallery.visualRect(view.gallery.model().index(0, 0))
    qtbot.mouseClick(view.gallery.viewport(), Qt.MouseButton.LeftButton, pos=first.center())
    assert np.allclose(view.sample_bars.values(), probabilities[shown[0]], atol=1e-5)
    assert view.sample_caption.text().startswith(f"Test image {shown[0]:,}")


def test_a_result_is_kept_per_model_and_a_new_model_is_measured_afresh(window, qtbot, use_tiny_mnist,
                                                                        test_model_path, tmp_path):
    from digitpad import checkpoint
    from digitpad.config import ModelConfig
    from digitpad.models import build_model

    open_test_set(window)
    evaluate(window, qtbot)
    view = window.test_set_view
    counts = view.matrix.counts()

    torch.manual_seed(5)
    other = tmp_path / "other.pt"
    config = ModelConfig(arch="mlp", hidden=(32,))
    checkpoint.save(checkpoint.Checkpoint(model_config=config, state_dict=build_model(config).state_dict(),
                                          name="other"), other)
    assert window.open_model(other)
    assert view.shown_evaluation() is None and view.matrix.counts() is None
    assert window.findChild(QProgressBar, "evaluate_progress").text() == "Not measured yet"

    # Back to the first model: its figures are there at once, with no new run.
    assert window.open_model(test_model_path)
    assert not view.is_running()
    assert np.array_equal(view.matrix.counts(), counts)


def test_a_restarted_app_shows_a_models_evaluation_from_the_cache(qtbot, use_tiny_mnist, test_model_path,
                                                                  monkeypatch):
    from digitpad import evaluation, paths

    paths.set_current_model(test_model_path)
    first = new_window(qtbot)
    open_test_set(first)
    evaluate(first, qtbot)
    counts = first.test_set_view.matrix.counts()
    close_window(first)

    def not_again(*_args, **_kwargs):
        raise AssertionError("the model was measured again")

    monkeypatch.setattr(evaluation, "evaluate", not_again)
    second = new_window(qtbot)
    try:
        open_test_set(second)
        evaluate(second, qtbot)
        assert np.array_equal(second.test_set_view.matrix.counts(), counts)
        assert not error_boxes(second)
    finally:
        close_window(second)


def test_stop_ends_an_evaluation_and_the_window_stays_usable(window, qtbot, use_tiny_mnist, monkeypatch):
    import threading

    from digitpad import evaluation

    real_evaluate = evaluation.evaluate
    started = threading.Event()

    def slow_evaluate(model, images, labels, batch_size=1000, should_stop=None):
        # One image a step, each step waiting a little: time to press Stop.
        for event in real_evaluate(model, images, labels, batch_size=1, should_stop=should_stop):
            started.set()
            threading.Event().wait(0.01)
            yield event

    monkeypatch.setattr(evaluation, "evaluate", slow_evaluate)
    open_test_set(window)
    window.findChild(QPushButton, "evaluate_button").click()
    qtbot.waitUntil(started.is_set, timeout=MODEL_TIMEOUT_MS)
    assert window.test_set_view.is_running()
    qtbot.mouseClick(window.findChild(QPushButton, "evaluate_stop_button"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.test_set_view.is_running(), timeout=10_000)
    assert window.test_set_view.shown_evaluation() is None
    assert "stopped" in window.statusBar().currentMessage()
    assert window.findChild(QPushButton, "evaluate_button").isEnabled()
