"""``digitpad eval``: a model's accuracy, per digit and as a confusion matrix, on MNIST's test images or on
labelled drawings (``--images DIR``)."""

from __future__ import annotations

import argparse

from digitpad.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError, load_model, say, stop_on_interrupt
from digitpad.config import NUM_CLASSES


def print_per_digit(evaluation) -> None:
    """Each digit's accuracy with its counts, then the confusion matrix."""
    from digitpad.evaluation import confusion_table

    confusion = evaluation.confusion
    print("per-digit accuracy:")
    for digit in range(NUM_CLASSES):
        count = int(confusion[digit].sum())
        right = int(confusion[digit, digit])
        accuracy = f"{right / count:.4f}" if count else "  n/a "
        print(f"  {digit}: {accuracy}  ({right}/{count})")
    print("confusion matrix (rows: the true digit, columns: the answer):")
    print(confusion_table(confusion), flush=True)


def run(args: argparse.Namespace) -> int:
    if args.images is not None and args.data_dir is not None:
        raise UsageError("digitpad eval: --images measures on your drawings, --data-dir on MNIST: give one of them")
    from digitpad.devices import resolve

    device = resolve(args.device)
    loaded, path = load_model(args)

    from digitpad.models import build_model

    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    model.to(device)
    print(f"model: {path} ({loaded.model_config.describe()})", flush=True)
    if args.images is not None:
        return _on_drawings(args, model, device)
    return _on_mnist(args, model, path, device)


def _on_mnist(args: argparse.Namespace, model, path, device) -> int:
    from digitpad import evaluation
    from digitpad.cli.progress import download_bar, new_bar
    from digitpad.data import DownloadCancelled, load_mnist

    with stop_on_interrupt("stopping") as stop:
        try:
            with download_bar() as report:
                data = load_mnist(args.data_dir, progress=report, should_stop=stop.is_set)
        except DownloadCancelled as cancelled:
            say(f"digitpad eval: {cancelled}")
            return EXIT_INTERRUPTED
        key = evaluation.data_key(data.test_images, data.test_labels)
        result = evaluation.load_cached(path, key)
        if result is None:
            with new_bar("evaluating", len(data.test_labels), unit="image") as bar:
                images, labels = data.test_images.to(device), data.test_labels.to(device)
                for event in evaluation.evaluate(model, images, labels, should_stop=stop.is_set):
                    if isinstance(event, evaluation.EvaluationProgress):
                        bar.update(event.done - bar.n)
                    else:
                        result = event
            if result is None:
                say("digitpad eval: stopped")
                return EXIT_INTERRUPTED
            evaluation.store_cached(path, key, result)
    print(f"test accuracy: {result.accuracy:.4f}")
    print(f"test loss: {result.loss:.4f}")
    print_per_digit(result)
    return EXIT_OK


def _on_drawings(args: argparse.Namespace, model, device) -> int:
    from digitpad.evaluation import evaluate_fully
    from digitpad.image_files import load_labelled_folder
    from digitpad.preprocess import normalize

    drawings = load_labelled_folder(args.images)
    for problem in drawings.problems:
        say(f"digitpad eval: {problem}")
    result = evaluate_fully(model, normalize(drawings.images).to(device), drawings.labels)
    skipped = f", {len(drawings.problems)} skipped (above)" if drawings.problems else ""
    print(f"drawings: {result.count} in {args.images}{skipped}")
    print(f"loss: {result.loss:.4f}")
    print_per_digit(result)
    print(f"accuracy: {result.accuracy:.4f}", flush=True)
    return EXIT_FAILED if drawings.problems else EXIT_OK
