"""The Draw group: the square canvas with its tool row (pen width, Undo, Clear) under it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget

from digitpad.gui.canvas import DEFAULT_PEN_WIDTH, MAX_PEN_WIDTH, MIN_PEN_WIDTH, DrawingCanvas

# The slider works in thousandths of the canvas's side.
_SLIDER_SCALE = 1000


class SquareFrame(QWidget):
    """Keeps the canvas square, with its tool row right under it, centred as one block."""

    SPACING = 6

    def __init__(self, canvas: QWidget, footer: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._footer = footer
        canvas.setParent(self)
        footer.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _footer_height(self) -> int:
        return self._footer.sizeHint().height()

    def sizeHint(self) -> QSize:
        hint = self._canvas.sizeHint()
        return QSize(hint.width(), hint.height() + self.SPACING + self._footer_height())

    def minimumSizeHint(self) -> QSize:
        minimum = self._canvas.minimumSize()
        width = max(minimum.width(), self._footer.minimumSizeHint().width())
        return QSize(width, minimum.height() + self.SPACING + self._footer_height())

    def resizeEvent(self, event) -> None:
        footer_height = self._footer_height()
        side = max(1, min(self.width(), self.height() - footer_height - self.SPACING))
        left = (self.width() - side) // 2
        top = max(0, (self.height() - side - self.SPACING - footer_height) // 2)
        self._canvas.setGeometry(left, top, side, side)
        self._footer.setGeometry(left, top + side + self.SPACING, side, footer_height)
        super().resizeEvent(event)


class DrawPanel(QGroupBox):
    """The canvas and the tools that change it; Undo and Clear are enabled only when there is ink."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Draw", parent)
        layout = QVBoxLayout(self)
        self.canvas = DrawingCanvas()

        footer = QWidget()
        tools = QHBoxLayout(footer)
        tools.setContentsMargins(0, 0, 0, 0)
        pen_label = QLabel("Pen")
        self.pen_slider = QSlider(Qt.Orientation.Horizontal)
        self.pen_slider.setObjectName("pen_width")
        self.pen_slider.setAccessibleName("Pen width")
        self.pen_slider.setRange(round(MIN_PEN_WIDTH * _SLIDER_SCALE), round(MAX_PEN_WIDTH * _SLIDER_SCALE))
        self.pen_slider.setValue(round(DEFAULT_PEN_WIDTH * _SLIDER_SCALE))
        # Room to pick a width even in the smallest window: the draw column grows rather than the slider shrinking away.
        self.pen_slider.setMinimumWidth(90)
        self.pen_slider.setToolTip("Pen width for new strokes (the model sees every stroke with the same pen)")
        self.pen_slider.valueChanged.connect(self._on_pen_width_changed)
        pen_label.setBuddy(self.pen_slider)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("undo_button")
        self.undo_button.setToolTip("Remove the last stroke (Ctrl+Z)")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clear_button")
        self.clear_button.setToolTip("Clear the canvas (Esc or Delete)")
        tools.addWidget(pen_label)
        tools.addWidget(self.pen_slider, 1)
        tools.addSpacing(12)
        tools.addWidget(self.undo_button)
        tools.addWidget(self.clear_button)
        layout.addWidget(SquareFrame(self.canvas, footer, self), 1)

        self.undo_button.clicked.connect(self.canvas.undo)
        self.clear_button.clicked.connect(self.canvas.clear)
        # Enabled as a stroke starts, not when it ends: the buttons' repaint then
        # stays out of the way of the finished stroke's prediction.
        self.canvas.stroke_started.connect(self.update_edit_buttons)
        self.canvas.stroke_undone.connect(self.update_edit_buttons)
        self.canvas.cleared.connect(self.update_edit_buttons)
        self.canvas.strokes_restored.connect(self.update_edit_buttons)
        self.update_edit_buttons()

    def set_pen_width(self, fraction: float) -> None:
        self.pen_slider.setValue(round(fraction * _SLIDER_SCALE))
        self.canvas.set_pen_width(fraction)

    @Slot(int)
    def _on_pen_width_changed(self, value: int) -> None:
        self.canvas.set_pen_width(value / _SLIDER_SCALE)

    @Slot()
    def update_edit_buttons(self) -> None:
        has_ink = not self.canvas.is_empty()
        self.undo_button.setEnabled(has_ink)
        self.clear_button.setEnabled(has_ink)
