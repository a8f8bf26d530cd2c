"""TrainingWorker: runs data loading and ``training.fit`` on a QThread and only emits signals.

It builds its own model inside ``fit`` (from the config and, to continue, a
copy of the weights in use), so no ``nn.Module`` is ever shared with the GUI
thread. Stopping is a flag checked between batches; the thread is never
terminated.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal, Slot

from digitpad.gui import collector
from digitpad.gui.model_loader import pin_torch_threads

if TYPE_CHECKING:
    from digitpad.config import TeachConfig, TrainConfig
    from digitpad.training import BatchProgress

log = logging.getLogger(__name__)

# Progress reaches the GUI at most this often (s): about 20 Hz.
EMIT_INTERVAL = 0.05
# The training thread's nice value is raised by this much (Linux), so that when
# the GUI thread and the trainer want the same core, the GUI thread gets it.
TRAINER_NICENESS = 5


class TrainingWorker(QObject):
    """Loads MNIST and trains; lives on its own QThread (``thread.started -> run``)."""

    # Download progress of MNIST: bytes done, bytes total (0 when unknown).
    data_progressed = Signal(int, int)
    # MNIST is in memory: training images, test images.
    data_loaded = Signal(int, int)
    # The newest BatchProgress, and every (global_step, loss) logged since the last emission.
    batch_progressed = Signal(object, object)
    # A ValidationResult (never coalesced; flushes pending batch progress first).
    validated = Signal(object)
    # The TrainingResult (also after a stop: the last complete weights, stopped=True).
    finished = Signal(object)
    # Stopped before training began (while loading or downloading data).
    cancelled = Signal()
    # MNIST is missing or damaged: a user-facing paragraph.
    data_failed = Signal(str)
    # Anything else went wrong: a user-facing message.
    failed = Signal(str)

    def __init__(
        self,
        config: TrainConfig | TeachConfig,
        data_root: Path | None,
        *,
        download: bool = False,
        initial_state: dict | None = None,
        initial_history: dict | None = None,
        fit: Callable | None = None,
        load_data: Callable | None = None,
        emit_interval: float = EMIT_INTERVAL,
    ) -> None:
        super().__init__()
        self.config = config
        self._root = data_root
        self._download = download
        self._initial_state = initial_state
        self._initial_history = initial_history
        self._fit = fit
        self._load_data = load_data
        self._interval = emit_interval
        self._stop = threading.Event()
        self._abandoned = threading.Event()
        self._last_emit = float("-inf")
        self._pending_progress: BatchProgress | None = None
        self._pending_points: list[tuple[int, float]] = []
        self._last_data_emit = float("-inf")

    # Called from the GUI thread; the flags are the only shared state.
    def stop(self) -> None:
        self._stop.set()

    def abandon(self) -> None:
        """Stop, and skip what a stop still does (the test of the last weights, the result): the
        window is closing and would show none of it."""
        self._abandoned.set()
        self._stop.set()

    def _should_stop(self) -> bool:
        if self._abandoned.is_set():
            raise _Abandoned
        return self._stop.is_set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as error:  # the GUI shows it; the traceback goes to the log
            log.exception("training failed")
            self.failed.emit(f"Training failed: {error}" if str(error) else f"Training failed: {type(error).__name__}")
        finally:
            # Ends the thread's event loop even if exec() has not started yet.
            QThread.currentThread().quit()

    # ------------------------------------------------------------------ steps

    def _run(self) -> None:
        # Importing training makes many objects: pause the collector
        # meanwhile, so no full pass holds the GIL against the GUI.
        with collector.paused_and_frozen():
            from digitpad import training
            from digitpad.data import DataError

            limit_threads_for_background_work()
            # Done already if the model loader got to it (prepare_training); quick then.
            training.warm_up_optimizers()

        fit = self._fit or training.fit
        load = self._load_data
        if load is None:
            from digitpad.data import load_mnist as load

        try:
            data = load(self._root, download=self._download, progress=self._on_download, should_stop=self._stop.is_set)
        except DataError as error:
            if self._stop.is_set():
                self.cancelled.emit()
            else:
                self.data_failed.emit(str(error))
            return
        if self._stop.is_set():
            self.cancelled.emit()
            return
        self.data_loaded.emit(len(data.train_labels), len(data.test_labels))

        config = self.config
        result = None
        continuing = dict(initial_state=self._initial_state, initial_history=self._initial_history)
        try:
            for event in fit(config, data, should_stop=self._should_stop, **continuing):
                if isinstance(event, training.BatchProgress):
                    self._pending_progress = event
                    self._pending_points.append((event.global_step, event.loss))
                    if time.monotonic() - self._last_emit >= self._interval:
                        self._flush()
                elif isinstance(event, training.ValidationResult):
                    self._flush()
                    self.validated.emit(event)
                elif isinstance(event, training.TrainingResult):
                    result = event
        except _Abandoned:
            return
        self._flush()
        if result is None:
            raise RuntimeError("training ended without a result")
        self.finished.emit(result)

    def _flush(self) -> None:
        if self._pending_progress is None:
            return
        self.batch_progressed.emit(self._pending_progress, self._pending_points)
        self._pending_progress = None
        self._pending_points = []
        self._last_emit = time.monotonic()

    def _on_download(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_data_emit >= self._interval or (total and done >= total):
            self._last_data_emit = now
            self.data_progressed.emit(int(done), int(total or 0))


class _Abandoned(Exception):
    """Raised out of the run's own stop check, at the next batch, once the run is abandoned."""


def limit_threads_for_background_work() -> None:
    """For the calling worker thread: leave a core for the GUI (training.training_threads),
    as this thread's own count (the GUI thread's single-threaded inference neither changes
    it nor is changed by it), and a lower priority."""
    from digitpad import training

    pin_torch_threads(training.training_threads(leave_core_for_gui=True))
    _lower_priority(TRAINER_NICENESS)


def _lower_priority(niceness: int) -> None:
    """Raise the calling thread's nice value (Linux: per thread; torch's pool threads inherit it)."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        thread_id = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, os.getpriority(os.PRIO_PROCESS, thread_id) + niceness))
    except OSError:  # not allowed here: train at the usual priority
        log.debug("could not lower the training thread's priority", exc_info=True)
