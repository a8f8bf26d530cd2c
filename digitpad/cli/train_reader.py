"""``digitpad train --stroke-reader --from PATH``: give a saved model a stroke reader.

The model keeps its image network as it is; a stroke reader
(``digitpad.stroke_reader``) is trained beside it on MNIST's training digits
traced into strokes, and the two are saved together. The first run traces
MNIST (about 16 minutes on 2 cores, then cached).
"""

from __future__ import annotations

import argparse
import dataclasses

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

# Options that shape or train the image network, which this leaves alone.
_IMAGE_OPTIONS = ("arch", "hidden", "channels", "dropout", "optimizer", "augment", "non_digits")


def reader_settings(args: argparse.Namespace):
    from digitpad.stroke_training import ReaderSettings

    given = [f"--{name.replace('_', '-')}" for name in _IMAGE_OPTIONS if getattr(args, name, None) is not None]
    if given:
        raise UsageError(f"digitpad train: --stroke-reader leaves the image network as it is; drop {', '.join(given)}")
    if args.start_from is None:
        raise UsageError("digitpad train: --stroke-reader adds a stroke reader to a saved model; give --from PATH")
    chosen = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    return ReaderSettings(**{key: value for key, value in chosen.items() if value is not None})


def run(args: argparse.Namespace) -> int:
    from digitpad import checkpoint
    from digitpad.runs import KeptRun, keep_checkpoint

    settings = reader_settings(args)
    start_from = checkpoint.load(args.start_from)
    out = checked_out(args, "train")

    import torch

    from digitpad.cli.progress import EpochBars, new_bar
    from digitpad.stroke_training import ReaderResult, fit_reader, traced_mnist
    from digitpad.training import training_threads

    torch.set_num_threads(training_threads(leave_core_for_gui=False))
    with stop_on_interrupt("stopping after the current batch; the stroke reader so far will be saved") as stop:
        data = load_training_data(args, stop, "train")
        if data is None:
            return EXIT_INTERRUPTED
        bar = None

        def traced_so_far(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = new_bar("tracing MNIST into strokes (once; cached)", total, unit="digit")
            bar.update(done - bar.n)

        try:
            traced = traced_mnist(data, traced_so_far, stop.is_set)
        finally:
            if bar is not None:
                bar.close()
        if traced is None:
            say("digitpad train: stopped while tracing MNIST; nothing was saved")
            return EXIT_INTERRUPTED
        say(f"training a stroke reader for {start_from.name} ({start_from.model_config.describe()}) on "
            f"{len(traced.train_fine) - settings.validation_size} traced digits")
        result = None
        with EpochBars() as bars:
            for event in fit_reader(traced, data, settings, should_stop=stop.is_set):
                show_progress(bars, event)
                if isinstance(event, ReaderResult):
                    result = event

    assert result is not None, "fit_reader() always ends with a ReaderResult"
    if result.steps == 0:
        kept = KeptRun(None, None, adopted=False, recorded=False)
    else:
        metrics = dict(start_from.metrics, stroke_reader_test_accuracy=result.test_accuracy,
                       stroke_reader_training_seconds=result.elapsed, stroke_reader_stopped_early=result.stopped)
        kept = keep_checkpoint(
            lambda name: dataclasses.replace(start_from, stroke_reader=result.state_dict, metrics=metrics, name=name),
            out, prefix="reader", adopt=True)
    failed = report_kept(kept, result, out, "train", "training")
    if failed is not None:
        return failed
    print(f"stroke reader test accuracy (MNIST test digits traced): {result.test_accuracy:.4f}", flush=True)
    return exit_status(kept, result, out)
