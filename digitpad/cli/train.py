"""``digitpad train``: train on MNIST without the app, with a progress bar on stderr."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from digitpad.cli.common import (
    EXIT_INTERRUPTED,
    UsageError,
    checked_out,
    exit_status,
    load_training_data,
    report_kept,
    say,
    show_progress,
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


def run(args: argparse.Namespace) -> int:
    start_from = None
    if args.start_from is not None:
        from digitpad import checkpoint

        start_from = checkpoint.load(args.start_from)
    config = train_config(args, start_from)
    out = checked_out(args, "train")

    import torch

    from digitpad.cli.progress import EpochBars
    from digitpad.data import validation_split
    from digitpad.runs import keep_result
    from digitpad.training import TrainingResult, fit, training_threads

    torch.set_num_threads(training_threads(leave_core_for_gui=False))
    with stop_on_interrupt("stopping after the current batch; the last complete model will be saved") as stop:
        data = load_training_data(args, stop, "train")
        if data is None:
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
                show_progress(bars, event)
                if isinstance(event, TrainingResult):
                    result = event

    assert result is not None, "fit() always ends with a TrainingResult"
    kept = keep_result(result, out=out)
    failed = report_kept(kept, result, out, "train", "training")
    if failed is not None:
        return failed
    print(f"test accuracy: {result.test_accuracy:.4f}", flush=True)
    return exit_status(kept, result, out)
