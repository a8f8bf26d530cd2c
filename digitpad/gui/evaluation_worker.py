"""EvaluationWorker: runs ``evaluation.evaluate`` over the MNIST test images on a QThread.

It builds its own model from a copy of the weights, so no ``nn.Module`` is shared
with the GUI thread, and checks its stop flag between batches.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from digitpad.gui import collector
from digitpad.gui.worker import limit_threads_for_background_work

log = logging.getLogger(__name__)


class EvaluationWorker(QObject):
    """Loads MNIST's test images and measures a model on them; lives on its own QThread."""

    # Download progress of MNIST: bytes done, bytes total (0 when unknown).
    data_progressed = Signal(int, int)
    # Test images measured so far, of all.
    progressed = Signal(int, int)
    # The Evaluation, and the test images it measured as (N, 28, 28) uint8, ink 255.
    finished = Signal(object, object)
    # Stopped before the end.
    cancelled = Signal()
    # MNIST is missing or damaged, or anything else went wrong: a user-facing message.
    failed = Signal(str)

    def __init__(self, model_config, state_dict: dict, model_path: Path | None, data_root: Path,
                 download: bool = False) -> None:
        super().__init__()
        self._model_config = model_config
        self._state_dict = state_dict
        self._model_path = model_path
        self._root = data_root
        self._download = download
        self._stop = threading.Event()

    # Called from the GUI thread; the flag is the only shared state.
    def stop(self) -> None:
        self._stop.set()

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as error:  # the GUI shows it; the traceback goes to the log
            log.exception("evaluation failed")
            self.failed.emit(f"The evaluation failed: {error or type(error).__name__}")
        finally:
            QThread.currentThread().quit()

    def _run(self) -> None:
        with collector.paused_and_frozen():
            import torch

            from digitpad import evaluation
            from digitpad.config import MNIST_MEAN, MNIST_STD
            from digitpad.data import DataError, load_mnist
            from digitpad.models import build_model

            limit_threads_for_background_work()
        try:
            data = load_mnist(self._root, download=self._download, progress=self.data_progressed.emit,
                              should_stop=self._stop.is_set)
        except DataError as error:
            if self._stop.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(str(error))
            return
        images = data.test_images
        # The gallery's thumbnails: the images as they were before normalizing.
        pictures = ((images[:, 0] * MNIST_STD + MNIST_MEAN).clamp(0, 1) * 255).round().to(torch.uint8)
        pictures = np.ascontiguousarray(pictures.numpy())

        data_key = evaluation.data_key(images, data.test_labels)
        cached = evaluation.load_cached(self._model_path, data_key) if self._model_path is not None else None
        if cached is not None:
            self.progressed.emit(len(images), len(images))
            self.finished.emit(cached, pictures)
            return

        model = build_model(self._model_config)
        model.load_state_dict(self._state_dict)
        result = None
        for event in evaluation.evaluate(model, images, data.test_labels, should_stop=self._stop.is_set):
            if isinstance(event, evaluation.EvaluationProgress):
                self.progressed.emit(event.done, event.total)
            else:
                result = event
        if result is None:
            self.cancelled.emit()
            return
        if self._model_path is not None:
            evaluation.store_cached(self._model_path, data_key, result)
        self.finished.emit(result, pictures)
