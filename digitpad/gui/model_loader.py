"""Loading models off the GUI thread at start-up, plus the small adapter the
window keeps for the model in use (classifier + checkpoint + where it came from).

After the start-up model, the same thread gets training ready
(``prepare_training``), so the first Train click does not wait for it.

Nothing here imports torch at module import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal, Slot

from digitpad.gui import collector

if TYPE_CHECKING:  # torch is imported only once the window is up
    from digitpad.checkpoint import Checkpoint
    from digitpad.config import ModelConfig
    from digitpad.inference import Classifier

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """The model in use. ``checkpoint`` is kept so Save can write it back with its history."""

    classifier: Classifier
    checkpoint: Checkpoint
    path: Path | None

    @property
    def name(self) -> str:
        from digitpad import paths

        if self.path is not None and Path(self.path) == paths.shipped_model_path():
            return "the shipped model"
        return str(getattr(self.checkpoint, "name", "") or (self.path.stem if self.path else "model"))

    @property
    def model_config(self) -> ModelConfig:
        return self.checkpoint.model_config

    @property
    def test_accuracy(self) -> float | None:
        return self.classifier.test_accuracy

    def describe(self) -> str:
        accuracy = self.test_accuracy
        parts = [self.name, self.classifier.networks]
        parts.append(f"test accuracy {accuracy * 100:.2f} %" if accuracy is not None else "test accuracy unknown")
        return " · ".join(parts)

    def describe_lines(self) -> str:
        """For the window's model label: name, architecture (and stroke reader) and accuracy, a line each."""
        accuracy = self.test_accuracy
        tested = f"{accuracy * 100:.2f} % on the MNIST test set" if accuracy is not None else "accuracy not measured"
        # The reader on a line of its own: appended, it wrapped mid-phrase in the prediction panel.
        reader = "\n+ a stroke reader" if self.classifier.stroke_reader is not None else ""
        return f"Model in use: {self.name}\n{self.model_config.describe()}{reader}\n{tested}"

    def copy_of_weights(self) -> dict:
        """A private copy of the weights, safe to hand to another thread."""
        return _private_copy(self.checkpoint.state_dict)

    def copy_of_stroke_reader(self) -> dict | None:
        """A private copy of the stroke reader's weights, or None for a model without one."""
        reader = self.checkpoint.stroke_reader
        return None if reader is None else _private_copy(reader)


def _private_copy(state_dict: dict) -> dict:
    return {key: value.detach().clone() for key, value in state_dict.items()}


def pin_torch_threads(count: int) -> None:
    """Give the calling thread ``count`` intra-op threads, whatever other threads set later.

    With OpenMP (torch's CPU builds) the count belongs to each thread, but a
    thread adopts torch's process-wide default the first time it runs a
    parallel op; asking for the count first settles that. So the GUI thread's
    inference keeps 1 thread while the trainer sets its own, and vice versa.
    One 28x28 image gains nothing from a second thread, and on a busy machine
    that thread waits for a core, which makes a forward pass many times slower
    (tests/bench/RESULTS.md, "Figures behind the code's choices").
    """
    import torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


def warm_up(classifier: Classifier) -> None:
    """One prediction, the canvas's way, so the first real one is not slowed by lazy imports and initialisation."""
    from digitpad.strokes import Stroke

    classifier.predict_strokes([Stroke(0.08, [(0.0, -0.3), (0.0, 0.3)])])


def model_from_checkpoint(checkpoint: Checkpoint, path: Path | None) -> LoadedModel:
    from digitpad.inference import Classifier

    # The classifier has its own copy of the weights (in channels-last order);
    # the checkpoint's tensors stay as they were, for Save and for training on.
    return LoadedModel(Classifier.from_checkpoint(checkpoint), checkpoint, path)


def load_model_file(path: Path) -> LoadedModel:
    """Load and validate a checkpoint file; raises CheckpointError with a user-facing message."""
    from digitpad import checkpoint

    return model_from_checkpoint(checkpoint.load(path), Path(path))


def load_startup_model() -> tuple[LoadedModel, list[str]]:
    """The user's current model, or the shipped one (with a note saying why)."""
    import torch  # noqa: F401  (the big import, timed on its own for the start-up trace)

    from digitpad import checkpoint
    from digitpad.gui import startup_trace

    startup_trace.mark("torch_imported")
    loaded, path, notes = checkpoint.load_current_model()
    model = model_from_checkpoint(loaded, path)
    pin_torch_threads(1)
    warm_up(model.classifier)
    return model, notes


def prepare_training() -> tuple[str, ...]:
    """What the first Train click would otherwise wait for: torch.optim's first
    optimizer imports torch._dynamo (about a second). Returns the devices this
    machine can train on (devices.available())."""
    from digitpad import devices, training

    training.warm_up_optimizers()
    return devices.available()


class ModelLoader(QObject):
    """Imports torch and loads the start-up model on its own QThread, then prepares training."""

    loaded = Signal(object, object)  # LoadedModel, list[str] notes
    failed = Signal(str)
    # Training is ready to start at once: the devices it can use, most preferred first.
    training_prepared = Signal(object)

    def __init__(self, load: Callable[[], tuple[LoadedModel, list[str]]] | None = None,
                 prepare: Callable[[], tuple[str, ...]] | None = None) -> None:
        super().__init__()
        self._load = load or load_startup_model
        self._prepare = prepare or prepare_training

    @Slot()
    def run(self) -> None:
        try:
            # torch's import makes a great many objects; see collector.py.
            with collector.paused_and_frozen():
                model, notes = self._load()
        except Exception as error:
            # A missing or bad file is expected (its message says it all); anything else gets a traceback.
            expected = type(error).__name__ == "CheckpointError"
            log.warning("no model could be loaded: %s", error, exc_info=not expected)
            # A CheckpointError is already whole sentences (possibly several); anything else is wrapped as one.
            why = str(error) if expected else f"Loading it failed unexpectedly ({error or type(error).__name__})."
            self.failed.emit(
                f"No model could be loaded. {why} Drawing works; train a model with the Train button "
                "or open one from File › Open model."
            )
        else:
            self.loaded.emit(model, notes)
        try:
            with collector.paused_and_frozen():
                available = self._prepare()
        except Exception:  # training will meet the same problem and report it
            log.warning("could not prepare training in the background", exc_info=True)
        else:
            self.training_prepared.emit(available)
        finally:
            QThread.currentThread().quit()
