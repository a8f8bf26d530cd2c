"""A gallery of 28×28 thumbnails with a caption each: the test images of a confusion
matrix cell, or the person's own drawings. Thumbnails are made as they scroll
into view, so a cell of a thousand images opens at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from digitpad.gui.confusion_matrix import WRONG_COLOR
from digitpad.gui.prediction_view import grayscale_pixmap

THUMBNAIL_SCALE = 2  # 28 px images shown at 56 px, each pixel a crisp square
_GRID = QSize(28 * THUMBNAIL_SCALE + 30, 28 * THUMBNAIL_SCALE + 40)


@dataclass(frozen=True)
class GalleryItem:
    image: np.ndarray  # (28, 28) in [0, 1], ink 1
    caption: str  # one or two short lines under the thumbnail
    tooltip: str
    mistake: bool  # the model read it wrong: its caption is red
    key: Any  # what the owner needs to find the item again (an index, a drawing)


class _GalleryModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: list[GalleryItem] = []
        self._pixmaps: dict[int, QPixmap] = {}

    def set_items(self, items: Sequence[GalleryItem]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self._pixmaps = {}
        self.endResetModel()

    def item(self, row: int) -> GalleryItem:
        return self._items[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.caption
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._pixmaps.get(index.row())
            if pixmap is None:
                pixmap = self._pixmaps[index.row()] = grayscale_pixmap(item.image, THUMBNAIL_SCALE)
            return pixmap
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.tooltip
        if role == Qt.ItemDataRole.ForegroundRole and item.mistake:
            return QColor(WRONG_COLOR)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return item.tooltip or item.caption
        return None


class Gallery(QListView):
    """Thumbnails in rows; ``item_chosen(key)`` when one is clicked or reached with the keys."""

    item_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None, name: str = "gallery") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._model = _GalleryModel(self)
        self.setModel(self._model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(28 * THUMBNAIL_SCALE, 28 * THUMBNAIL_SCALE))
        self.setGridSize(_GRID)
        self.setUniformItemSizes(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.selectionModel().currentChanged.connect(self._on_current_changed)

    def set_items(self, items: Sequence[GalleryItem]) -> None:
        self._model.set_items(items)
        self.scrollToTop()

    def count(self) -> int:
        return self._model.rowCount()

    def item(self, row: int) -> GalleryItem:
        return self._model.item(row)

    def items(self) -> list[GalleryItem]:
        return [self._model.item(row) for row in range(self._model.rowCount())]

    def current_item(self) -> GalleryItem | None:
        index = self.currentIndex()
        return self._model.item(index.row()) if index.isValid() else None

    def choose(self, row: int) -> None:
        """Select ``row`` as a click would."""
        self.setCurrentIndex(self._model.index(row))

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.item_chosen.emit(self._model.item(current.row()).key)
