"""The confusion matrix: 10×10 counts, true digit by the digit the model read, coloured
so the mistakes stand out, with each true digit's accuracy at the end of its row.

Right answers (the diagonal) are green, mistakes red, both stronger the larger
their share of the row; the text is black or white, whichever reads better on
the cell, so the matrix reads in light and dark themes alike.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSizePolicy, QTableWidget, QTableWidgetItem, QWidget

RIGHT_COLOR = QColor(40, 150, 80)
WRONG_COLOR = QColor(214, 60, 50)
CELL_SIZE = 44
ACCURACY_COLUMN = 10


def _mix(paper: QColor, ink: QColor, strength: float) -> QColor:
    strength = min(max(strength, 0.0), 1.0)
    return QColor(
        round(paper.red() + (ink.red() - paper.red()) * strength),
        round(paper.green() + (ink.green() - paper.green()) * strength),
        round(paper.blue() + (ink.blue() - paper.blue()) * strength),
    )


def _relative_luminance(color: QColor) -> float:
    def channel(value: int) -> float:
        c = value / 255.0
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.red()) + 0.7152 * channel(color.green()) + 0.0722 * channel(color.blue())


def readable_text_on(background: QColor) -> QColor:
    """Black or white: whichever contrasts more with ``background`` (WCAG's ratio)."""
    luminance = _relative_luminance(background)
    on_black = (luminance + 0.05) / 0.05
    on_white = 1.05 / (luminance + 0.05)
    return QColor(0, 0, 0) if on_black >= on_white else QColor(255, 255, 255)


def cell_color(paper: QColor, count: int, row_total: int, right: bool) -> QColor:
    """The cell's background: the paper for none, then stronger with the share of the row."""
    if count == 0 or row_total == 0:
        return QColor(paper)
    share = count / row_total
    if right:
        return _mix(paper, RIGHT_COLOR, 0.25 + 0.75 * share)
    # Mistakes are rare: a log scale makes one mistake in a thousand visible, and ten in a hundred loud.
    return _mix(paper, WRONG_COLOR, 0.2 + 0.8 * min(1.0, math.log10(1 + 1000 * share) / 3))


class ConfusionMatrix(QTableWidget):
    """Click a cell to see its images: ``cell_chosen(true_digit, predicted_digit)``."""

    cell_chosen = Signal(int, int)

    _built = False  # palette changes may arrive while Qt builds the table

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(10, 11, parent)
        self.setObjectName("confusion_matrix")
        self.setAccessibleName("Confusion matrix: true digit by the digit the model read")
        self._confusion: np.ndarray | None = None
        self.setHorizontalHeaderLabels([str(d) for d in range(10)] + ["right"])
        self.setVerticalHeaderLabels([str(d) for d in range(10)])
        self.horizontalHeaderItem(ACCURACY_COLUMN).setToolTip("How many of each true digit the model read right")
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(CELL_SIZE)
            header.setHighlightSections(False)
        self.horizontalHeader().resizeSection(ACCURACY_COLUMN, CELL_SIZE + 26)
        self.horizontalHeader().setToolTip("The digit the model read")
        self.verticalHeader().setToolTip("The true digit")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCornerButtonEnabled(False)
        for row in range(10):
            for column in range(11):
                item = QTableWidgetItem("")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if column == ACCURACY_COLUMN:
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a figure, not a cell to open
                self.setItem(row, column, item)
        self.cellClicked.connect(self._on_cell_clicked)
        self._built = True
        self._paint()

    def sizeHint(self):
        size = super().sizeHint()
        width = self.verticalHeader().width() + sum(self.columnWidth(c) for c in range(11)) + 2 * self.frameWidth()
        height = self.horizontalHeader().height() + 10 * CELL_SIZE + 2 * self.frameWidth()
        size.setWidth(width)
        size.setHeight(height)
        return size

    def minimumSizeHint(self):
        return self.sizeHint()

    def counts(self) -> np.ndarray | None:
        return None if self._confusion is None else self._confusion.copy()

    def set_confusion(self, confusion: np.ndarray | None) -> None:
        """Show ``confusion`` ((10, 10) counts, [true, predicted]); None empties the matrix."""
        self._confusion = None if confusion is None else np.asarray(confusion, dtype=np.int64)
        self.clearSelection()
        self._paint()

    def _paint(self) -> None:
        paper = self.palette().color(QPalette.ColorRole.Base)
        text = self.palette().color(QPalette.ColorRole.Text)
        for row in range(10):
            total = int(self._confusion[row].sum()) if self._confusion is not None else 0
            for column in range(10):
                item = self.item(row, column)
                count = int(self._confusion[row, column]) if self._confusion is not None else 0
                item.setText(str(count) if self._confusion is not None and (count or row == column) else "")
                background = cell_color(paper, count, total, right=row == column)
                item.setBackground(background)
                item.setForeground(readable_text_on(background) if count else text)
                item.setToolTip(self._describe(row, column, count, total))
            accuracy = self.item(row, ACCURACY_COLUMN)
            right = int(self._confusion[row, row]) if self._confusion is not None else 0
            accuracy.setText(f"{right / total * 100:.1f} %" if total else "")
            accuracy.setForeground(text)

    @staticmethod
    def _describe(true: int, predicted: int, count: int, total: int) -> str:
        if total == 0:
            return ""
        if true == predicted:
            return f"{count:,} of the {total:,} images of {true} read right: click for the least confident"
        images = "image" if count == 1 else "images"
        return f"{count:,} {images} of {true} read as {predicted}" + (": click to see them" if count else "")

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange and self._built:
            self._paint()

    @Slot(int, int)
    def _on_cell_clicked(self, row: int, column: int) -> None:
        if column < 10 and self._confusion is not None:
            self.cell_chosen.emit(row, column)
