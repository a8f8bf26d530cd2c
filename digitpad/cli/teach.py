"""``digitpad teach``: teach a model a person's handwriting from their labelled drawings, as the app's Teach
button does."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitpad.cli.common import (
    EXIT_INTERRUPTED,
    UsageError,
    checked_out,
    exit_status,
    load_training_data,
    load_model,
    report_kept,
    say,
    show_progress,
    stop_on_interrupt,
)
from digitpad.config import ConfigError, TeachConfig


def teach_config(args: argparse.Namespace) -> TeachConfig:
    try:
        return TeachConfig(epochs=args.epochs, holdout_fraction=args.holdout, seed=args.seed, device=args.device)
    except ConfigError as error:
        raise UsageError(f"digitpad teach: {error}") from None


def collected_drawings(directory: Path | None) -> tuple[list, Path]:
    """The drawings to teach from (the app's collection by default), saying on stderr what was skipped."""
    from digitpad import paths
    from digitpad.collection import Collection
    from digitpad.image_files import digit_folders
    from digitpad.teaching import NotEnoughDrawings

    folder = directory.expanduser().absolute() if directory is not None else paths.my_digits_dir()
    if directory is None and not folder.exists():
        raise NotEnoughDrawings(0)
    _, skipped = digit_folders(folder)
    collection = Collection(folder)
    drawings = collection.drawings()
    for problem in [*collection.problems, *skipped]:
        say(f"digitpad teach: {problem}")
    return drawings, folder


def run(args: argparse.Namespace) -> int:
    config = teach_config(args)
    drawings, folder = collected_drawings(args.directory)
    from digitpad.devices import resolve

    resolve(config.device)  # a device this machine lacks fails here, before any work

    from digitpad.teaching import check_enough

    check_enough(drawings)
    loaded, model_path = load_model(args)
    out = checked_out(args, "teach")

    import torch

    from digitpad import evaluation
    from digitpad.cli.progress import EpochBars
    from digitpad.runs import keep_result
    from digitpad.teaching import TeachingResult, teach
    from digitpad.training import training_threads

    torch.set_num_threads(training_threads(leave_core_for_gui=False))
    with stop_on_interrupt("stopping after the current batch; the model taught so far will be saved, "
                           "but the model in use stays current") as stop:
        data = load_training_data(args, stop, "teach")
        if data is None:
            return EXIT_INTERRUPTED
        say(f"teaching {model_path} ({loaded.model_config.describe()}) {len(drawings)} drawings from {folder}, "
            f"mixed with MNIST from {data.source}")
        key = evaluation.data_key(data.test_images, data.test_labels)
        result = None
        with EpochBars() as bars:
            for event in teach(loaded.model_config, loaded.state_dict, loaded.history, drawings, data, config,
                               should_stop=stop.is_set, before=evaluation.load_cached(model_path, key),
                               stroke_reader=loaded.stroke_reader):
                show_progress(bars, event, "held-out drawings")
                if isinstance(event, TeachingResult):
                    result = event

    assert result is not None, "teach() always ends with a TeachingResult"
    kept = keep_result(result, out=out, prefix="taught", adopt_stopped=False, stroke_reader=result.stroke_reader)
    failed = report_kept(kept, result, out, "teach", "teaching")
    if failed is not None:
        return failed
    evaluation.store_cached(kept.path, key, result.evaluation)
    print(f"taught {result.taught_count} drawings, held out {result.holdout_count} (seed {config.seed})")
    if result.holdout_count:
        print(f"held-out drawings: before {result.holdout_before:.4f}, after {result.holdout_after:.4f}")
    print(f"MNIST test accuracy: before {result.mnist_before:.4f}, after {result.test_accuracy:.4f}", flush=True)
    return exit_status(kept, result, out)
