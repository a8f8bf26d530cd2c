"""Telling digitpad what a drawing really is: the "It's a …" buttons (and the keys 0-9
on the canvas) store the drawing in the person's collection (``digitpad.collection``),
for teaching; the last one can be taken back.

A correction of a wrong answer and a confirmation of a right one are stored alike:
teaching learns from both.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from digitpad.gui.canvas import DrawingCanvas
from digitpad.gui.messages import show_error
from digitpad.gui.model_in_use import ModelInUse

if TYPE_CHECKING:
    from digitpad.collection import Collection, Drawing

log = logging.getLogger(__name__)


class CorrectionBar(QWidget):
    """Ten buttons, "It's a 0" … "It's a 9": ``digit_given(digit)``."""

    digit_given = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("correction_bar")
        # Opaque: when the buttons are enabled as a stroke starts, Qt then repaints this
        # row alone, not the Prediction group behind it.
        self.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        title = QLabel("It's a …")
        title.setToolTip("Say what you drew: it is kept in My digits, and Teach learns your handwriting from it")
        layout.addWidget(title)
        grid = QGridLayout()
        grid.setSpacing(3)
        self.buttons: list[QPushButton] = []
        for digit in range(10):
            button = QPushButton(str(digit))
            button.setObjectName(f"label_{digit}")
            button.setAccessibleName(f"It's a {digit}")
            button.setToolTip(f"It's a {digit}: keep this drawing as a {digit} in My digits (key {digit} on the canvas)")
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(24)
            button.clicked.connect(lambda _checked=False, d=digit: self.digit_given.emit(d))
            grid.addWidget(button, 0, digit)
            self.buttons.append(button)
        layout.addLayout(grid)
        self.set_available(False)

    def set_available(self, available: bool) -> None:
        for button in self.buttons:
            button.setEnabled(available)


class Corrections(QObject):
    """Stores what the person says a drawing is, and takes the last one back on request."""

    # The collection changed (a drawing was added, taken back or deleted).
    collection_changed = Signal()
    # A line for the status bar.
    status = Signal(str)
    # Whether there is a correction to take back.
    undo_available = Signal(bool)

    def __init__(self, canvas: DrawingCanvas, models: ModelInUse, window: QWidget) -> None:
        super().__init__(window)
        self._canvas = canvas
        self._models = models
        self._window = window
        self._collection: Collection | None = None
        self._last: Drawing | None = None
        canvas.digit_pressed.connect(self.give)

    def collection(self) -> Collection:
        if self._collection is None:
            from digitpad.collection import Collection

            self._collection = Collection()
        return self._collection

    def last(self) -> Drawing | None:
        return self._last

    @Slot(int)
    def give(self, digit: int) -> None:
        """The drawing on the canvas is a ``digit``: keep it, then clear the canvas for the next one."""
        from digitpad.collection import CollectionError
        from digitpad.strokes import to_mnist_image

        strokes = self._canvas.strokes()
        model_input = to_mnist_image(strokes)
        if self._canvas.is_drawing() or model_input is None:
            self.status.emit(f"Draw a {digit} first, then say what it is.")
            return
        model = self._models.model()
        answer = confidence = None
        not_a_digit = False
        if model is not None:
            try:
                prediction = model.classifier.predict_strokes(strokes)
            except Exception:  # the drawing is worth keeping even if it cannot be read
                log.exception("could not classify the drawing being kept")
                prediction = None
            if prediction is not None:
                answer, confidence = int(prediction.digit), float(prediction.confidence)
                not_a_digit = prediction.not_a_digit
        try:
            drawing = self.collection().add(digit, model_input, strokes, answer, confidence,
                                            model.name if model is not None else "")
        except CollectionError as error:
            show_error(self._window, "Could not keep the drawing", str(error))
            return
        self._last = drawing
        self._canvas.clear()
        self.collection_changed.emit()
        self.undo_available.emit(True)
        count = self.collection().counts()[digit]
        if answer is None or (answer == digit and not not_a_digit):
            verb = "Kept"
        else:
            said = "not a digit" if not_a_digit else answer
            verb = f"Corrected ({said} → {digit}) and kept"
        self.status.emit(f"{verb} your {digit} in My digits ({count} of them now). "
                         "Edit › Undo correction takes it back.")

    @Slot()
    def undo_last(self) -> None:
        """Take back the last correction: the drawing leaves the collection and returns to the canvas."""
        from digitpad.collection import CollectionError

        drawing = self._last
        if drawing is None:
            return
        try:
            self.collection().remove(drawing)
        except CollectionError as error:
            show_error(self._window, "Could not take the drawing back", str(error))
            return
        self._last = None
        self.undo_available.emit(False)
        if drawing.strokes:
            self._canvas.restore(drawing.strokes)
        self.collection_changed.emit()
        self.status.emit(f"Took back the {drawing.digit}: it is no longer in My digits.")

    def forget(self, drawing: Drawing) -> None:
        """``drawing`` was deleted elsewhere: it can no longer be taken back."""
        if self._last is not None and self._last.id == drawing.id:
            self._last = None
            self.undo_available.emit(False)
