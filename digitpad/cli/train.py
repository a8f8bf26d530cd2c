"""``digitpad train``: train on MNIST without the app, with progress bars on stderr."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from digitpad.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    say,
    stop_on_interrupt,
)
from digitpad.config import ConfigError, TrainConfig

if TYPE_CHECKING:
    from digitpad.checkpoint import Checkpoint


def train_config(args: argparse.Namespace, start_from: Checkpoint | None = None) -> TrainConfig:
    """The run's settings; continuing ``start_from`` (a Checkpoint) keeps its model."""
    model_options = dict(arch=args.arch, hidden=args.hidden, channels=args.channels, dropout=args.dropout)
    if start_from is not None:
        given = [f"--{name}" for name, value in model_options.items() if value is not None]
        if given:
            raise UsageError(f"digitpad train: --from keeps the saved model's architecture; drop {', '.join(given)}")
        model = start_from.model_config
        model_options = dict(arch=model.arch, hidden=model.hidden, channels=model.channels, dropout=model.dropout)
    arch = model_options.pop("arch") or TrainConfig().model.arch
    try:
        chosen = dict(**model_options, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                      epochs=args.epochs, augment=args.augment, seed=args.seed, non_digit_share=args.non_digits)
        return TrainConfig.defaults_for(arch, **{k: v for k, v in chosen.items() if v is not None})
    except ConfigError as error:
        raise UsageError(f"digitpad train: {error}") from None


def _check_output_path(out: Path) -> None:
    """Fail before training rather than after it."""
    if out.is_dir():
        raise UsageError(f"digitpad train: --out {out} is a folder; give a file name such as {out / 'model.pt'}")
    folder = next((parent for parent in [out.parent, *out.parent.parents] if parent.exists()), None)
    if folder is not None and not _writable(folder):
        raise UsageError(f"digitpad train: cannot write the model to {out}: {folder} is not writable")


def _check_models_folder() -> None:
    """Without --out the model goes into the models folder: fail before training, not after it."""
    from digitpad import paths
    from digitpad.checkpoint import CheckpointError

    folder = paths.models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(
            f"cannot save models in {folder} ({error.strerror or error}); pass --out PATH to save elsewhere"
        ) from None
    if not _writable(folder):
        raise CheckpointError(f"cannot save models in {folder}: it is not writable; pass --out PATH to save elsewhere")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def run(args: argparse.Namespace) -> int:
    start_from = None
    if args.start_from is not None:
        from digitpad import checkpoint

        start_from = checkpoint.load(args.start_from)
    config = train_config(args, start_from)
    out = args.out.expanduser().absolute() if args.out else None
    if out is not None:
        _check_output_path(out)
    else:
        _check_models_folder()

    import torch

    from digitpad.cli.progress import EpochBars, download_bar
    from digitpad.data import DownloadCancelled, load_mnist, validation_split
    from digitpad.runs import keep_result
    from digitpad.training import BatchProgress, TrainingResult, ValidationResult, fit, training_threads

    torch.set_num_threads(training_threads(leave_core_for_gui=False))
    with stop_on_interrupt("stopping after the current batch; the last complete model will be saved") as stop:
        try:
            with download_bar() as report:
                data = load_mnist(args.data_dir, progress=report, should_stop=stop.is_set)
        except DownloadCancelled as cancelled:
            say(f"digitpad train: {cancelled}")
            return EXIT_INTERRUPTED
        train_index, validation_index = validation_split(len(data.train_images), config.validation_size, config.seed)
        say(f"{'continuing' if start_from else 'training'} a {config.model.describe()} on {len(train_index)} images "
             f"({len(validation_index)} held out for validation, {len(data.test_images)} for the test) "
             f"from {data.source}")

        result = None
        # Continuing: its weights, and its curves to head the new run's.
        continuing = dict(initial_state=start_from.state_dict, initial_history=start_from.history) if start_from else {}
        with EpochBars() as bars:
            for event in fit(config, data, should_stop=stop.is_set, **continuing):
                if isinstance(event, BatchProgress):
                    bars.show(event)
                elif isinstance(event, ValidationResult):
                    bars.print(f"epoch {event.epoch} validation: loss {event.loss:.4f}, "
                               f"accuracy {event.accuracy:.4f} ({event.elapsed:.1f} s)")
                elif isinstance(event, TrainingResult):
                    result = event

    assert result is not None, "fit() always ends with a TrainingResult"
    kept = keep_result(result, out=out)
    if kept.learned_nothing:
        say("digitpad train: stopped before the first training step; nothing was saved")
        return EXIT_INTERRUPTED
    if not kept.saved:
        say(f"digitpad train: {kept.save_problem}")
        return EXIT_FAILED
    if out is not None:
        say(f"saved the model to {kept.path}")
    elif kept.recorded:
        say(f"saved the model to {kept.path}; it is now the app's current model")
    else:
        say(f"digitpad train: saved the model to {kept.path}, but could not make it the app's current model "
            f"({kept.record_problem})")
    if result.stopped:
        say("training was stopped early: the saved model is the last complete one")
    print(f"test accuracy: {result.test_accuracy:.4f}", flush=True)
    return EXIT_INTERRUPTED if result.stopped else EXIT_OK if kept.recorded or out is not None else EXIT_FAILED
