"""Drawn-digit accuracy: replay the MNIST test digits' pen strokes on the real canvas.

Each sample is drawn with real mouse events (press, moves with the left button
held, release) on the app's DrawingCanvas at its default pen width (or
``--pen-width``), then classified along the app's own path (the canvas's
strokes redrawn with an even pen -> preprocess -> model). In the same run, the
same drawing is also classified as a picture: saved as a 280x280 PNG (ink on
paper and light on dark, alternately) and read the way ``digitpad predict``
reads a file; from the canvas's pixels, with the same preprocessing (the app's
path before the redraw); and the naive way other apps use: the whole canvas
shrunk to 28x28.

``--writers proxy`` draws every sample as a new random writer on a tablet
(proxy_writers.py: slants, tilts, crossed 7s, hooks, wobbles, dense uneven
sampling), a proxy for many real writers; ``mnist`` (the default) replays the
strokes as they are.

The strokes are skeletons of the MNIST test images, sample for sample, so the
run also classifies those original images with the same model, and splits the
drawn errors into those MNIST's own image gets wrong too and those lost when
the digit was thinned to strokes. ``--errors-png`` saves every drawn error
beside its original image, to look at.

``--strokes fine`` replays the same digits traced from a finer skeleton
(fine_strokes.py), which keeps detail ../shared/strokes lost.

    QT_QPA_PLATFORM=offscreen python tests/bench/drawn_digits.py [--limit N] [--checkpoint PATH] [--redraw-span PX]
        [--strokes shared|fine]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_process import SHARED_MNIST  # noqa: E402
from proxy_writers import proxy_strokes  # noqa: E402
from fine_strokes import add_stroke_set_argument, load_strokes  # noqa: E402
from stroke_replay import drag, draw_sample, redraw_at  # noqa: E402
from writers import style_map  # noqa: E402

PNG_SIDE = 280


def saved_picture_prediction(classifier, canvas_image: np.ndarray, number: int, folder: Path):
    """The drawing as ``digitpad predict`` reads a picture of it: a 280x280 PNG, light on dark for odd
    ``number``s and ink on paper for even ones, read back from the file."""
    from PIL import Image, ImageOps

    from digitpad.image_files import read_image

    picture = Image.fromarray(canvas_image).resize((PNG_SIDE, PNG_SIDE), Image.Resampling.LANCZOS)
    if number % 2 == 0:
        picture = ImageOps.invert(picture)
    path = folder / f"{number}.png"
    picture.save(path)
    return classifier.predict(read_image(path))


def naive_prediction(classifier, canvas_image: np.ndarray):
    """The other apps' method: shrink the whole canvas to 28x28."""
    from PIL import Image

    from digitpad.inference import Prediction
    from digitpad.preprocess import normalize

    small = np.asarray(Image.fromarray(canvas_image).resize((28, 28), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    probabilities = classifier.probabilities(normalize(small))[0]
    digit = int(probabilities.argmax())
    return Prediction(digit, float(probabilities[digit]), probabilities, small)


def mnist_test_images(data_dir: Path):
    """The normalized MNIST test images, or None (with a note) where the folder lacks them."""
    from digitpad.data import DataError, load_mnist

    try:
        return load_mnist(data_dir, download=False).test_images
    except DataError as error:
        print(f"(no split of the errors by source: {error})")
        return None


def print_error_sources(classifier, test_images, chosen: np.ndarray, truth: np.ndarray, app_right: np.ndarray) -> None:
    """How many drawn errors the model also makes on the very MNIST image the strokes were made from."""
    originals = test_images[chosen]
    original_digits = np.concatenate(
        [classifier.probabilities(originals[start:start + 1000]).argmax(axis=1) for start in range(0, len(chosen), 1000)]
    )
    original_right = original_digits == truth
    errors = ~app_right
    print(f"the same model on the original MNIST images of these samples: {original_right.mean():.2%}")
    print(f"drawn errors: {errors.sum()}; also wrong on the original image: {(errors & ~original_right).sum()}; "
          f"right on the original, lost in the strokes: {(errors & original_right).sum()}")


def save_error_sheet(path: Path, test_images, chosen, truth, app_predictions, model_inputs) -> None:
    """Each drawn error: the MNIST image it was thinned from, then what the model was shown."""
    from PIL import Image, ImageDraw

    from digitpad.config import MNIST_MEAN, MNIST_STD

    wrong = np.flatnonzero(app_predictions != truth)
    zoom, columns = 3, 8
    cell_width, cell_height = 2 * 28 * zoom + 16, 28 * zoom + 16
    rows = max(1, -(-len(wrong) // columns))
    sheet = Image.new("L", (columns * cell_width, rows * cell_height), 255)
    pen = ImageDraw.Draw(sheet)
    for slot, position in enumerate(wrong):
        left, top = (slot % columns) * cell_width, (slot // columns) * cell_height
        pictures = [model_inputs[position]]
        if test_images is not None:
            pictures.insert(0, test_images[chosen[position], 0].numpy() * MNIST_STD + MNIST_MEAN)
        for offset, ink in enumerate(pictures):
            dark_on_light = (255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)
            picture = Image.fromarray(dark_on_light).resize((28 * zoom, 28 * zoom), Image.Resampling.NEAREST)
            sheet.paste(picture, (left + offset * (28 * zoom + 4), top))
        pen.text((left, top + 28 * zoom + 2), f"#{chosen[position]}: a {truth[position]}, read as {app_predictions[position]}", fill=0)
    sheet.save(path)
    layout = "left: the MNIST test image; right: what the model was shown" if test_images is not None else "what the model was shown"
    print(f"errors drawn into {path} ({layout})")


def writing_style(rotate_degrees: float, slant: float, aspect: float) -> np.ndarray | None:
    """writers.style_map's turn, slant and stretch; None for none, so the strokes are replayed untouched."""
    if rotate_degrees == 0 and slant == 0 and aspect == 1:
        return None
    return style_map(rotate_degrees, slant, aspect)


def print_confusion(labels: np.ndarray, predictions: np.ndarray) -> None:
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (labels, predictions), 1)
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for digit in range(10):
        print(f"{digit:>6}" + "".join(f"{n:>6}" for n in matrix[digit]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10000, help="samples to replay (a seeded random subset if < 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="model to measure (default: the shipped model)")
    parser.add_argument("--side", type=int, default=360, help="canvas side in pixels")
    parser.add_argument("--placement", choices=("person", "mnist"), default="person",
                        help="person: seeded random size (0.7-1.3x) and position, as people draw; "
                             "mnist: exactly where MNIST's frame puts the digit")
    add_stroke_set_argument(parser)
    parser.add_argument("--writers", choices=("mnist", "proxy"), default="mnist",
                        help="mnist: the strokes as they are; proxy: each sample as a new random writer on a tablet")
    parser.add_argument("--pen-width", type=float,
                        help="pen width as a fraction of the canvas side (default: the app's default)")
    parser.add_argument("--rotate", type=float, default=0.0, metavar="DEGREES",
                        help="turn every digit by this much (clockwise on screen), as people tilt their writing")
    parser.add_argument("--slant", type=float, default=0.0,
                        help="shear every digit: x moves by this times the height above the baseline (0.2 leans right)")
    parser.add_argument("--aspect", type=float, default=1.0, help="stretch every digit's width by this factor")
    parser.add_argument("--mouse-step", type=float, metavar="PX",
                        help="replay each stroke with a point every PX canvas pixels, as a mouse that reports often")
    parser.add_argument("--tremor", type=float, default=0.0, metavar="PX",
                        help="move every replayed point at random by PX canvas pixels (standard deviation), as an unsteady hand")
    parser.add_argument("--stray-tap", action="store_true",
                        help="click once at a random spot on the canvas before each digit, as a click to focus the window")
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST,
                        help="MNIST folder, for the original test images the strokes were made from")
    parser.add_argument("--redraw-span", type=int, metavar="PX",
                        help="redraw the strokes this big instead of digitpad.strokes.REDRAW_SPAN_PX (to compare)")
    parser.add_argument("--errors-png", type=Path, help="save every drawn error beside its original image here")
    args = parser.parse_args()
    transform = writing_style(args.rotate, args.slant, args.aspect)
    if args.writers == "proxy" and (transform is not None or args.mouse_step or args.tremor or args.placement != "person"):
        parser.error("--writers proxy has its own styles, sampling and placement")

    from PySide6.QtWidgets import QApplication

    from digitpad import paths, strokes
    from digitpad.gui.canvas import DrawingCanvas
    from digitpad.inference import Classifier

    redraw_at(args.redraw_span)
    sequences, labels = load_strokes(args.strokes, args.data_dir)
    chosen = np.arange(len(labels))
    if args.limit < len(labels):
        chosen = np.sort(np.random.default_rng(args.seed).choice(len(labels), args.limit, replace=False))
    checkpoint_path = args.checkpoint or paths.shipped_model_path()
    classifier = Classifier.from_path(checkpoint_path)

    app = QApplication.instance() or QApplication([])
    canvas = DrawingCanvas()
    canvas.resize(args.side, args.side)
    if args.pen_width is not None:
        canvas.set_pen_width(args.pen_width)
    canvas.show()
    app.processEvents()

    placement_rng = np.random.default_rng(args.seed) if args.placement == "person" else None
    tap_rng = np.random.default_rng(args.seed + 1)
    tremor = (args.tremor, np.random.default_rng(args.seed + 2)) if args.tremor > 0 else None
    writer_rng = np.random.default_rng([args.seed, 19])
    picture_folder = tempfile.TemporaryDirectory(prefix="digitpad-drawn-")
    # Each way of reading is given the canvas's pixels and the sample's number (from 1).
    picture_name = f"the same drawing saved as a {PNG_SIDE}x{PNG_SIDE} PNG, read as `digitpad predict` reads it"
    methods = {
        "digitpad (strokes redrawn with an even pen; crop, fit 20x20, centre of mass)":
            lambda image, number: classifier.predict_strokes(canvas.strokes()),
        picture_name:
            lambda image, number: saved_picture_prediction(classifier, image, number, Path(picture_folder.name)),
        "the canvas's pixels, the same preprocessing":
            lambda image, number: classifier.predict(image, light_ink=True),
        "naive resize of the canvas to 28x28": lambda image, number: naive_prediction(classifier, image),
    }
    answers = {name: [] for name in methods}  # (digit, confidence, unsure) per sample; digit -1 = no answer
    app_name = next(iter(methods))
    model_inputs = []  # what the app's model was shown, per sample
    started = time.perf_counter()
    for count, index in enumerate(chosen, start=1):
        canvas.clear()
        if args.stray_tap:
            drag(canvas, [tuple(tap_rng.uniform(0.0, args.side, size=2))])
        if args.writers == "proxy":
            for stroke in proxy_strokes(sequences[index], int(labels[index]), args.side, writer_rng):
                drag(canvas, stroke)
        else:
            draw_sample(canvas, sequences[index], placement_rng, transform, args.mouse_step, tremor)
        image = canvas.to_array()
        for name, predict in methods.items():
            prediction = predict(image, count)
            answers[name].append((-1, 0.0, True, True) if prediction is None
                                 else (prediction.digit, prediction.confidence, prediction.unsure, prediction.not_a_digit))
            if name == app_name:
                model_inputs.append(np.zeros((28, 28), np.float32) if prediction is None else prediction.model_input)
        if count % 1000 == 0:
            print(f"  {count} samples, {time.perf_counter() - started:.0f} s", flush=True)
    elapsed = time.perf_counter() - started
    canvas.close()
    picture_folder.cleanup()

    truth = labels[chosen]
    app_predictions, confidences, app_unsure, _ = (np.array(column) for column in zip(*answers[app_name]))
    unsure_below = classifier.strokes_unsure_below  # the canvas's; a picture is read by the image network alone
    app_predictions = app_predictions.astype(int)
    app_right = app_predictions == truth

    print(f"\nmodel: {checkpoint_path} ({classifier.describe()})")
    subset = "all" if len(chosen) == len(labels) else f"seeded subset (seed {args.seed})"
    writers = "each sample a new random writer on a tablet (proxy_writers.py)" if args.writers == "proxy" else "as recorded"
    print(f"strokes: {args.strokes} set, {writers}; redrawn {strokes.REDRAW_SPAN_PX} px across with a {strokes.REDRAW_PEN_PX} px pen")
    print(f"samples: {len(chosen)} of {len(labels)} ({subset}); canvas {args.side}x{args.side}, "
          f"pen width {canvas.pen_width():g} of the side; placement {args.placement}; time {elapsed:.1f} s ({1000 * elapsed / len(chosen):.1f} ms/sample)")
    if transform is not None:
        print(f"every digit turned {args.rotate:g} degrees, slanted {args.slant:g}, stretched {args.aspect:g}x in width")
    if args.mouse_step is not None:
        print(f"strokes replayed with a point every {args.mouse_step:g} px")
    if args.tremor > 0:
        print(f"every point moved at random by {args.tremor:g} px (standard deviation)")
    if args.stray_tap:
        print("a stray click somewhere on the canvas before each digit")
    print()
    # "named right": the right digit shown, not "not a digit" (whose closest digit counts in accuracy).
    print("| method | accuracy | named right | unsure | right when sure |")
    print("| --- | --- | --- | --- | --- |")
    for name, pairs in answers.items():
        digits, _, unsure, not_a_digit = (np.array(column) for column in zip(*pairs))
        right, sure = digits == truth, ~unsure.astype(bool)
        print(f"| {name} | {right.mean():.2%} | {(right & ~not_a_digit.astype(bool)).mean():.2%} | "
              f"{1 - sure.mean():.2%} | {right[sure].mean():.2%} |")
    print()
    picture_right = np.array([answer[0] for answer in answers[picture_name]]) == truth
    print(f"canvas against the saved picture, sample by sample: both right {np.sum(app_right & picture_right)}, "
          f"only the canvas right {np.sum(app_right & ~picture_right)}, only the picture right "
          f"{np.sum(~app_right & picture_right)}, both wrong {np.sum(~app_right & ~picture_right)}")
    print()
    print("per-digit accuracy (digitpad):")
    print("  " + "  ".join(f"{d}: {app_right[truth == d].mean():.2%}" for d in range(10)))
    print()
    print_confusion(truth, np.where(app_predictions < 0, 0, app_predictions))
    print()
    sure = ~app_unsure.astype(bool)
    print(f"uncertainty at the app's threshold {unsure_below:.2f}, or where one network alone sees no digit: says "
          f"'unsure' on {1 - sure.mean():.2%} of drawings; answers marked sure are right {app_right[sure].mean():.2%} of the time")
    print("threshold sweep, on the top probability alone:")
    print("  threshold | unsure | right when sure")
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.89, 0.9, 0.92, 0.93, 0.95, 0.98):
        marked = confidences >= threshold
        print(f"  {threshold:>9.2f} | {1 - marked.mean():>6.2%} | {app_right[marked].mean():.2%}")
    print()
    test_images = mnist_test_images(args.data_dir)
    if test_images is not None:
        print_error_sources(classifier, test_images, chosen, truth, app_right)
    if args.errors_png is not None:
        save_error_sheet(args.errors_png, test_images, chosen, truth, app_predictions, model_inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
