"""The plot widgets: the bars only store and repaint; the curves' items are created once and only updated
(structural speed guards)."""

from __future__ import annotations

import numpy as np
import pytest

from digitpad.gui.plots import HIGHLIGHT_COLOR, MetricsPlot, ProbabilityBars


@pytest.fixture
def bars(qtbot):
    widget = ProbabilityBars()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def metrics(qtbot):
    widget = MetricsPlot()
    qtbot.addWidget(widget)
    return widget


def test_bars_show_probabilities_and_highlight_the_top_one(bars):
    probabilities = np.full(10, 0.02)
    probabilities[3] = 0.82
    bars.set_probabilities(probabilities, highlight=3)
    assert bars.values() == pytest.approx(probabilities)
    assert bars.label_text(3) == "82%"
    assert bars.bar_color(3) != bars.bar_color(0)
    bars.set_probabilities(probabilities, highlight=3, unsure=True)
    assert bars.bar_color(3) not in (bars.bar_color(0), HIGHLIGHT_COLOR)
    bars.set_probabilities(None)
    assert bars.values().sum() == 0
    assert bars.label_text(3) == ""
    assert bars.bar_color(3) == bars.bar_color(0)


def test_bars_update_without_making_objects_and_paint(bars, qtbot):
    """An update only stores the values and asks for a repaint (structure, not time)."""
    bars.resize(290, 220)
    bars.show()
    qtbot.waitExposed(bars)
    children_before = bars.children()
    for k in range(200):
        probabilities = np.random.default_rng(k).dirichlet(np.ones(10))
        bars.set_probabilities(probabilities, highlight=int(probabilities.argmax()))
    assert bars.children() == children_before
    image = bars.grab().toImage()
    highlighted = int(probabilities.argmax())
    # The highlighted bar is drawn in its colour, at its height.
    slot = bars.width() / 10.2
    column = int((highlighted + 0.6) * slot)
    colours = {image.pixelColor(column, y).name() for y in range(image.height())}
    assert HIGHLIGHT_COLOR.name() in colours


def test_metrics_plot_grows_its_curves_in_place(metrics):
    curves = (metrics.train_curve, metrics.val_loss_curve, metrics.val_acc_curve)
    items_before = list(metrics.getPlotItem().items)
    metrics.reset(steps_per_epoch=100, epochs=3)
    for step in range(20, 301, 20):
        metrics.add_train_points([step], [1.0 / step])
        if step % 100 == 0:
            metrics.add_validation(step, 0.1, 0.9 + step / 10_000)
    assert metrics.point_counts() == (15, 3, 3)
    assert (metrics.train_curve, metrics.val_loss_curve, metrics.val_acc_curve) == curves
    assert metrics.getPlotItem().items == items_before
    x, y = metrics.val_acc_curve.getData()
    assert list(x) == [1.0, 2.0, 3.0]  # epochs on the x axis
    assert y[-1] == pytest.approx(93.0)  # accuracy in %


def test_metrics_plot_shows_a_saved_history(metrics):
    history = {
        "train_step": [10, 20, 30],
        "train_loss": [2.0, 1.0, 0.5],
        "val_step": [30],
        "val_loss": [0.4],
        "val_accuracy": [0.95],
        "steps_per_epoch": 30,
    }
    metrics.set_history(history)
    assert metrics.point_counts() == (3, 1, 1)
    metrics.set_history({})
    assert metrics.point_counts() == (0, 0, 0)
