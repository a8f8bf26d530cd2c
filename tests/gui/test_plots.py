"""The pyqtgraph widgets: items are created once and only updated (a structural speed guard)."""

from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
import pytest

from digitpad.gui.plots import DARK_CARD, HIGHLIGHT_COLOR, LIGHT_CARD, UNSURE_COLOR, MetricsPlot, ProbabilityBars


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
    assert bars.label_texts()[3] == "82%" and bars.label_texts()[0] == "2%"
    brushes = bars._bars.opts["brushes"]
    assert brushes[3] != brushes[0]
    bars.set_probabilities(None)
    assert bars.values().sum() == 0
    assert bars.label_texts() == [""] * 10
    assert all(brush == brushes[0] for brush in bars._bars.opts["brushes"])
    bars.set_probabilities(probabilities[::-1], highlight=6)
    assert bars.label_texts()[6] == "82%" and bars.label_texts()[3] == "2%"


def _pixel_at(widget, x: float, y: float):
    """The colour drawn at the view's coordinates (x, y)."""
    point = widget.getPlotItem().vb.mapViewToScene(pg.Point(x, y))
    pixel = widget.mapFromScene(point)
    return widget.grab().toImage().pixelColor(pixel.x(), pixel.y())


def test_bars_too_narrow_for_every_label_show_only_those_above_zero(bars, qtbot):
    probabilities = np.zeros(10)
    probabilities[[4, 9]] = [0.91, 0.09]
    bars.resize(160, 160)  # the test-set view's small chart: "0%" labels would run into each other
    bars.show()
    qtbot.waitExposed(bars)
    bars.set_probabilities(probabilities, highlight=4)
    assert bars.label_texts() == ["", "", "", "", "91%", "", "", "", "", "9%"]
    probabilities[[4, 0]] = [0.86, 0.05]
    bars.set_probabilities(probabilities, highlight=4)
    assert bars.label_texts() == ["5%", "", "", "", "86%", "", "", "", "", "9%"]
    bars.resize(600, 300)  # room again: every bar has its label
    qtbot.waitUntil(lambda: bars.label_texts()[1] == "0%")
    assert bars.label_texts() == ["5%", "0%", "0%", "0%", "86%", "0%", "0%", "0%", "0%", "9%"]


def test_bars_repainted_for_a_dark_theme_keep_their_answer(bars):
    bars.resize(300, 300)
    bars.show()
    probabilities = np.full(10, 0.02)
    probabilities[[3, 5]] = [0.6, 0.24]
    bars.set_probabilities(probabilities, highlight=3, unsure=True)
    assert _pixel_at(bars, 3, 0.3) == UNSURE_COLOR
    assert _pixel_at(bars, 5, 0.1) == LIGHT_CARD.bar
    assert _pixel_at(bars, 8, 0.9) == LIGHT_CARD.background
    bars.set_card_colors(DARK_CARD)
    assert _pixel_at(bars, 3, 0.3) == UNSURE_COLOR
    assert _pixel_at(bars, 5, 0.1) == DARK_CARD.bar
    assert _pixel_at(bars, 8, 0.9) == DARK_CARD.background
    assert bars.label_texts()[3] == "60%"
    bars.set_probabilities(probabilities, highlight=3)
    assert _pixel_at(bars, 3, 0.3) == HIGHLIGHT_COLOR


def test_empty_bars_keep_their_labels_texts_so_the_next_prediction_changes_few(bars, monkeypatch):
    first = np.full(10, 0.01)
    first[7] = 0.91
    bars.set_probabilities(first, highlight=7)
    bars.set_probabilities(None)
    changed = []
    for label in bars._labels:
        monkeypatch.setattr(label, "setText", lambda text, label=label: changed.append(text))
    second = first.copy()
    second[[7, 1]] = 0.46
    bars.set_probabilities(second, highlight=7)
    assert sorted(changed) == ["46%", "46%"]


