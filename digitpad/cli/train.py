"""``digitpad train``: train on MNIST without the app, with a progress bar on stderr.

Started by torchrun (``torchrun --nproc_per_node=N -m digitpad train ...``) it is
one of N processes training together (digitpad.distributed): rank 0 alone prints,
shows progress and saves; the others train their shares quietly.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from digitpad.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    checked_out,
    exit_status,
    report_kept,
    say,
    show_progress,
    stop_on_interrupt,
)
from digitpad.config import ConfigError, TrainConfig

if TYPE_CHECKING:
    from pathlib import Path

    import torch

    from digitpad.checkpoint import Checkpoint
    from digitpad.data import MnistTensors
    from digitpad.distributed import Ranks


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
                      epochs=args.epochs, augment=args.augment, seed=args.seed, non_digit_share=args.non_digits,
                      device=args.device, mixed_precision=args.mixed_precision)
        return TrainConfig.defaults_for(arch, **{k: v for k, v in chosen.items() if v is not None})
    except ConfigError as error:
        raise UsageError(f"digitpad train: {error}") from None


def run(args: argparse.Namespace) -> int:
    from digitpad import distributed

    ranks = distributed.launched_ranks()
    start_from = None
    if args.start_from is not None:
        from digitpad import checkpoint

        start_from = checkpoint.load(args.start_from)
    config = train_config(args, start_from)
    if ranks.is_main:  # only rank 0 saves, so only it checks where
        out = checked_out(args, "train")
    else:
        out = args.out.expanduser().absolute() if args.out else None

    import torch

    from digitpad.devices import resolve
    from digitpad.training import training_threads

    device = resolve(config.device, ranks.local_rank)
    torch.set_num_threads(training_threads(leave_core_for_gui=False, processes_here=ranks.local_world_size))
    with distributed.process_group(ranks, device):
        return _train(args, config, start_from, out, ranks, device)


def _load_data(args: argparse.Namespace, ranks: Ranks, device: torch.device, should_stop) -> MnistTensors | None:
    """MNIST, downloaded if missing by the first process on each machine only; None if cancelled."""
    from contextlib import nullcontext

    from digitpad import distributed
    from digitpad.cli.progress import download_bar
    from digitpad.data import DownloadCancelled, load_mnist

    data = cancelled = None
    if ranks.local_rank == 0:
        try:
            with download_bar() if ranks.is_main else nullcontext() as report:
                data = load_mnist(args.data_dir, progress=report, should_stop=should_stop)
        except DownloadCancelled as error:
            cancelled = error
    # Every process votes here, so that the others only read MNIST once it is there.
    if distributed.any_rank(cancelled is not None, ranks, device):
        if ranks.is_main:
            say(f"digitpad train: {cancelled or 'stopped while another process loaded MNIST'}")
        return None
    return data if data is not None else load_mnist(args.data_dir, download=False)


def _train(args: argparse.Namespace, config: TrainConfig, start_from: Checkpoint | None, out: Path | None,
           ranks: Ranks, device: torch.device) -> int:
    from digitpad.cli.progress import EpochBars
    from digitpad.data import validation_split
    from digitpad.devices import describe
    from digitpad.runs import keep_result
    from digitpad.training import TrainingResult, fit

    stopping = "stopping after the current batch; the last complete model will be saved" if ranks.is_main else None
    with stop_on_interrupt(stopping) as stop:
        data = _load_data(args, ranks, device, stop.is_set)
        if data is None:
            return EXIT_INTERRUPTED
        # Continuing: its weights, and its curves to head the new run's.
        continuing = dict(initial_state=start_from.state_dict, initial_history=start_from.history) if start_from else {}
        if not ranks.is_main:
            for _ in fit(config, data, should_stop=stop.is_set, **continuing):
                pass
            return EXIT_OK

        train_index, validation_index = validation_split(len(data.train_images), config.validation_size, config.seed)
        each = "its own CUDA GPU" if device.type == "cuda" else describe(device)
        where = f"on {describe(device)}" if not ranks.distributed else f"in {ranks.world_size} processes, each on {each}"
        say(f"{'continuing' if start_from else 'training'} a {config.model.describe()} on {len(train_index)} images "
            f"({len(validation_index)} held out for validation, {len(data.test_images)} for the test) "
            f"from {data.source}, {where}")

        result = None
        with EpochBars() as bars:
            for event in fit(config, data, should_stop=stop.is_set, **continuing):
                show_progress(bars, event)
                if isinstance(event, TrainingResult):
                    result = event

    assert result is not None, "fit() always ends with a TrainingResult"
    # Continuing changes the image network only: a stroke reader the model had is kept with it.
    kept = keep_result(result, out=out, stroke_reader=start_from.stroke_reader if start_from else None)
    failed = report_kept(kept, result, out, "train", "training")
    if failed is not None:
        return failed
    print(f"test accuracy: {result.test_accuracy:.4f}", flush=True)
    return exit_status(kept, result, out)
