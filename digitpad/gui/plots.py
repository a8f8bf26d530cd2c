"""pyqtgraph widgets: the ten probability bars and the live training curves.

Every plot item is created once; updates go through setOpts / setData so a
redraw never rebuilds the scene.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSimpleTextItem, QWidget

HIGHLIGHT_COLOR = QColor(33, 118, 204)
UNSURE_COLOR = QColor(204, 110, 0)  # 3.6:1 on white: the large "7?" stays readable
TRAIN_LOSS_COLOR = QColor(33, 118, 204)
VAL_LOSS_COLOR = QColor(214, 80, 60)
VAL_ACC_COLOR = QColor(40, 150, 80)
PLACEHOLDER_COLOR = QColor(150, 150, 150)
# Written upwards beside the line, on its right (the taught side), from near the bottom.
TAUGHT_LABEL_OPTIONS = {"position": 0.1, "anchors": [(0, 0), (0, 0)], "rotateAxis": (1, 0), "color": PLACEHOLDER_COLOR}
LABEL_GAP_PIXELS = 2  # between a bar's top and its percentage


@dataclass(frozen=True)
class CardColors:
    """The cards that hold the answer, the bars and the curves: their paper, text and plain bars."""

    background: QColor
    foreground: QColor
    bar: QColor


LIGHT_CARD = CardColors(QColor(255, 255, 255), QColor(70, 70, 70), QColor(176, 190, 205))
# The highlight, unsure and curve colours keep at least 3.5:1 on this paper too.
DARK_CARD = CardColors(QColor(30, 32, 36), QColor(220, 220, 220), QColor(100, 114, 132))


def card_colors(palette: QPalette) -> CardColors:
    """White cards in a light theme, near-black ones in a dark theme, so they never glare."""
    return DARK_CARD if palette.color(QPalette.ColorRole.Window).lightness() < 128 else LIGHT_CARD


class _CardPlot(pg.PlotWidget):
    """A still plot (no mouse, menu or buttons) on a card whose colours follow the theme.

    Subclasses paint their own parts in ``_paint``, and call ``set_card_colors`` once built.
    """

    _colors: CardColors | None = None  # None while pyqtgraph builds the widget

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)

    def _paint(self, colors: CardColors) -> None:
        raise NotImplementedError

    def set_card_colors(self, colors: CardColors) -> None:
        """Repaint in ``colors`` (the theme changed); what the plot shows stays."""
        if colors == self._colors:
            return
        self._colors = colors
        self.setBackground(colors.background)
        self._paint(colors)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._colors is not None:
            self.set_card_colors(card_colors(self.palette()))

    def card_background(self) -> QColor:
        return QColor(self._colors.background)


class _BarsInAFixedBox(pg.BarGraphItem):
    """Bars whose heights stay within 0..1, in a plot whose range never moves.

    pyqtgraph works out a bar chart's bounding box from its data, padded by a
    pixel measured through the view's transform, several times per repaint. A
    box fixed once, around every bar at full height, holds whatever the bars show.
    """

    BOX = QRectF(-0.5, -0.02, 10.0, 1.04)  # x: ten bars of width < 1 centred on 0..9; y: 0..1 and a margin

    def boundingRect(self) -> QRectF:
        return QRectF(self.BOX)


class ProbabilityBars(_CardPlot):
    """Ten bars, one per digit, labelled with their percentage."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        colors = card_colors(self.palette())
        self.setObjectName("probabilities")
        self.setAccessibleName("Probabilities for digits 0 to 9")
        plot = self.getPlotItem()
        plot.hideAxis("left")
        bottom = plot.getAxis("bottom")
        bottom.setTicks([[(d, str(d)) for d in range(10)]])
        font = QFont()
        font.setPointSize(11)
        font.setBold(True)
        bottom.setStyle(tickFont=font, tickLength=0)
        # The digits under the bars never change, but each new prediction repaints
        # the area around them: keep the axis as a pixmap instead of redrawing its text.
        bottom.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.setXRange(-0.6, 9.6, padding=0)
        # Headroom above a full bar for its label.
        plot.setYRange(0, 1.2, padding=0)

        self._values = np.zeros(10)
        self._highlight: int | None = None
        self._unsure = False
        self._bar_brush = pg.mkBrush(colors.bar)
        self._answer_brushes = {False: pg.mkBrush(HIGHLIGHT_COLOR), True: pg.mkBrush(UNSURE_COLOR)}
        self._bars = _BarsInAFixedBox(
            x=np.arange(10), height=self._values, width=0.72, brushes=self._brush_list(), pen=pg.mkPen(None)
        )
        plot.addItem(self._bars)
        label_font = QFont()
        label_font.setPointSize(8)
        self._label_metrics = QFontMetricsF(label_font)
        self._labels: list[QGraphicsSimpleTextItem] = []
        for digit in range(10):
            # Plain Qt text items, not pyqtgraph TextItems: a TextItem lays out a
            # text document and follows the view's transforms through signals, which
            # made setting ten labels cost twice the bars themselves. Ignoring the
            # view's transform keeps the text unscaled and upright; each label is
            # centred above its bar by its own offset (see _set_label_text).
            label = QGraphicsSimpleTextItem("")
            label.setFont(label_font)
            label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            label.setPos(digit, 0)
            plot.addItem(label, ignoreBounds=True)
            self._labels.append(label)
        # A prediction changes few labels: only those are set. Empty bars hide the
        # labels rather than blank them, so the next drawing's first prediction
        # again changes only the labels that differ.
        self._labels_shown = True
        # Bars too narrow for their labels side by side (a small chart) label only the ones above 0 %.
        self._crowded = False
        plot.vb.sigResized.connect(self._on_view_resized)
        self.set_card_colors(colors)

    def _on_view_resized(self) -> None:
        bar_pixels = self.getPlotItem().vb.width() / 10.2  # the x range is -0.6 .. 9.6
        crowded = bar_pixels < self._label_metrics.horizontalAdvance("00%") + 2  # two-digit neighbours touch
        if crowded != self._crowded:
            self._crowded = crowded
            self._fit_labels_to_room()

    def _paint(self, colors: CardColors) -> None:
        bottom = self.getPlotItem().getAxis("bottom")
        bottom.setPen(colors.foreground)
        bottom.setTextPen(colors.foreground)
        for label in self._labels:
            label.setBrush(colors.foreground)
        self._bar_brush = pg.mkBrush(colors.bar)
        self._bars.setOpts(brushes=self._brush_list())

    def _brush_list(self) -> list:
        brushes = [self._bar_brush] * 10
        if self._highlight is not None:
            brushes[self._highlight] = self._answer_brushes[self._unsure]
        return brushes

    def values(self) -> np.ndarray:
        return self._values.copy()

    def set_probabilities(self, probabilities: Sequence[float] | None, highlight: int | None = None, unsure: bool = False) -> None:
        """Show ``probabilities`` (0..1); ``None`` empties the bars."""
        if probabilities is None:
            self._values = np.zeros(10)
            self._highlight, self._unsure = None, False
            self._bars.setOpts(height=self._values, brushes=self._brush_list())
            self._show_labels(False)
            return
        self._values = np.clip(np.asarray(probabilities, dtype=float).reshape(10), 0.0, 1.0)
        self._highlight, self._unsure = highlight, unsure
        self._bars.setOpts(height=self._values, brushes=self._brush_list())
        for digit, (label, value) in enumerate(zip(self._labels, self._values)):
            text = f"{value * 100:.0f}%"
            if text != label.text():
                self._set_label_text(label, text)
            height = float(value) + 0.02
            if abs(height - label.y()) > 1e-3:  # a thousandth of the axis: under a pixel
                label.setPos(digit, height)
        self._show_labels(True)
        if self._crowded:
            self._fit_labels_to_room()

    def _fit_labels_to_room(self) -> None:
        if not self._labels_shown:
            return
        for label in self._labels:
            shown = not (self._crowded and label.text() == "0%")
            if shown != label.isVisible():
                label.setVisible(shown)

    def _set_label_text(self, label: QGraphicsSimpleTextItem, text: str) -> None:
        label.setText(text)
        # In pixels, since the label ignores the view's transform: centred on its
        # bar, its baseline a little above the bar's top.
        width = self._label_metrics.horizontalAdvance(text)
        label.setTransform(QTransform.fromTranslate(-width / 2, -self._label_metrics.height() - LABEL_GAP_PIXELS))

    def _show_labels(self, shown: bool) -> None:
        if shown != self._labels_shown:
            for label in self._labels:
                label.setVisible(shown)
            self._labels_shown = shown

    def label_texts(self) -> list[str]:
        """What the ten labels show ("" where hidden)."""
        return [label.text() if label.isVisible() else "" for label in self._labels]


