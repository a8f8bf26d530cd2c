"""Issue 5's structural guards: what keeps the window responsive, checked by structure, never by time.

The timings themselves are benchmarks (tests/bench/gui_latency.py, tests/bench/startup.py).
Here: training progress reaches the plot as a few coalesced updates carrying every loss
point, through items made once; predictions on the GUI thread run under inference_mode
with one torch thread while the trainer keeps its own count; the big one-off loads run
with the garbage collector paused and leave their objects frozen; the start-up warm-up
leaves nothing for the first stroke to import; an image is converted to float only where
the ink can be; a new prediction repaints without laying out the window; the window is
painted before torch has loaded; and no GUI module imports torch when it is imported.
"""

from __future__ import annotations

import gc
import json
import pkgutil
import threading

import numpy as np
import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

import digitpad.gui
from digitpad.gui import collector
from digitpad.gui.worker import TrainingWorker

from . import worker_fakes as fakes
from .conftest import TRAIN_TIMEOUT_MS, draw_stroke, run_on_thread, run_python, seven


# ------------------------------------------------------------- imports


def test_no_gui_module_imports_torch_when_imported(tmp_path):
    """Every module of digitpad.gui, found by listing the package (new ones are covered too)."""
    names = sorted(f"digitpad.gui.{m.name}" for m in pkgutil.iter_modules(digitpad.gui.__path__))
    assert "digitpad.gui.main_window" in names and "digitpad.gui.collector" in names
    result = run_python(
        f"""
        import importlib, sys
        for name in {names!r}:
            importlib.import_module(name)
        print("torch imported:", "torch" in sys.modules)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "torch imported: False" in result.stdout


def test_startup_trace_shows_the_window_painted_before_torch_is_loaded(tmp_path, test_model_path):
    """The start-up benchmark's hook, end to end: the order of the steps, not their times."""
    from digitpad import paths

    paths.set_current_model(test_model_path)
    trace = tmp_path / "trace.json"
    result = run_python(
        f"import sys; from digitpad.cli import main; sys.exit(main(['gui', '--trace-startup', {str(trace)!r}]))",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(trace.read_text())
    assert data["error"] is None
    marks = data["marks"]
    order = ["app_main", "window_checked", "window_shown", "window_painted", "torch_imported", "model_ready",
             "first_prediction"]
    assert sorted(marks, key=marks.get) == order


# ------------------------------------------------------------ threads


def test_canvas_predictions_run_in_inference_mode_on_one_torch_thread(window, qtbot, test_model_path):
    import torch

    torch.set_num_threads(2)  # as if something had changed this thread's count
    assert window.open_model(test_model_path)  # taking a model sets the GUI thread's count
    seen = []
    # The first layer, not the model: the classifier calls its logits, not its forward.
    layers = (torch.nn.Conv2d, torch.nn.Linear)
    first_layer = next(m for m in window.model().classifier.model.modules() if isinstance(m, layers))

    def record(_module, _inputs):
        seen.append((threading.current_thread() is threading.main_thread(),
                     torch.is_inference_mode_enabled(), torch.get_num_threads()))

    handle = first_layer.register_forward_pre_hook(record)
    try:
        with qtbot.waitSignal(window.prediction_updated, timeout=10_000):
            draw_stroke(window.canvas, seven(window.canvas))
    finally:
        handle.remove()
    assert seen and all(entry == (True, True, 1) for entry in seen), seen


def test_the_trainer_sets_its_own_thread_count_and_leaves_the_gui_threads_alone(qtbot):
    import torch

    from digitpad import training
    from digitpad.gui.model_loader import pin_torch_threads

    pin_torch_threads(1)  # as the window does when it takes a model
    seen = []

    def fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        seen.append(torch.get_num_threads())
        yield fakes.result(stopped=True)

    worker = TrainingWorker(training.TrainConfig(), None, fit=fit, load_data=fakes.fake_load)
    fakes.run_worker(qtbot, worker)
    assert seen == [training.training_threads(True)]
    assert torch.get_num_threads() == 1


def test_a_window_that_takes_a_model_pins_the_test_thread_to_one_torch_thread(window):
    import torch

    assert window.model() is not None
    assert torch.get_num_threads() == 1  # what the next test must not inherit


def test_the_test_after_it_starts_with_the_thread_count_the_tests_began_with(torch_threads_at_start):
    """Runs after the test above (tests run in file order): its teardown put the count back."""
    import torch

    if torch_threads_at_start == 1:
        pytest.skip("one torch thread to begin with: pinning the window to one changes nothing here")
    assert torch.get_num_threads() == torch_threads_at_start


# ---------------------------------------------------- garbage collector


def test_the_collector_pause_nests_across_threads_and_restores_the_collector():
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    inner_state = []

    def other_thread():
        with collector.paused_and_frozen():
            inner_state.append(gc.isenabled())

    with collector.paused_and_frozen():
        assert not gc.isenabled() and collector.is_paused()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert not gc.isenabled(), "the inner pause ended the outer one"
        kept = [object() for _ in range(10)]
    assert inner_state == [False]
    assert gc.isenabled() and not collector.is_paused()
    assert gc.get_freeze_count() > frozen_before
    assert kept

    gc.disable()
    try:
        with collector.paused_and_frozen():
            pass
        assert not gc.isenabled(), "a collector that was off must stay off"
    finally:
        gc.enable()


def test_startup_model_loading_runs_with_the_collector_paused(qtbot):
    from digitpad.gui.model_loader import ModelLoader

    states = []

    def load():
        states.append((gc.isenabled(), collector.is_paused()))
        raise ValueError("no model here")

    run_on_thread(qtbot, ModelLoader(load), "test-loader", 10_000)
    assert states == [(False, True)]
    assert gc.isenabled()


def test_training_imports_run_with_the_collector_paused(qtbot, monkeypatch):
    from digitpad import training
    from digitpad.data import DataError
    from digitpad.gui import worker as worker_module

    states = []
    real_limit_threads = worker_module.limit_threads_for_background_work

    def limit_threads():
        states.append((gc.isenabled(), collector.is_paused()))
        real_limit_threads()

    def no_data(root, download=False, progress=None, should_stop=None):
        raise DataError("no data in this test")

    monkeypatch.setattr(worker_module, "limit_threads_for_background_work", limit_threads)
    worker = TrainingWorker(training.TrainConfig(), None, load_data=no_data)
    recorder = fakes.run_worker(qtbot, worker)
    assert states == [(False, True)]
    assert gc.isenabled()
    assert recorder.kinds() == ["data_failed"]


# ------------------------------------------------------ progress and plot


@pytest.mark.slow
def test_a_burst_of_batch_progress_reaches_the_plot_as_few_updates_with_every_point(
    window, qtbot, use_tiny_mnist, monkeypatch
):
    """3000 BatchProgress events through the Train button: a handful of coalesced plot
    updates (setData on the curves made once), and every loss point arrives, in order."""
    from digitpad import data, training

    steps = 3000

    def burst_fit(config, mnist, should_stop=None, initial_state=None, initial_history=None):
        for step in range(1, steps + 1):
            yield fakes.progress(step, steps)
        yield training.TrainingResult(config.model, config, {}, {"train_step": []}, float("nan"),
                                      float("nan"), True, 1.0)

    monkeypatch.setattr(training, "fit", burst_fit)
    monkeypatch.setattr(data, "load_mnist", fakes.fake_load)

    plot = window.training_panel.metrics_plot
    items_before = list(plot.getPlotItem().items)
    curve = plot.train_curve
    received: list[int] = []
    updates = {"add": 0, "setData": 0}
    real_add, real_set_data = plot.add_train_points, curve.setData

    def add_train_points(steps_, losses):
        updates["add"] += 1
        received.extend(steps_)
        real_add(steps_, losses)

    def set_data(*args, **kwargs):
        updates["setData"] += 1
        return real_set_data(*args, **kwargs)

    monkeypatch.setattr(plot, "add_train_points", add_train_points)
    monkeypatch.setattr(curve, "setData", set_data)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        window.training_panel.train_button.click()
    assert received == list(range(1, steps + 1))
    assert 1 <= updates["add"] < 100
    assert updates["setData"] < 150
    assert plot.train_curve is curve
    assert plot.getPlotItem().items == items_before


# ----------------------------------------------------------- prediction


def test_a_new_prediction_repaints_without_laying_out_the_window(window, qtbot):
    """The answer labels have fixed sizes, and the digit's colour is a palette, not a style sheet:
    new texts and colours then cost a repaint, not a layout pass over the whole window."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    from digitpad.inference import Prediction

    class LayoutSpy(QObject):
        requests = 0

        def eventFilter(self, _watched, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.LayoutRequest:
                LayoutSpy.requests += 1
            return False

    def prediction(digit: int, confidence: float) -> Prediction:
        probabilities = np.full(10, (1.0 - confidence) / 9)
        probabilities[digit] = confidence
        return Prediction(digit, confidence, probabilities, np.zeros((28, 28), np.float32))

    window.show_prediction(prediction(3, 0.999))
    # Layout passes still pending from the model's arrival (each nested layout posts the next) end first.
    qtbot.wait(100)
    spy = LayoutSpy()
    QApplication.instance().installEventFilter(spy)
    try:
        for shown in (prediction(5, 0.6), prediction(8, 0.991), None, prediction(1, 0.7)):
            window.show_prediction(shown)
            QApplication.processEvents()
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert LayoutSpy.requests == 0
    assert window.prediction_label.styleSheet() == ""


def test_a_new_prediction_repaints_the_answer_not_the_group_box_behind_it(window, qtbot):
    """The answer sits on an opaque card: Qt then repaints the card under a changed label, not
    the group box's frame (half a millisecond a stroke)."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication, QGroupBox

    card = window.findChild(QWidget, "answer_card")
    assert card.autoFillBackground()
    assert card.isAncestorOf(window.prediction_label) and card.isAncestorOf(window.confidence_label)
    assert card.isAncestorOf(window.preview)
    group = card.parentWidget()
    assert isinstance(group, QGroupBox)

    class PaintSpy(QObject):
        painted: list = []

        def eventFilter(self, watched, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                PaintSpy.painted.append(watched)
            return False

    draw_stroke(window.canvas, seven(window.canvas))
    # The first layout and paint passes after start-up end first (nested layouts take several).
    qtbot.wait(200)
    spy = PaintSpy()
    group.installEventFilter(spy)
    card.installEventFilter(spy)
    try:
        window.canvas.clear()
        draw_stroke(window.canvas, seven(window.canvas, steps=20))
        QApplication.processEvents()
    finally:
        group.removeEventFilter(spy)
        card.removeEventFilter(spy)
    assert card in PaintSpy.painted, "the answer changed, so its card was repainted"
    assert group not in PaintSpy.painted


def test_after_the_start_up_warm_up_a_first_stroke_imports_nothing(tmp_path, test_model_path):
    """The loader thread's warm-up takes the canvas's path, so its lazy imports are not paid on the GUI thread."""
    result = run_python(
        f"""
        import sys
        from digitpad.gui.model_loader import load_model_file, warm_up
        from digitpad.strokes import Stroke
        model = load_model_file({str(test_model_path)!r})
        warm_up(model.classifier)
        before = set(sys.modules)
        model.classifier.predict_strokes([Stroke(0.08, [(-0.2, -0.3), (0.2, -0.3), (0.0, 0.3)])])
        print(sorted(set(sys.modules) - before))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -------------------------------------------------------- preprocessing


def test_an_image_is_converted_to_float_only_where_the_ink_can_be(monkeypatch):
    from digitpad import preprocess

    canvas = np.zeros((600, 600), dtype=np.uint8)
    canvas[200:320, 280:300] = 255  # a "1", 120 x 20 px
    converted = []
    real = preprocess.to_grayscale

    def to_grayscale(image):
        converted.append(np.asarray(image).shape)
        return real(image)

    monkeypatch.setattr(preprocess, "to_grayscale", to_grayscale)
    result = preprocess.to_mnist_image(canvas, light_ink=True)
    assert result is not None
    big = [shape for shape in converted if shape[0] * shape[1] > 2 * 120 * 20 + 1000]
    assert not big, f"converted more than the ink's box: {converted}"


@pytest.mark.parametrize("light_ink", [True, False])
def test_converting_only_the_ink_window_changes_no_result(light_ink):
    """Against the plain path (whole image to float, cropped with NumPy), bit for bit, on varied
    images: 8-bit ones (looked up per pixel value), a trailing channel axis, and 16-bit ones
    (converted per pixel)."""
    from PIL import Image

    from digitpad import preprocess

    def plain(image):
        ink = preprocess.ink_map(preprocess.to_grayscale(image), light_ink)
        if not ink.any():
            return None
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        cropped = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
        height, width = cropped.shape
        scale = preprocess.DIGIT_BOX / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        digit = np.clip(np.asarray(Image.fromarray(cropped).resize(size, Image.Resampling.BILINEAR)), 0.0, 1.0)
        return None if digit.sum() <= 0 else preprocess._place_by_centre_of_mass(digit)

    rng = np.random.default_rng(5)
    for trial in range(300):
        height, width = (int(v) for v in rng.integers(3, 160, size=2))
        image = rng.integers(0, 40, size=(height, width)).astype(np.uint8)
        top, left = int(rng.integers(0, height)), int(rng.integers(0, width))
        image[top : top + int(rng.integers(1, 50)), left : left + int(rng.integers(1, 50))] = rng.integers(40, 256)
        if trial % 3 == 0:
            image = rng.integers(0, 256, size=(height, width)).astype(np.uint8)
        if not light_ink:
            image = 255 - image
        for candidate in (image, image[:, :, None], image.astype(np.uint16) * 257):
            fast, reference = preprocess.to_mnist_image(candidate, light_ink), plain(candidate)
            assert (fast is None) == (reference is None), trial
            if fast is not None:
                assert np.array_equal(fast, reference), trial
