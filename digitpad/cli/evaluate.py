"""``digitpad eval``: a model's accuracy, per digit and as a confusion matrix, on MNIST's test images or on
labelled drawings (``--images [DIR]``), with the app's answers to them."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitpad.cli.common import (
    EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, YOUR_COLLECTION, UsageError, load_model, say, stop_on_interrupt,
)
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

    folder = None if args.images is None else _drawings_folder(args.images)
    device = resolve(args.device)
    loaded, path = load_model(args)

    from digitpad.inference import networks_described
    from digitpad.models import build_model

    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    model.to(device)
    print(f"model: {path} ({networks_described(loaded.model_config, loaded.stroke_reader is not None)})", flush=True)
    if folder is not None:
        return _on_drawings(folder, model, loaded, device)
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


def _on_drawings(folder: Path, model, loaded, device) -> int:
    from digitpad.evaluation import evaluate_fully
    from digitpad.image_files import load_labelled_folder
    from digitpad.preprocess import normalize

    drawings = load_labelled_folder(folder)
    for problem in drawings.problems:
        say(f"digitpad eval: {problem}")
    result = evaluate_fully(model, normalize(drawings.images).to(device), drawings.labels)
    skipped = f", {len(drawings.problems)} skipped (above)" if drawings.problems else ""
    print(f"drawings: {result.count} in {folder}{skipped}")
    print(f"loss: {result.loss:.4f}")
    print_per_digit(result)
    strokes_unusable = print_app_answers(drawings, loaded, device)
    print(f"accuracy: {result.accuracy:.4f}", flush=True)
    return EXIT_FAILED if drawings.problems or strokes_unusable else EXIT_OK


def _drawings_folder(given: Path) -> Path:
    """The folder --images names, or the app's collection for --images alone."""
    from digitpad import paths
    from digitpad.image_files import ImageFolderError

    if given != YOUR_COLLECTION:
        return given
    folder = paths.my_digits_dir()
    if not folder.exists():
        raise ImageFolderError(f"You have collected no drawings yet (in {folder}): label drawings in the app's "
                               "My digits, or give a folder of labelled drawings, --images DIR.")
    return folder


def print_app_answers(drawings, loaded, device) -> bool:
    """The app's answers to the drawings, as pictures and, for those that kept their strokes, as drawn
    on the canvas; True if some drawing's strokes could not be used (each said on stderr)."""
    import numpy as np

    from digitpad import answers
    from digitpad.cli.progress import new_bar
    from digitpad.collection import strokes_beside
    from digitpad.inference import Classifier

    classifier = Classifier.from_checkpoint(loaded, device=device)
    drawn, drawn_at, unusable = [], [], False
    for index, path in enumerate(drawings.paths):
        strokes = strokes_beside(path)
        if isinstance(strokes, str):
            say(f"digitpad eval: {path.with_suffix('.json')}: {strokes}; the drawing is measured as a picture only")
            unusable = True
        elif strokes is not None:
            drawn.append(strokes)
            drawn_at.append(index)
    with new_bar("reading them as pictures", len(drawings.labels), unit="drawing") as bar:
        pictures = answers.as_pictures(classifier, drawings.images, drawings.labels, bar.update)
    on_canvas = None
    if drawn:  # the slow part: each drawing is redrawn from its strokes, about 2 ms each
        with new_bar("reading them from their strokes", len(drawn), unit="drawing") as bar:
            on_canvas = answers.as_drawn(classifier, drawn, drawings.labels[drawn_at], bar.update)
    print("as the app answers them (accuracy counts a drawing shown as \"not a digit\" by its closest digit):")
    print("| read | drawings | accuracy | named right | unsure | right when sure | not a digit |")
    print(_answers_row("as a picture, like predict", pictures))
    if on_canvas is None:
        print("from their strokes, like the canvas: none kept its strokes (the app keeps them in a JSON beside "
              "each drawing it collects)", flush=True)
        return unusable
    print(_answers_row("from its strokes, like the canvas", on_canvas))
    canvas, picture = on_canvas.right, pictures.right[drawn_at]
    print(f"the {on_canvas.count} drawn with strokes, canvas against picture: both right {np.sum(canvas & picture)}, "
          f"only the canvas right {np.sum(canvas & ~picture)}, only the picture right {np.sum(~canvas & picture)}, "
          f"both wrong {np.sum(~canvas & ~picture)}", flush=True)
    return unusable


def _answers_row(name: str, answers) -> str:
    def percent(share: float) -> str:
        return "n/a" if share != share else f"{share:.2%}"

    return (f"| {name} | {answers.count} | {percent(answers.accuracy)} | {percent(answers.named_right)} | "
            f"{percent(answers.unsure_share)} | {percent(answers.right_when_sure)} | "
            f"{percent(answers.not_a_digit_share)} |")
