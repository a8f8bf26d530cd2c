"""What becomes of a finished or stopped run: where it is saved, whether it replaces
the model in use, and what is recorded as the current model.

The CLI and the app both call ``keep_result``; they differ only in how they tell
the person what happened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from digitpad import checkpoint, paths

if TYPE_CHECKING:
    from digitpad.checkpoint import Checkpoint
    from digitpad.training import TrainingResult


@dataclass(frozen=True)
class KeptRun:
    """The outcome of ``keep_result``."""

    checkpoint: Checkpoint | None  # None: nothing was learned, so nothing was kept
    path: Path | None  # where it was saved; None if it could not be saved
    # It replaces the model in use. A run cut short that tests worse than the model in use does not.
    adopted: bool
    # It was recorded as the current model, for the next start and the commands.
    recorded: bool
    # Why it could not be saved (whole sentences), or None.
    save_problem: str | None = None
    # Why it could not be recorded as the current model (the system's reason), or None.
    record_problem: str | None = None

    @property
    def learned_nothing(self) -> bool:
        return self.checkpoint is None

    @property
    def saved(self) -> bool:
        return self.path is not None


def is_finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def learned_nothing(result: TrainingResult) -> bool:
    """Stopped before its first step: the weights are the ones it started from."""
    # A TeachingResult counts its steps: its history starts with the curves of the model it was taught from.
    steps = getattr(result, "steps", None)
    if isinstance(steps, int):
        return bool(result.stopped) and steps == 0
    history = result.history if isinstance(result.history, dict) else {}
    return bool(result.stopped) and not history.get("train_step")


def keep_result(
    result: TrainingResult,
    out: Path | None = None,
    current_accuracy: float | None = None,
    prefix: str = "trained",
    adopt_stopped: bool = True,
    stroke_reader: dict | None = None,
) -> KeptRun:
    """Save ``result`` and decide whether it becomes the model in use.

    Without ``out`` it goes into the models folder (a new ``prefix-DATE.pt``) and,
    if adopted, is recorded as the current model. With ``out`` it is only written
    there. ``current_accuracy`` is the MNIST test accuracy of the model in use, if
    any: a stopped run that tests worse is saved but not adopted. With
    ``adopt_stopped`` False no stopped run is adopted (teaching: there Stop keeps
    the model in use). Saving problems do not raise: the checkpoint is returned
    all the same, so what was learned stays usable in memory. ``stroke_reader``:
    the stroke reader's weights to save with the new model: the one the run
    started from (training teaches the image network only), or the one
    teaching taught.
    """
    if learned_nothing(result):
        return KeptRun(None, None, adopted=False, recorded=False)

    def named(name: str) -> Checkpoint:
        kept = checkpoint.from_result(result, name)
        kept.stroke_reader = stroke_reader
        return kept

    worse = (
        result.stopped
        and current_accuracy is not None
        and is_finite(result.test_accuracy)
        and result.test_accuracy < current_accuracy
    )
    return keep_checkpoint(named, out, prefix, adopt=not worse and (adopt_stopped or not result.stopped))


def keep_checkpoint(named: Callable[[str], Checkpoint], out: Path | None, prefix: str, adopt: bool) -> KeptRun:
    """Save the checkpoint ``named(name)`` makes, and record it as the current model if ``adopt``.

    Without ``out`` it goes into the models folder (a new ``prefix-DATE.pt``,
    whose stem is its name) and may be adopted; with ``out`` it is only written
    there. Saving problems do not raise (see ``keep_result``).
    """
    save_problem = record_problem = None
    try:
        path: Path | None = out if out is not None else paths.new_model_path(prefix)
    except OSError as error:
        path = None
        save_problem = f"Could not save the model in {paths.models_dir()}: {error.strerror or error}."
    kept = named(path.stem if path is not None else f"{prefix}-unsaved")
    if path is not None:
        try:
            checkpoint.save(kept, path)
        except checkpoint.CheckpointError as error:
            save_problem = str(error)
            path = None
    adopted = adopt and out is None
    recorded = False
    if adopted and path is not None:
        try:
            paths.set_current_model(path)
            recorded = True
        except OSError as error:
            record_problem = str(error.strerror or error)
    return KeptRun(kept, path, adopted, recorded, save_problem, record_problem)