def test_bars_reuse_their_items(bars):
    items_before = list(bars.getPlotItem().items)
    for k in range(200):
        probabilities = np.random.default_rng(k).dirichlet(np.ones(10))
        bars.set_probabilities(probabilities, highlight=int(probabilities.argmax()))
    assert bars.getPlotItem().items == items_before


def test_bars_repaint_cheaply(bars):
    """The fixed axis is kept as a pixmap, and the labels' moves are not reported to the view."""
    from PySide6.QtWidgets import QGraphicsItem

    axis = bars.getPlotItem().getAxis("bottom")
    assert axis.cacheMode() == QGraphicsItem.CacheMode.DeviceCoordinateCache
    reports = QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
    assert not any(label.flags() & reports for label in bars._labels)


def test_each_label_sits_centred_just_above_its_bar_at_any_size(bars):
    """The labels are plain Qt text items that ignore the view's transform, placed by their own
    offset: whatever the widget's size, each stays centred over its bar and just above its top."""
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    bars.show()
    view = bars.getPlotItem().getViewBox()
    rng = np.random.default_rng(2)
    for size in ((286, 378), (200, 250), (420, 600), (160, 130)):
        probabilities = rng.dirichlet(np.full(10, 0.3))
        bars.resize(*size)
        bars.set_probabilities(probabilities, highlight=int(probabilities.argmax()))
        QApplication.processEvents()
        on_screen = bars.viewportTransform()
        for digit, (label, value) in enumerate(zip(bars._labels, probabilities)):
            # Where the label and the bar's top land in the widget, in pixels.
            box = label.deviceTransform(on_screen).mapRect(label.boundingRect())
            bar_top = on_screen.map(view.mapViewToScene(QPointF(digit, float(value))))
            assert abs(box.center().x() - bar_top.x()) <= 1.0, (size, digit)
            assert bar_top.y() - 12 <= box.bottom() <= bar_top.y(), (size, digit, box, bar_top)
            assert 8 <= box.height() <= 20  # its own font size, not scaled by the view


def test_the_bars_fixed_box_holds_every_bar_and_they_look_as_pyqtgraphs_own(bars, qtbot, monkeypatch):
    """The bars report a fixed bounding box instead of pyqtgraph's per-paint one: it must hold
    every bar at any height, and the picture must be pixel for pixel pyqtgraph's."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from digitpad.gui import plots

    fixed = bars  # built before the patch below
    monkeypatch.setattr(plots, "_BarsInAFixedBox", pg.BarGraphItem)
    plain = ProbabilityBars()
    assert type(plain._bars) is pg.BarGraphItem and type(fixed._bars) is not pg.BarGraphItem

    box = fixed._bars.boundingRect()
    fixed.set_probabilities(np.ones(10))
    half_width = fixed._bars.opts["width"] / 2
    for x in fixed._bars.opts["x"]:
        assert box.left() < x - half_width and x + half_width < box.right()
    assert box.top() < 0.0 and 1.0 < box.bottom()

    qtbot.addWidget(plain)
    for widget in (fixed, plain):
        widget.resize(300, 240)
        widget.show()
    rng = np.random.default_rng(4)
    for _ in range(5):
        probabilities = rng.dirichlet(np.full(10, 0.3))
        for widget in (fixed, plain):
            widget.set_probabilities(probabilities, highlight=int(probabilities.argmax()))
        QApplication.processEvents()
        assert fixed.grab().toImage() == plain.grab().toImage()


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


def test_a_short_run_keeps_plain_axis_labels(metrics, qtbot):
    metrics.resize(400, 400)
    metrics.show()
    qtbot.waitExposed(metrics)
    metrics.set_history({"steps_per_epoch": 430, "train_step": [20, 200], "train_loss": [0.002, 0.001]})
    for side, name in (("bottom", "epoch"), ("left", "loss")):
        label = metrics.getPlotItem().getAxis(side).labelString()
        assert re.search(rf">{name} *</span>", label), label  # no "(x0.001)" after it


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
