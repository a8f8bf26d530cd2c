"""Runs training (and teaching) for the window: finds MNIST, starts a TrainingWorker on
its own thread, shows its events on the Training panel and, at the end, hands the
result to ``runs.keep_result`` and the new model to ``ModelInUse``.

Only the GUI thread runs this; the worker talks to it through signals.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtWidgets import QWidget

from digitpad.config import ConfigError, TrainConfig
from digitpad.gui import data_folder
from digitpad.gui.corrections import Corrections
from digitpad.gui.messages import show_error, show_information
from digitpad.gui.model_in_use import ModelInUse
from digitpad.gui.model_loader import LoadedModel, model_from_checkpoint
from digitpad.gui.threads import WorkerThread
from digitpad.gui.training_panel import TrainingPanel
from digitpad.gui.worker import TrainingWorker

if TYPE_CHECKING:
    from digitpad.runs import KeptRun
    from digitpad.teaching import TeachingResult
    from digitpad.training import BatchProgress, TrainingResult, ValidationResult

log = logging.getLogger(__name__)


class TrainingController(QObject):
    """Train and Stop on the Training panel; at most one run at a time."""

    started = Signal()
    # The run's thread has ended and the panel is ready for another run.
    ended = Signal()
    # A line for the status bar.
    status = Signal(str)

    def __init__(self, panel: TrainingPanel, models: ModelInUse, corrections: Corrections, settings: QSettings,
                 window: QWidget) -> None:
        super().__init__(window)
        self._panel = panel
        self._models = models
        self._corrections = corrections
        self._teaching = False  # the run teaches the person's drawings rather than training on MNIST
        self._settings = settings
        self._window = window
        self._run: WorkerThread | None = None
        self._batches_seen = False  # this run has trained at least one batch
        self._stopping = False  # Stop was pressed for this run
        self._closing = False
        # The stroke reader of the model a training run continues: the run trains the image network only.
        self._kept_stroke_reader: dict | None = None
        panel.train_button.clicked.connect(self.start_training)
        panel.teach_button.clicked.connect(self.start_teaching)
        panel.stop_button.clicked.connect(self.stop)

    def is_running(self) -> bool:
        return self._run is not None

    def is_teaching(self) -> bool:
        return self._run is not None and self._teaching

    def _what(self) -> str:
        return "Teaching" if self._teaching else "Training"

    def worker(self) -> TrainingWorker | None:
        """The running run's worker (for tests and benchmarks that listen to its signals)."""
        return self._run.worker if self._run is not None else None

    # ------------------------------------------------------------ starting

    @Slot()
    def start_training(self) -> None:
        """What the Train button does: check settings and data, then train on a QThread."""
        if self.is_running() or self._closing:
            return
        try:
            config = self._panel.build_train_config()
        except ConfigError as error:
            show_error(self._window, "Check the training settings", f"The training settings are not valid: {error}.")
            return
        self._panel.save_settings(self._settings)
        self._settings.sync()
        self._with_mnist("Training", lambda folder, download, note: self._launch_training(config, folder, download, note))

    @Slot()
    def start_teaching(self) -> None:
        """What the Teach button does: fine-tune the model in use on the person's drawings, mixed with MNIST."""
        if self.is_running() or self._closing:
            return
        from digitpad import teaching

        model = self._models.model()
        if model is None:
            show_error(self._window, "Nothing to teach yet",
                       "There is no model in use to teach. Train one, or open one from File › Open model.")
            return
        drawings = self._corrections.collection().drawings()
        try:
            teaching.check_enough(drawings)
        except teaching.NotEnoughDrawings as error:
            show_information(self._window, "More drawings needed", str(error))
            return
        self._with_mnist("Teaching", lambda folder, download, note: self._launch_teaching(model, drawings, folder,
                                                                                          download, note))

    def _with_mnist(self, what: str, launch) -> None:
        """Find MNIST (asking if need be), then ``launch(folder, download, note)``."""
        def ready(folder: Path, download: bool, note: str) -> None:
            if self._closing or self.is_running():
                return
            self._set_start_buttons(True)
            launch(folder, download, note)

        def declined(reason: str) -> None:
            self._set_start_buttons(not self.is_running())
            self.status.emit(f"{what} cancelled: {reason}" if reason else f"{what} cancelled.")

        asking = data_folder.find_mnist(self._window, self._settings, ready, declined)
        if asking:
            self._set_start_buttons(False)
            self.status.emit(asking)

    def _set_start_buttons(self, enabled: bool) -> None:
        self._panel.train_button.setEnabled(enabled)
        self._panel.teach_button.setEnabled(enabled)

    def _launch_training(self, config: TrainConfig, folder: Path, download: bool, note: str) -> None:
        initial_state = initial_history = None
        self._kept_stroke_reader = None
        model = self._models.model()
        if self._panel.continuing() and model is not None:
            initial_state = model.copy_of_weights()
            initial_history = getattr(model.checkpoint, "history", None)
            self._kept_stroke_reader = model.checkpoint.stroke_reader
        worker = TrainingWorker(config, folder, download=download, initial_state=initial_state,
                                initial_history=initial_history)
        what = "Continuing" if initial_state is not None else "Training a new"
        starting = f"{what} {config.model.describe()} for {config.epochs} epoch(s)…"
        self._start(worker, teaching=False, download=download,
                    status=f"{note} Using MNIST from {folder}. {starting}" if note else starting)

    def _launch_teaching(self, model: LoadedModel, drawings: list, folder: Path, download: bool, note: str) -> None:
        from digitpad.teaching import TeachConfig

        model_config, model_path = model.model_config, model.path

        def teach(config, data, should_stop=None, initial_state=None, initial_history=None):
            # On the worker's thread: what the model in use scored on MNIST is known if it was measured before.
            from digitpad import evaluation, teaching

            before = None
            if model_path is not None:
                before = evaluation.load_cached(model_path, evaluation.data_key(data.test_images, data.test_labels))
            return teaching.teach(model_config, initial_state, initial_history, drawings, data, config, should_stop,
                                  before=before, stroke_reader=stroke_reader)

        config = TeachConfig().with_changes(device=self._panel.build_train_config().device)
        stroke_reader = model.copy_of_stroke_reader()
        worker = TrainingWorker(config, folder, download=download, initial_state=model.copy_of_weights(),
                                initial_history=getattr(model.checkpoint, "history", None), fit=teach)
        starting = f"Teaching {model.name} your handwriting: {len(drawings)} drawings, mixed with MNIST…"
        self._start(worker, teaching=True, download=download, status=f"{note} {starting}" if note else starting)

    def _start(self, worker: TrainingWorker, teaching: bool, download: bool, status: str) -> None:
        worker.data_progressed.connect(self._on_data_progressed)
        worker.data_loaded.connect(self._on_data_loaded)
        worker.batch_progressed.connect(self._on_batch_progressed)
        worker.validated.connect(self._on_validated)
        worker.finished.connect(self._on_finished)
        worker.cancelled.connect(self._on_cancelled)
        worker.data_failed.connect(self._on_data_failed)
        worker.failed.connect(self._on_failed)
        self._run = WorkerThread(worker, "digitpad-teaching" if teaching else "digitpad-training", self)
        self._run.ended.connect(self._on_ended)
        self._teaching = teaching
        self._batches_seen = self._stopping = False
        self._panel.metrics_plot.reset()
        if teaching:
            self._panel.metrics_plot.mark_teaching(0)
        self._panel.set_training(True)
        self._panel.show_busy("Downloading MNIST…" if download else "Loading MNIST…")
        self.status.emit(status)
        self._run.start()
        self.started.emit()

    @Slot()
    def stop(self) -> None:
        if self._run is None:
            return
        self._run.stop()
        self._stopping = True
        self._panel.stop_button.setEnabled(False)
        if not self._batches_seen:
            self.status.emit("Stopping…")
            return
        # The stopped model is measured on the 10,000 test digits: a few seconds.
        self._panel.show_busy("Stopping: testing the model so far…")
        self.status.emit("Stopping after this batch, then testing the model trained so far…")

    # ------------------------------------------------------------ the worker's events

    @Slot(int, int)
    def _on_data_progressed(self, done: int, total: int) -> None:
        self._panel.show_download(done, total)

    @Slot(int, int)
    def _on_data_loaded(self, train_count: int, test_count: int) -> None:
        self._panel.show_busy("Starting…")
        if self._teaching:
            self.status.emit(f"Teaching: your drawings mixed with {train_count:,} MNIST digits; "
                             f"testing on {test_count:,}.")
        else:
            self.status.emit(f"Training on {train_count:,} MNIST digits; testing on {test_count:,}.")

    @Slot(object, object)
    def _on_batch_progressed(self, progress: BatchProgress, points: list) -> None:
        if self._closing:
            return
        self._batches_seen = True
        self._panel.show_batch_progress(progress, points, stopping=self._stopping)

    @Slot(object)
    def _on_validated(self, result: ValidationResult) -> None:
        if self._closing:
            return
        self._panel.metrics_plot.add_validation(result.global_step, result.loss, result.accuracy)
        if not self._stopping:
            self.status.emit(
                f"Epoch {result.epoch}: validation accuracy {result.accuracy * 100:.2f} %, loss {result.loss:.4f}"
            )

    @Slot(object)
    def _on_finished(self, result: TrainingResult) -> None:
        if self._closing:
            return
        self._panel.show_finished()
        self._panel.metrics_plot.set_history(result.history)
        if self._teaching:
            self._finish_teaching(result)
        else:
            self._finish_training(result)

    def _keep(self, result: TrainingResult, **options) -> KeptRun | None:
        """``runs.keep_result``, saying so when it fails or the run learned nothing (then None)."""
        from digitpad.runs import keep_result

        what = self._what()
        try:
            kept = keep_result(result, **options)
        except Exception as error:
            log.exception("could not use the model of the run")
            show_error(self._window, f"{what} finished, but…", f"The new model could not be used: {error}")
            return None
        if kept.learned_nothing:
            self._panel.set_progress_text("Stopped")
            self.status.emit(f"{what} stopped before the first batch; the model in use is unchanged.")
            return None
        return kept

    def _finish_teaching(self, result: TeachingResult) -> None:
        from digitpad import evaluation

        # A stopped lesson is kept as a file, but the model in use stays.
        kept = self._keep(result, prefix="taught", adopt_stopped=False, stroke_reader=result.stroke_reader)
        if kept is None:
            return
        if kept.saved:
            # It was measured on the test images already: the Test set view shows it at once.
            evaluation.store_cached(kept.path, result.evaluation_key, result.evaluation)
        if not kept.adopted:
            self._panel.set_progress_text("Stopped")
            where = f" was saved as {kept.path}" if kept.saved else " was not saved"
            self.status.emit(f"Teaching stopped; the model in use is unchanged (what was taught so far{where}).")
            return
        if not kept.saved:
            show_error(self._window, "Could not save the taught model",
                       f"{kept.save_problem} The taught model is still usable: File › Save model can save it elsewhere.")
        self._models.use(model_from_checkpoint(kept.checkpoint, kept.path), history=False)
        report = teaching_report(result)
        note = f" It could not be recorded for the next start ({kept.record_problem})." if kept.record_problem else ""
        self._panel.set_progress_text(f"Taught · MNIST {result.test_accuracy * 100:.2f} %")
        self.status.emit(f"The taught model is now in use. {report}{note}")
        show_information(self._window, "Taught", f"{report}\n\nThe taught model is now in use"
                         + (f", saved as {kept.path}." if kept.saved else ".")
                         + " File › Revert to shipped model goes back.")

    def _finish_training(self, result: TrainingResult) -> None:
        in_use = self._models.model()
        current = in_use.test_accuracy if in_use is not None else None
        kept = self._keep(result, current_accuracy=current, stroke_reader=self._kept_stroke_reader)
        if kept is None:
            return
        if not kept.saved:
            # What was learned stays usable all the same, and File › Save can keep it.
            show_error(self._window, "Could not save the trained model",
                       f"{kept.save_problem} The trained model is still usable: File › Save model can save it elsewhere.")
        accuracy = f"{result.test_accuracy * 100:.2f} %"
        if not kept.adopted:
            # A run cut short must not silently replace a better model.
            self._panel.set_progress_text(f"Stopped · {accuracy}")
            where = f"saved as {kept.path}" if kept.saved else "not saved"
            self.status.emit(
                f"Stopped. The partly trained model ({accuracy}) is less accurate than the one in use "
                f"({current * 100:.2f} %), so the model in use stays; the new one was {where}."
            )
            return
        self._models.use(model_from_checkpoint(kept.checkpoint, kept.path), history=False)
        note = f" It could not be recorded for the next start ({kept.record_problem})." if kept.record_problem else ""
        self._panel.set_progress_text(("Stopped" if result.stopped else "Done") + f" · test accuracy {accuracy}")
        verb = "Stopped early; the partly trained" if result.stopped else "Training finished. The new"
        self.status.emit(f"{verb} model is now in use: test accuracy {accuracy}.{note}")

    @Slot()
    def _on_cancelled(self) -> None:
        if self._closing:
            return
        self._panel.reset_progress("Cancelled")
        self.status.emit(f"{self._what()} cancelled before it began; the model in use is unchanged.")

    @Slot(str)
    def _on_data_failed(self, message: str) -> None:
        if self._closing:
            return
        self._panel.reset_progress("No data")
        show_error(self._window, "MNIST could not be loaded", message)
        self.status.emit(f"{self._what()} did not start: MNIST could not be loaded.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._closing:
            return
        self._panel.reset_progress("Failed")
        show_error(self._window, f"{self._what()} failed", message)
        self.status.emit(f"{self._what()} failed; the model in use is unchanged.")

    @Slot()
    def _on_ended(self) -> None:
        self._run = None
        if self._closing:
            return
        if self._panel.is_busy():
            self._panel.reset_progress("Not training")
        self._panel.set_training(False)
        self.ended.emit()

    # ------------------------------------------------------------ closing

    def close(self) -> None:
        """Stop the run (within a batch) and join its thread; nothing is shown after this."""
        self._closing = True
        if self._run is not None:
            self._run.stop_and_join()
            self._run = None



def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def teaching_report(result: TeachingResult) -> str:
    """Before and after, on the person's held-out drawings and on MNIST, in two sentences."""
    if result.holdout_count:
        yours = (f"Your {result.holdout_count} held-out drawings: {_percent(result.holdout_before)} right before, "
                 f"{_percent(result.holdout_after)} after (taught on the other {result.taught_count}).")
    else:
        yours = f"Taught on all {result.taught_count} of your drawings (none held out to measure)."
    return (f"{yours} MNIST test set: {result.mnist_before * 100:.2f} % before, "
            f"{result.test_accuracy * 100:.2f} % after.")
