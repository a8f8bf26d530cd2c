"""The Test set view: Evaluate measures the model in use on the 10,000 MNIST test
images on a worker thread; the confusion matrix shows where it goes wrong, and a
click on a cell fills the gallery with that cell's images. A click on a thumbnail
shows its ten bars.

Results are kept per model (in memory here, on disk by ``digitpad.evaluation``),
so coming back to a model shows its figures at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from digitpad.gui import data_folder
from digitpad.gui.confusion_matrix import ConfusionMatrix
from digitpad.gui.evaluation_worker import EvaluationWorker
from digitpad.gui.gallery import Gallery, GalleryItem
from digitpad.gui.messages import show_error
from digitpad.gui.model_in_use import ModelInUse
from digitpad.gui.plots import ProbabilityBars
from digitpad.gui.prediction_view import grayscale_pixmap
from digitpad.gui.threads import WorkerThread

if TYPE_CHECKING:
    from digitpad.evaluation import Evaluation
    from digitpad.gui.model_loader import LoadedModel

log = logging.getLogger(__name__)

SAMPLE_SCALE = 4  # a chosen thumbnail, enlarged beside its bars


def model_key(model: LoadedModel) -> object:
    """What a result is kept under: the model's file, or the checkpoint itself for one not saved."""
    return str(model.path) if model.path is not None else id(model.checkpoint)


