"""The model the window reads drawings with: loaded at start-up on a thread, then
replaced by File › Open, Revert, a finished training run or teaching.

It remembers the model for the next start (``paths.set_current_model``) and
tells the window what happened through signals; it shows no widgets but the
file dialogs and error boxes it is asked for.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from digitpad.gui import saved_settings
from digitpad.gui.messages import show_error
from digitpad.gui.model_loader import LoadedModel, ModelLoader, load_model_file, pin_torch_threads
from digitpad.gui.threads import WorkerThread

log = logging.getLogger(__name__)

MODEL_FILTER = "digitpad models (*.pt);;All files (*)"


class ModelInUse(QObject):
    """Holds the ``LoadedModel`` in use; ``model()`` is None while loading or if none could be loaded."""

    # A model is in use now, and whether its training curves should be shown.
    changed = Signal(object, bool)
    # No start-up model could be loaded: the message.
    failed = Signal(str)
    # A line for the status bar.
    status = Signal(str)
    # The devices this machine can train on (``devices.available()``), looked up by the loader.
    devices_found = Signal(object)

    def __init__(self, settings: QSettings, window: QWidget) -> None:
        super().__init__(window)
        self._settings = settings
        self._window = window
        self._model: LoadedModel | None = None
        self._failed = False
        self._loader: WorkerThread | None = None
        self._closing = False

    def model(self) -> LoadedModel | None:
        return self._model

    def has_failed(self) -> bool:
        """No start-up model could be loaded, and none has been opened or trained since."""
        return self._failed

    # ------------------------------------------------------------ start-up

    def start_loading(self) -> None:
        """Import torch and load the start-up model on a QThread (once)."""
        if self._closing or self._loader is not None or self._model is not None:
            return
        loader = ModelLoader()
        loader.loaded.connect(self._on_loaded)
        loader.failed.connect(self._on_failed)
        loader.training_prepared.connect(self.devices_found)
        self._loader = WorkerThread(loader, "digitpad-model-loader", self)
        self._loader.ended.connect(self._on_loader_ended)
        self._loader.start()

    @Slot(object, object)
    def _on_loaded(self, model: LoadedModel, notes: list[str]) -> None:
        # The user may have opened a model while the start-up one loaded.
        if self._closing or self._model is not None:
            return
        self.status.emit(" ".join(notes) if notes else "Ready. Draw a digit.")
        self.use(model, history=True)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._closing:
            return
        self._failed = True
        self.status.emit(message)
        self.failed.emit(message)

    @Slot()
    def _on_loader_ended(self) -> None:
        self._loader = None

    # ------------------------------------------------------------ changing

    def use(self, model: LoadedModel, history: bool) -> None:
        # Predictions run on the GUI thread: one image, one intra-op thread.
        pin_torch_threads(1)
        self._model = model
        self._failed = False
        self.changed.emit(model, history)

    def remember(self, path: Path) -> str:
        """Record ``path`` as the model for the next start; '' or a note saying why that failed."""
        from digitpad import paths

        try:
            paths.set_current_model(path)
        except OSError as error:
            log.warning("could not record the current model %s: %s", path, error)
            return f" It could not be recorded for the next start ({error.strerror or error})."
        return ""

    def open(self, path: Path) -> bool:
        """Use the model in ``path``; a bad file shows its problem and changes nothing."""
        from digitpad.checkpoint import CheckpointError

        try:
            model = load_model_file(path)
        except CheckpointError as error:
            show_error(self._window, "Could not open the model", str(error))
            return False
        except Exception as error:  # anything unforeseen must still leave the app usable
            log.exception("opening %s failed", path)
            show_error(self._window, "Could not open the model", f"{path} could not be opened: {error}")
            return False
        self._settings.setValue(saved_settings.LAST_MODEL_FOLDER, str(Path(path).parent))
        self.use(model, history=True)
        self.status.emit(f"Opened {path}.{self.remember(path)}")
        return True

    def save(self, path: Path) -> bool:
        from digitpad import checkpoint

        if self._model is None:
            return False
        if path.suffix == "":
            path = path.with_suffix(".pt")
        try:
            checkpoint.save(self._model.checkpoint, path)
        except checkpoint.CheckpointError as error:
            show_error(self._window, "Could not save the model", str(error))
            return False
        self._settings.setValue(saved_settings.LAST_MODEL_FOLDER, str(path.parent))
        self.status.emit(f"Saved the model to {path}.")
        return True

    @Slot()
    def revert_to_shipped(self) -> bool:
        from digitpad import paths
        from digitpad.checkpoint import CheckpointError

        shipped = paths.shipped_model_path()
        try:
            model = load_model_file(shipped)
        except CheckpointError as error:
            show_error(self._window, "Could not load the shipped model", str(error))
            return False
        self.use(model, history=True)
        self.status.emit(f"Using the shipped model again.{self.remember(shipped)}")
        return True

    # ------------------------------------------------------------ dialogs

    def _folder(self) -> str:
        from digitpad import paths

        remembered = saved_settings.read_str(self._settings, saved_settings.LAST_MODEL_FOLDER, "")
        if remembered and Path(remembered).is_dir():
            return remembered
        return str(paths.models_dir())

    @Slot()
    def ask_and_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open model", self._folder(), MODEL_FILTER)
        if path:
            self.open(Path(path))

    @Slot()
    def ask_and_save(self) -> None:
        if self._model is None:
            return
        suggested = str(Path(self._folder()) / f"{self._model.name}.pt")
        path, _ = QFileDialog.getSaveFileName(self._window, "Save model", suggested, MODEL_FILTER)
        if path:
            self.save(Path(path))

    # ------------------------------------------------------------ closing

    def close(self) -> None:
        """Join the loader (it finishes its load); nothing is emitted after this."""
        self._closing = True
        if self._loader is not None:
            self._loader.join()
            self._loader = None