class MetricsPlot(_CardPlot):
    """Training loss, validation loss (left axis) and validation accuracy % (right axis) against epochs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metrics_plot")
        self.setAccessibleName("Training curves")
        plot = self.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "loss")
        plot.showAxis("right")
        plot.setLabel("right", "accuracy", units="%")
        # Plain numbers on every axis: a short run's "epoch (x0.001)" with ticks 0 to 400 reads as nonsense.
        for side in ("bottom", "left", "right"):
            plot.getAxis(side).enableAutoSIPrefix(False)

        # A coloured title row instead of a legend: a legend box would cover the
        # curves. Kept short, since a title wider than the plot pushes the right axis out.
        plot.setTitle(
            f"<span style='color:{TRAIN_LOSS_COLOR.name()}'>━ training loss</span>&nbsp;&nbsp;"
            f"<span style='color:{VAL_LOSS_COLOR.name()}'>● validation loss</span>&nbsp;&nbsp;"
            f"<span style='color:{VAL_ACC_COLOR.name()}'>■ accuracy</span>",
            size="9pt",
        )
        plot.titleLabel.setMinimumWidth(0)
        self.train_curve = plot.plot(pen=pg.mkPen(TRAIN_LOSS_COLOR, width=1.5))
        self.val_loss_curve = plot.plot(
            pen=pg.mkPen(VAL_LOSS_COLOR, width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=VAL_LOSS_COLOR,
            symbolPen=None,
        )
        # Accuracy gets its own view box so its % scale sits on the right axis.
        self._acc_view = pg.ViewBox(enableMenu=False)
        self._acc_view.setMouseEnabled(x=False, y=False)
        plot.scene().addItem(self._acc_view)
        plot.getAxis("right").linkToView(self._acc_view)
        self._acc_view.setXLink(plot)
        self.val_acc_curve = pg.PlotDataItem(
            pen=pg.mkPen(VAL_ACC_COLOR, width=2, style=Qt.PenStyle.DashLine),
            symbol="s",
            symbolSize=6,
            symbolBrush=VAL_ACC_COLOR,
            symbolPen=None,
        )
        self._acc_view.addItem(self.val_acc_curve)
        plot.vb.sigResized.connect(self._sync_views)

        # Where each teaching run began; its validation points are on the person's held-out drawings.
        self._taught_lines: list[pg.InfiniteLine] = []

        self._placeholder = pg.TextItem("Press Train to see loss and accuracy here", color=PLACEHOLDER_COLOR, anchor=(0.5, 0.5))
        plot.addItem(self._placeholder, ignoreBounds=True)
        self.set_card_colors(card_colors(self.palette()))
        self._steps_per_epoch = 1
        self._epochs_total = 0
        self._train_steps: list[int] = []
        self._train_losses: list[float] = []
        self._val_steps: list[int] = []
        self._val_losses: list[float] = []
        self._val_acc: list[float] = []
        self._taught_steps: list[int] = []
        self.reset()

    def _paint(self, colors: CardColors) -> None:
        for name in ("left", "bottom", "right"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(colors.foreground)
            axis.setTextPen(colors.foreground)

    def _sync_views(self) -> None:
        self._acc_view.setGeometry(self.getPlotItem().vb.sceneBoundingRect())

    # ------------------------------------------------------------------- data

    def reset(self, steps_per_epoch: int = 1, epochs: int = 0) -> None:
        self._steps_per_epoch = max(1, int(steps_per_epoch))
        self._epochs_total = max(0, int(epochs))
        self._train_steps.clear()
        self._train_losses.clear()
        self._val_steps.clear()
        self._val_losses.clear()
        self._val_acc.clear()
        self._taught_steps.clear()
        self._refresh()

    def mark_teaching(self, step: int) -> None:
        """A teaching run begins at ``step``: from there on, validation is on the person's drawings."""
        self._taught_steps.append(int(step))
        self._refresh()

    def taught_steps(self) -> list[int]:
        return list(self._taught_steps)

    def _place_taught_lines(self, shown: bool) -> None:
        plot = self.getPlotItem()
        while len(self._taught_lines) > len(self._taught_steps):
            plot.removeItem(self._taught_lines.pop())
        while len(self._taught_lines) < len(self._taught_steps):
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen(PLACEHOLDER_COLOR, width=1, style=Qt.PenStyle.DashLine),
                                   label="taught: validation on your drawings", labelOpts=TAUGHT_LABEL_OPTIONS)
            plot.addItem(line, ignoreBounds=True)
            self._taught_lines.append(line)
        for line, step in zip(self._taught_lines, self._taught_steps):
            line.setValue(step / self._steps_per_epoch)
            line.setVisible(shown)  # not over the empty plot's "Press Train" line

    def set_run_length(self, steps_per_epoch: int, epochs: int) -> None:
        """Fix the x axis to the whole run, so curves grow left to right without rescaling."""
        steps_per_epoch, epochs = max(1, int(steps_per_epoch)), max(0, int(epochs))
        if (steps_per_epoch, epochs) != (self._steps_per_epoch, self._epochs_total):
            self._steps_per_epoch, self._epochs_total = steps_per_epoch, epochs
            self._refresh()

    def add_train_points(self, steps: Sequence[int], losses: Sequence[float]) -> None:
        if not steps:
            return
        self._train_steps.extend(int(s) for s in steps)
        self._train_losses.extend(float(v) for v in losses)
        self._refresh()

    def add_validation(self, step: int, loss: float, accuracy: float) -> None:
        """``accuracy`` in 0..1; shown in %."""
        self._val_steps.append(int(step))
        self._val_losses.append(float(loss))
        self._val_acc.append(float(accuracy) * 100.0)
        self._refresh()

    def set_history(self, history: dict | None) -> None:
        """Show a finished run's curves (a checkpoint's history)."""
        history = history or {}
        self.reset(int(history.get("steps_per_epoch") or 1), 0)
        self._train_steps.extend(int(s) for s in history.get("train_step", []))
        self._train_losses.extend(float(v) for v in history.get("train_loss", []))
        self._val_steps.extend(int(s) for s in history.get("val_step", []))
        self._val_losses.extend(float(v) for v in history.get("val_loss", []))
        self._val_acc.extend(float(v) * 100.0 for v in history.get("val_accuracy", []))
        self._taught_steps.extend(int(s) for s in history.get("taught_step", []))
        self._refresh()

    def point_counts(self) -> tuple[int, int, int]:
        """How many points each curve holds: (training loss, validation loss, validation accuracy)."""
        return (len(self._train_losses), len(self._val_losses), len(self._val_acc))

    def _epochs(self, steps: list[int]) -> np.ndarray:
        return np.asarray(steps, dtype=float) / self._steps_per_epoch

    def _refresh(self) -> None:
        n_train = min(len(self._train_steps), len(self._train_losses))
        n_val = min(len(self._val_steps), len(self._val_losses), len(self._val_acc))
        self.train_curve.setData(self._epochs(self._train_steps[:n_train]), np.asarray(self._train_losses[:n_train]))
        self.val_loss_curve.setData(self._epochs(self._val_steps[:n_val]), np.asarray(self._val_losses[:n_val]))
        self.val_acc_curve.setData(self._epochs(self._val_steps[:n_val]), np.asarray(self._val_acc[:n_val]))
        empty = n_train == 0 and n_val == 0
        self._place_taught_lines(shown=not empty)
        self._placeholder.setVisible(empty)
        plot = self.getPlotItem()
        if empty:
            plot.setXRange(0, 1, padding=0.02)
            plot.setYRange(0, 1, padding=0.02)
            self._acc_view.setYRange(0, 100, padding=0.02)
            self._placeholder.setPos(0.5, 0.5)
            return
        last = max(self._train_steps[:n_train] + self._val_steps[:n_val]) / self._steps_per_epoch
        plot.setXRange(0, max(self._epochs_total, last, 0.05), padding=0.02)
        plot.enableAutoRange(axis=pg.ViewBox.YAxis)
        if n_val:
            # Accuracy: from just below the worst point up to 100 %, in steps of 5.
            low = max(0.0, 5.0 * np.floor((min(self._val_acc[:n_val]) - 1.0) / 5.0))
            self._acc_view.setYRange(low, 100.0, padding=0.02)