class TestSetView(QWidget):
    """Evaluate, the overall figure, the confusion matrix, the gallery of a cell and a chosen image's bars."""

    __test__ = False  # not a pytest test class, whatever its name

    # A model's evaluation is shown (after Evaluate, or from what was kept).
    evaluated = Signal()
    # The gallery shows a cell's images.
    gallery_filled = Signal()
    # A line for the status bar.
    status = Signal(str)

    def __init__(self, models: ModelInUse, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("test_set_view")
        self._models = models
        self._settings = settings
        self._run: WorkerThread | None = None
        self._run_key: object = None
        self._closing = False
        # Per model: its Evaluation. The test images are the same for every model: kept once.
        self._results: dict[object, Evaluation] = {}
        self._pictures: np.ndarray | None = None
        self._shown: Evaluation | None = None
        self._cell: tuple[int, int] | None = None

        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setObjectName("evaluate_button")
        self.evaluate_button.setToolTip("Measure the model in use on the 10,000 MNIST test images")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("evaluate_stop_button")
        self.stop_button.setToolTip("Stop measuring")
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setObjectName("evaluate_progress")
        self.progress.setAccessibleName("Evaluation progress")
        self.progress.setTextVisible(True)
        self.summary = QLabel()
        self.summary.setObjectName("evaluation_summary")
        self.summary.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.evaluate_button)
        top.addWidget(self.stop_button)
        top.addWidget(self.progress, 1)

        self.matrix = ConfusionMatrix()
        self.matrix.cell_chosen.connect(self.show_cell)
        legend = QLabel("Rows: the true digit. Columns: the digit the model read.\n"
                        "Click a cell to see its images.")
        legend.setStyleSheet("color: gray;")
        left = QVBoxLayout()
        left.addWidget(self.summary)
        left.addWidget(self.matrix, 0, Qt.AlignmentFlag.AlignLeft)
        left.addWidget(legend)
        left.addStretch(1)

        self.gallery_title = QLabel("")
        self.gallery_title.setObjectName("gallery_title")
        self.gallery_title.setWordWrap(True)
        self.gallery = Gallery()
        self.gallery.item_chosen.connect(self._show_sample)
        self.sample_image = QLabel()
        self.sample_image.setObjectName("sample_image")
        self.sample_image.setFixedSize(28 * SAMPLE_SCALE, 28 * SAMPLE_SCALE)
        self.sample_image.setFrameShape(QFrame.Shape.Box)
        self.sample_caption = QLabel("")
        self.sample_caption.setObjectName("sample_caption")
        self.sample_caption.setWordWrap(True)
        self.sample_bars = ProbabilityBars()
        self.sample_bars.setObjectName("sample_probabilities")
        self.sample_bars.setFixedHeight(170)
        sample = QGridLayout()
        sample.addWidget(self.sample_image, 0, 0)
        sample.addWidget(self.sample_caption, 1, 0, Qt.AlignmentFlag.AlignTop)
        sample.addWidget(self.sample_bars, 0, 1, 2, 1)
        sample.setColumnStretch(1, 1)
        right = QVBoxLayout()
        right.addWidget(self.gallery_title)
        right.addWidget(self.gallery, 1)
        right.addLayout(sample, 0)

        columns = QHBoxLayout()
        columns.addLayout(left, 0)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(columns, 1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        models.changed.connect(self._on_model_changed)
        self._show(None)
        self._set_running(False)

    # ------------------------------------------------------------ state

    def is_running(self) -> bool:
        return self._run is not None

    def shown_evaluation(self) -> Evaluation | None:
        return self._shown

    def _set_running(self, running: bool) -> None:
        self.evaluate_button.setEnabled(not running and self._models.model() is not None)
        self.stop_button.setEnabled(running)

    @Slot(object, bool)
    def _on_model_changed(self, model: LoadedModel, _history: bool) -> None:
        if self._closing:
            return
        self._show(self._results.get(model_key(model)))
        self._set_running(self.is_running())

    # ------------------------------------------------------------ evaluating

    @Slot()
    def evaluate(self) -> None:
        """What Evaluate does: find MNIST, then measure the model in use on a QThread."""
        model = self._models.model()
        if model is None or self.is_running() or self._closing:
            return

        def ready(folder, download: bool, _note: str) -> None:
            if not self._closing and not self.is_running() and self._models.model() is model:
                self._launch(model, folder, download)
            self._set_running(self.is_running())

        def declined(reason: str) -> None:
            self._set_running(self.is_running())
            self.status.emit(f"Evaluation cancelled: {reason}" if reason else "Evaluation cancelled.")

        asking = data_folder.find_mnist(self.window(), self._settings, ready, declined)
        if asking:
            self.evaluate_button.setEnabled(False)
            self.status.emit(asking)

    def _launch(self, model: LoadedModel, folder, download: bool) -> None:
        worker = EvaluationWorker(model.model_config, model.copy_of_weights(), model.path, folder, download)
        worker.data_progressed.connect(self._on_data_progressed)
        worker.progressed.connect(self._on_progressed)
        worker.finished.connect(self._on_finished)
        worker.cancelled.connect(self._on_cancelled)
        worker.failed.connect(self._on_failed)
        self._run = WorkerThread(worker, "digitpad-evaluation", self)
        self._run.ended.connect(self._on_ended)
        self._run_key = model_key(model)
        self.progress.setRange(0, 0)
        self.progress.setFormat("Downloading MNIST…" if download else "Loading MNIST…")
        self._set_running(True)
        self.status.emit(f"Measuring {model.name} on the MNIST test images…")
        self._run.start()

    @Slot()
    def stop(self) -> None:
        if self._run is not None:
            self._run.stop()
            self.stop_button.setEnabled(False)

    @Slot(int, int)
    def _on_data_progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"Downloading MNIST: {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    @Slot(int, int)
    def _on_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done:,} of {total:,} test images")

    @Slot(object, object)
    def _on_finished(self, result: Evaluation, pictures: np.ndarray) -> None:
        if self._closing:
            return
        self._results[self._run_key] = result
        self._pictures = pictures
        model = self._models.model()
        if model is not None and model_key(model) == self._run_key:
            self._show(result)
            name = model.name[:1].upper() + model.name[1:]
            self.status.emit(f"{name}: {result.accuracy * 100:.2f} % of the {len(result.labels):,} "
                             "MNIST test images read right.")

    @Slot()
    def _on_cancelled(self) -> None:
        if not self._closing:
            self.status.emit("Evaluation stopped.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if not self._closing:
            show_error(self.window(), "Could not evaluate the model", message)

    @Slot()
    def _on_ended(self) -> None:
        self._run = None
        if self._closing:
            return
        self._set_running(False)
        if self._shown is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("Not measured yet")

    # ------------------------------------------------------------ showing

    def _show(self, result: Evaluation | None) -> None:
        self._shown = result
        self.matrix.set_confusion(None if result is None else result.confusion)
        self.gallery.set_items([])
        self._cell = None
        self._show_sample(None)
        if result is None:
            self.summary.setText("Evaluate measures the model in use on the 10,000 MNIST test images and shows "
                                 "which digits it takes for which.")
            self.gallery_title.setText("Click a cell of the matrix to see its images here.")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("Not measured yet")
        else:
            wrong = int(len(result.labels) - np.trace(result.confusion))
            self.summary.setText(f"<b>{result.accuracy * 100:.2f} %</b> right: {wrong:,} of "
                                 f"{len(result.labels):,} test images read wrong (test loss {result.loss:.4f}).")
            self.gallery_title.setText("Click a cell of the matrix to see its images here.")
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.progress.setFormat(f"Measured on {len(result.labels):,} test images")
            self.evaluated.emit()

    @Slot(int, int)
    def show_cell(self, true: int, predicted: int) -> None:
        """Fill the gallery with the images of one cell: mistakes most confident first, right answers
        least confident first."""
        result = self._shown
        if result is None or self._pictures is None:
            return
        self._cell = (true, predicted)
        indices = result.cell(true, predicted)
        confidences = result.confidences
        items = []
        for index in indices:
            index = int(index)
            confidence = float(confidences[index])
            items.append(GalleryItem(
                image=self._pictures[index].astype(np.float32) / 255.0,
                caption=f"{true} → {predicted}\n{confidence * 100:.0f} %",
                tooltip=f"Test image {index:,}: a {true}, read as {predicted} ({confidence * 100:.1f} % sure)",
                mistake=true != predicted,
                key=index,
            ))
        self.gallery.set_items(items)
        if true == predicted:
            title = f"{_images(len(items))} of {true} read right, the least confident first"
        else:
            title = f"{_images(len(items))} of {true} read as {predicted}, the most confident mistakes first"
        self.gallery_title.setText(title if items else f"No image of {true} was read as {predicted}.")
        self._show_sample(None)
        self.gallery_filled.emit()

    def gallery_indices(self) -> list[int]:
        """The test images the gallery shows, in order."""
        return [int(item.key) for item in self.gallery.items()]

    @Slot(object)
    def _show_sample(self, index: object) -> None:
        result = self._shown
        if index is None or result is None or self._pictures is None:
            self.sample_image.clear()
            self.sample_caption.setText("")
            self.sample_bars.set_probabilities(None)
            return
        index = int(index)
        probabilities = result.probabilities[index]
        predicted = int(result.predictions[index])
        self.sample_image.setPixmap(grayscale_pixmap(self._pictures[index] / 255.0, SAMPLE_SCALE))
        self.sample_caption.setText(f"Test image {index:,}\ntrue {int(result.labels[index])}, read {predicted}")
        self.sample_bars.set_probabilities(probabilities, highlight=predicted,
                                           unsure=bool(probabilities[predicted] < _unsure_below()))

    # ------------------------------------------------------------ closing

    def close_view(self) -> None:
        """Stop a run and join its thread; nothing is shown after this."""
        self._closing = True
        if self._run is not None:
            self._run.stop_and_join()
            self._run = None


def _images(count: int) -> str:
    return f"{count:,} image" + ("" if count == 1 else "s")


def _unsure_below() -> float:
    from digitpad.inference import UNSURE_BELOW

    return UNSURE_BELOW
