"""The Prediction group: the 28×28 picture the model saw, the answer, the ten bars
and a line about the model in use. It only shows what it is given."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from digitpad.gui.plots import HIGHLIGHT_COLOR, UNSURE_COLOR, ProbabilityBars, card_colors

if TYPE_CHECKING:
    from digitpad.inference import Prediction

PREVIEW_SCALE = 5  # the 28x28 model input, shown nearest-neighbour at 140x140
ANSWER_WIDTH = 136  # the predicted digit and the confidence text under it
DIGIT_HEIGHT = 100
HINT = "Draw a digit"
NOT_A_DIGIT = "not a digit"
# Why a drawing is unsure when one network alone sees no digit (Prediction.doubted_by):
# a line that fits under the answer, and the whole of it on hover.
DOUBTS = {
    "picture": ("image: no digit", "The network that reads the 28×28 image sees no digit here;\n"
                                   "the one that reads your strokes does."),
    "strokes": ("strokes: no digit", "The network that reads your strokes sees no digit here;\n"
                                     "the one that reads the 28×28 image does."),
}


def grayscale_pixmap(image: np.ndarray, scale: int) -> QPixmap:
    """A (H, W) image in [0, 1] as a pixmap, each pixel a crisp ``scale``×``scale`` square."""
    small = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5
    pixels = np.ascontiguousarray(small.astype(np.uint8).repeat(scale, axis=0).repeat(scale, axis=1))
    height, width = pixels.shape
    qimage = QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(qimage)  # a deep copy: ``pixels`` may go


class PredictionView(QGroupBox):
    """What the model made of the drawing: ``show_prediction``, ``show_hint``, ``show_pending``."""

    _answer_card: QWidget | None = None  # None while being built

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Prediction", parent)
        self._prediction_style: tuple[bool, str, bool] | None = None
        self._blank_preview = grayscale_pixmap(np.zeros((28, 28), dtype=np.float32), PREVIEW_SCALE)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)

        top = QHBoxLayout()
        preview_box = QVBoxLayout()
        self.preview = QLabel()
        self.preview.setObjectName("model_input_preview")
        self.preview.setAccessibleName("The 28 by 28 image the model sees")
        self.preview.setFixedSize(28 * PREVIEW_SCALE, 28 * PREVIEW_SCALE)
        self.preview.setFrameShape(QFrame.Shape.Box)
        self.preview.setToolTip(
            "What the model sees: your strokes redrawn with one even pen, cropped, scaled and centred like MNIST (28×28)"
        )
        preview_caption = QLabel("model input, 28×28")
        preview_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        preview_caption.setStyleSheet("color: gray;")
        preview_box.addWidget(self.preview)
        preview_box.addWidget(preview_caption)
        preview_box.addStretch(1)
        top.addLayout(preview_box)

        answer = QVBoxLayout()
        answer.setSpacing(0)
        self.prediction_label = QLabel()
        self.prediction_label.setObjectName("prediction")
        self.prediction_label.setAccessibleName("Predicted digit")
        self.prediction_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # The words ("Draw a digit", "not a digit") nearly fill the box in DejaVu Sans;
        # a wider system font wraps them onto two lines instead of cutting them off.
        self.prediction_label.setWordWrap(True)
        self.confidence_label = QLabel()
        self.confidence_label.setObjectName("confidence")
        self.confidence_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confidence_label.setWordWrap(True)
        confidence_font = QFont()
        confidence_font.setPointSize(12)
        self.confidence_label.setFont(confidence_font)
        # Fixed sizes: a QLabel whose size may change has the window lay itself
        # out again after every new text, on the way to painting the bars.
        self.prediction_label.setFixedSize(ANSWER_WIDTH, DIGIT_HEIGHT)
        self.confidence_label.setFixedSize(ANSWER_WIDTH, QFontMetrics(confidence_font).lineSpacing() * 2 + 2)
        answer.addStretch(1)
        answer.addWidget(self.prediction_label)
        answer.addWidget(self.confidence_label)
        answer.addStretch(1)
        top.addLayout(answer, 1)
        # An opaque card, like the bars' panel below it: a new answer then
        # repaints the card alone, not the group box's frame behind it.
        self._answer_card = QWidget()
        self._answer_card.setObjectName("answer_card")
        self._answer_card.setAutoFillBackground(True)
        top.setContentsMargins(0, 0, 0, 0)
        self._answer_card.setLayout(top)
        layout.addWidget(self._answer_card)
        self._paint_answer_card()

        self.bars = ProbabilityBars(self)
        self.bars.setMinimumHeight(200)
        layout.addWidget(self.bars, 1)

        self.model_label = QLabel("Model in use: loading…")
        self.model_label.setObjectName("model_label")
        self.model_label.setWordWrap(True)
        # Three lines (four with a stroke reader): name, architecture, accuracy (see LoadedModel.describe_lines).
        self.model_label.setMinimumHeight(self.model_label.fontMetrics().lineSpacing() * 3 + 4)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.model_label)
        self.show_hint()

    # ------------------------------------------------------------ theme

    def _paint_answer_card(self) -> None:
        # The card's own paper and text, like the bars' card below it: the
        # theme's text colour could be unreadable on it.
        colors = card_colors(self.palette())
        palette = self._answer_card.palette()
        palette.setColor(QPalette.ColorRole.Window, colors.background)
        palette.setColor(QPalette.ColorRole.WindowText, colors.foreground)
        self._answer_card.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._answer_card is not None:
            self._paint_answer_card()

    # ------------------------------------------------------------ showing

    def add_row(self, widget: QWidget) -> None:
        """Put ``widget`` under the bars, above the model line."""
        layout = self.layout()
        layout.insertWidget(layout.indexOf(self.model_label), widget)

    def set_model_text(self, text: str, tooltip: str = "") -> None:
        self.model_label.setText(text)
        self.model_label.setToolTip(tooltip)

    def show_hint(self) -> None:
        """Nothing drawn yet."""
        self._set_prediction_text(HINT, big=False)
        self.confidence_label.setText("")
        self.confidence_label.setToolTip("")
        self._set_preview(None)
        self.bars.set_probabilities(None)

    def show_pending(self, model_failed: bool) -> None:
        """A drawing, but no model to read it (yet)."""
        self._set_prediction_text("", big=False)
        self.confidence_label.setText("No model loaded" if model_failed else "Loading the model…")
        self.confidence_label.setToolTip("")
        self._set_preview(None)
        self.bars.set_probabilities(None)

    def show_prediction(self, prediction: Prediction) -> None:
        digit = int(prediction.digit)
        probabilities = np.asarray(prediction.probabilities, dtype=float)
        highlight: int | None = digit
        explanation = ""
        if prediction.not_a_digit:
            # No digit named, in words or colour: grey text, grey bars.
            self._set_prediction_text(NOT_A_DIGIT, big=False, bold=True)
            self.confidence_label.setText(f"no digit is likely\nclosest: {digit} ({prediction.confidence * 100:.0f} %)")
            highlight = None
        elif prediction.unsure:
            self._set_prediction_text(f"{digit}?", big=True, color=UNSURE_COLOR.name())
            if prediction.doubted_by:  # odds that may look sure: say why it is unsure instead
                reason, explanation = DOUBTS[prediction.doubted_by]
                self.confidence_label.setText(f"unsure\n{reason}")
            else:
                runner_up = prediction.runner_up
                self.confidence_label.setText(
                    f"unsure: {prediction.confidence * 100:.0f} %\nmaybe {runner_up} ({probabilities[runner_up] * 100:.0f} %)"
                )
        else:
            self._set_prediction_text(str(digit), big=True, color=HIGHLIGHT_COLOR.name())
            self.confidence_label.setText(f"{prediction.confidence * 100:.1f} % sure")
        self.confidence_label.setToolTip(explanation)
        self._set_preview(getattr(prediction, "model_input", None))
        self.bars.set_probabilities(probabilities, highlight=highlight, unsure=bool(prediction.unsure))

    def _set_prediction_text(self, text: str, big: bool, color: str = "", bold: bool | None = None) -> None:
        # A new font or colour only when they change. The colour goes through the
        # palette: a style sheet would re-polish the label each time.
        bold = big if bold is None else bold
        if self._prediction_style != (big, color, bold):
            self._prediction_style = (big, color, bold)
            font = QFont()
            font.setPointSize(64 if big else 16)
            font.setBold(bold)
            self.prediction_label.setFont(font)
            palette = self.prediction_label.palette()
            palette.setColor(QPalette.ColorRole.WindowText, QColor(color or "gray"))
            self.prediction_label.setPalette(palette)
        self.prediction_label.setText(text)

    def _set_preview(self, image: np.ndarray | None) -> None:
        self.preview.setPixmap(self._blank_preview if image is None else grayscale_pixmap(image, PREVIEW_SCALE))
