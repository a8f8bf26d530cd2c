"""The My digits view: the drawings the person has labelled ("It's a …"), by digit,
with how many of each there are, how the model in use reads them, and Delete."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from digitpad.gui.corrections import Corrections
from digitpad.gui.gallery import Gallery, GalleryItem
from digitpad.gui.messages import show_error
from digitpad.gui.model_in_use import ModelInUse

if TYPE_CHECKING:
    from digitpad.collection import Drawing

log = logging.getLogger(__name__)

ALL_DIGITS = 10  # the "All" filter's id (QButtonGroup takes -1 for "pick one")


class MyDigitsView(QWidget):
    """A filter per digit (with its count), the gallery of drawings, and what the model makes of them."""

    # The view shows the collection as it is now.
    refreshed = Signal()
    # A line for the status bar.
    status = Signal(str)

    def __init__(self, corrections: Corrections, models: ModelInUse, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("my_digits_view")
        self._corrections = corrections
        self._models = models
        self._drawings: list[Drawing] = []
        # Each drawing's answer by the model in use: (digit, confidence), by drawing id.
        self._answers: dict[str, tuple[int, float]] = {}
        self._stale = True

        self.summary = QLabel()
        self.summary.setObjectName("my_digits_summary")
        self.summary.setWordWrap(True)

        filters = QHBoxLayout()
        filters.setSpacing(3)
        self._filter_group = QButtonGroup(self)
        self._filter_group.setExclusive(True)
        self.filter_buttons: dict[int, QPushButton] = {}
        for digit in [ALL_DIGITS, *range(10)]:
            button = QPushButton()
            button.setObjectName("my_digits_all" if digit == ALL_DIGITS else f"my_digits_{digit}")
            button.setCheckable(True)
            button.setMinimumWidth(44)
            self._filter_group.addButton(button, digit)
            filters.addWidget(button)
            self.filter_buttons[digit] = button
        filters.addStretch(1)
        self.filter_buttons[ALL_DIGITS].setChecked(True)
        self._filter_group.idClicked.connect(lambda _digit: self._fill_gallery())

        self.gallery = Gallery(name="my_digits_gallery")
        self.gallery.item_chosen.connect(self._on_item_chosen)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("delete_drawing_button")
        self.delete_button.setToolTip("Remove the chosen drawing from My digits (Delete)")
        self.delete_button.clicked.connect(self.delete_current)
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.gallery)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete_key.activated.connect(self.delete_current)
        self.chosen_label = QLabel("")
        self.chosen_label.setObjectName("chosen_drawing")
        self.chosen_label.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.chosen_label, 1)
        bottom.addWidget(self.delete_button)

        hint = QLabel("Draw a digit, then press “It's a …” (or its key on the canvas) to keep it here. "
                      "Teach, in the Training group, then fine-tunes the model in use on your drawings.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray;")

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(filters)
        layout.addWidget(self.gallery, 1)
        layout.addLayout(bottom)
        layout.addWidget(hint)

        corrections.collection_changed.connect(self._on_collection_changed)
        models.changed.connect(self._on_model_changed)
        self._on_item_chosen(None)

    # ------------------------------------------------------------ refreshing

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    @Slot()
    def _on_collection_changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    @Slot(object, bool)
    def _on_model_changed(self, _model, _history: bool) -> None:
        self._answers = {}
        self._on_collection_changed()

    def refresh(self) -> None:
        """Read the collection again and read every drawing with the model in use."""
        collection = self._corrections.collection()
        self._drawings = collection.drawings()
        self._read_with_model()
        counts = [0] * 10
        for drawing in self._drawings:
            counts[drawing.digit] += 1
        for digit, button in self.filter_buttons.items():
            if digit == ALL_DIGITS:
                button.setText(f"All ({len(self._drawings)})")
            else:
                button.setText(f"{digit} ({counts[digit]})")
            button.setToolTip("Every drawing" if digit == ALL_DIGITS else f"Your drawings of {digit}")
        self.summary.setText(self._describe(collection.problems))
        self._stale = False
        self._fill_gallery()
        self.refreshed.emit()

    def _read_with_model(self) -> None:
        model = self._models.model()
        missing = [drawing for drawing in self._drawings if drawing.id not in self._answers]
        if model is None or not missing:
            return
        try:
            images = np.stack([drawing.image() for drawing in missing])
            probabilities = model.classifier.drawing_probabilities(images, [drawing.strokes for drawing in missing])
        except Exception:  # a score is a help, not a must
            log.exception("could not read the collection with the model in use")
            return
        for drawing, row in zip(missing, probabilities):
            digit = int(row.argmax())
            self._answers[drawing.id] = (digit, float(row[digit]))

    def _describe(self, problems: list[str]) -> str:
        if not self._drawings:
            text = "My digits is empty. Draw a digit and say what it is with “It's a …” below the bars."
        else:
            scored = [self._answers[d.id][0] == d.digit for d in self._drawings if d.id in self._answers]
            text = f"<b>{len(self._drawings)}</b> drawings of yours."
            if scored:
                right = sum(scored)
                text += (f" The model in use reads <b>{right}</b> of them right "
                         f"({right / len(scored) * 100:.0f} %).")
        if problems:
            text += f" ({len(problems)} file(s) could not be read and are left out.)"
        return text

    def scores(self) -> dict[str, tuple[int, float]]:
        return dict(self._answers)

    def _fill_gallery(self) -> None:
        digit = self._filter_group.checkedId()
        shown = [d for d in self._drawings if digit == ALL_DIGITS or d.digit == digit]
        items = []
        for drawing in reversed(shown):  # the newest first
            answer = self._answers.get(drawing.id)
            if answer is None:
                caption, wrong = f"your {drawing.digit}", False
                tooltip = f"Your {drawing.digit}, kept {drawing.created}"
            else:
                caption = f"{drawing.digit} → {answer[0]}\n{answer[1] * 100:.0f} %"
                wrong = answer[0] != drawing.digit
                tooltip = (f"Your {drawing.digit}, kept {drawing.created}: the model in use reads it as "
                           f"{answer[0]} ({answer[1] * 100:.1f} % sure)")
            items.append(GalleryItem(drawing.image(), caption, tooltip, wrong, drawing))
        self.gallery.set_items(items)
        self._on_item_chosen(None)

    # ------------------------------------------------------------ deleting

    @Slot(object)
    def _on_item_chosen(self, drawing: Drawing | None) -> None:
        self.delete_button.setEnabled(drawing is not None)
        if drawing is None:
            self.chosen_label.setText("")
            return
        said = f"; the model said {drawing.answer} when you kept it" if drawing.answer is not None else ""
        self.chosen_label.setText(f"Your {drawing.digit}, kept {drawing.created}{said}.")

    @Slot()
    def delete_current(self) -> None:
        from digitpad.collection import CollectionError

        item = self.gallery.current_item()
        if item is None:
            return
        drawing: Drawing = item.key
        try:
            self._corrections.collection().remove(drawing)
        except CollectionError as error:
            show_error(self.window(), "Could not delete the drawing", str(error))
            return
        self._corrections.forget(drawing)
        self._answers.pop(drawing.id, None)
        row = self.gallery.currentIndex().row()
        self.refresh()
        if self.gallery.count():
            self.gallery.choose(min(row, self.gallery.count() - 1))
        self.status.emit(f"Deleted one of your {drawing.digit}s from My digits.")
