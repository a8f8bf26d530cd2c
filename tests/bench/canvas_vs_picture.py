"""Canvas against picture: does reading the strokes lose anything a picture of them keeps?

Issue 19 measured real tablet handwriting a point worse through the canvas than
as 280x280 PNGs of the same strokes. This bench looks for the cause on the
same drawings, read both ways: the app's path (``Classifier.predict_strokes``:
the strokes redrawn with an even pen) and the picture's (the canvas's own
pixels at its default pen, saved as a PNG and read as ``digitpad predict``
reads it). It does so for the MNIST strokes as recorded, for many random
writers (proxy_writers.py), and for the proxy with each suspect exaggerated:
dense and repeated points, hooks where the pen lands, a pen that bounces (a
very short extra stroke at a stroke's start), digits drawn small or large.

The strokes are put on the real DrawingCanvas with ``restore`` (no mouse
events: fast, and every point kept), so the picture is the canvas's own
rendering. tests/bench/drawn_digits.py drives real mouse drags instead.
Every row draws the same MNIST digits, so each row also counts how many of its
errors the digit's recorded drawing already had, on the same path: those were
lost with the digit or its tracing, not to the writer.

    QT_QPA_PLATFORM=offscreen python tests/bench/canvas_vs_picture.py [--limit 2000] [--checkpoint PATH]
        [--redraw-span PX] [--redraw-pen PX] [--strokes shared|fine]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from drawn_digits import saved_picture_prediction  # noqa: E402
from proxy_writers import proxy_strokes  # noqa: E402
from bench_process import SHARED_MNIST  # noqa: E402
from fine_strokes import add_stroke_set_argument, load_strokes  # noqa: E402
from stroke_replay import at_mouse_rate, redraw_at, strokes_of, to_canvas_points  # noqa: E402
from writers import CANVAS_SIDE, PEN_WIDTH, recorded  # noqa: E402

Points = list[list[tuple[float, float]]]


def _dense_and_repeated(strokes: Points, rng: np.random.Generator) -> Points:
    """A point every 0.3 px, each one reported twice."""
    return [[point for point in at_mouse_rate(stroke, 0.3) for _ in range(2)] for stroke in strokes]


def _hooked_at_pen_down(strokes: Points, rng: np.random.Generator) -> Points:
    """Every stroke starts with a hook 10-20 % of the drawing's height long, bent back."""
    height = float(np.ptp(np.concatenate([np.asarray(s) for s in strokes])[:, 1])) or 1.0

    def hooked(stroke: list[tuple[float, float]]) -> list[tuple[float, float]]:
        path = np.asarray(stroke, dtype=float)
        if len(path) < 2:
            return stroke
        direction = path[min(3, len(path) - 1)] - path[0]
        direction /= max(float(np.hypot(*direction)), 1e-6)
        side = np.array([-direction[1], direction[0]]) * rng.choice([-1.0, 1.0])
        length = rng.uniform(0.1, 0.2) * height
        return [tuple(path[0] + length * (side * t + direction * 0.3 * t)) for t in (1.0, 0.6, 0.3)] + list(stroke)

    return [hooked(stroke) for stroke in strokes]


def _pen_bounce(strokes: Points, rng: np.random.Generator) -> Points:
    """Before each stroke, the pen touches down for an instant: a stroke 2-6 px long beside its start."""
    bounced = []
    for stroke in strokes:
        start = np.asarray(stroke[0]) + rng.uniform(-3, 3, size=2)
        end = start + rng.uniform(-6, 6, size=2)
        bounced.extend([[tuple(start), tuple(end)], stroke])
    return bounced


def _scaled(factor: float):
    def scale(strokes: Points, rng: np.random.Generator) -> Points:
        points = np.concatenate([np.asarray(s) for s in strokes])
        centre = (points.min(axis=0) + points.max(axis=0)) / 2
        target = np.array([CANVAS_SIDE / 2, CANVAS_SIDE / 2])
        return [[tuple(target + (np.asarray(p) - centre) * factor) for p in stroke] for stroke in strokes]
    return scale


VARIANTS = {
    "many writers (proxy_writers.py)": None,
    "proxy, a point every 0.3 px, each twice": _dense_and_repeated,
    "proxy, a hook at every pen-down (10-20 % of the height)": _hooked_at_pen_down,
    "proxy, the pen bounces before every stroke (a 2-6 px stroke)": _pen_bounce,
    "proxy, drawn half as big": _scaled(0.5),
    "proxy, drawn 1.25 times as big": _scaled(1.25),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2000, help="samples per variant (a seeded random subset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="model to measure (default: the shipped model)")
    parser.add_argument("--redraw-span", type=int, metavar="PX",
                        help="redraw the strokes this big instead of digitpad.strokes.REDRAW_SPAN_PX, "
                             "the pen and the step between points scaled with it")
    add_stroke_set_argument(parser)
    parser.add_argument("--data-dir", type=Path, default=SHARED_MNIST, help="MNIST, for --strokes fine")
    parser.add_argument("--redraw-pen", type=int, metavar="PX",
                        help="redraw the strokes with this pen instead of digitpad.strokes.REDRAW_PEN_PX")
    args = parser.parse_args()

    import torch
    from PySide6.QtWidgets import QApplication

    from digitpad import paths
    from digitpad.gui.canvas import DrawingCanvas
    from digitpad.inference import Classifier

    torch.set_num_threads(1)  # as the app reads drawings
    from digitpad import strokes as stroke_module

    redraw_at(args.redraw_span, args.redraw_pen)
    classifier = Classifier.from_path(args.checkpoint or paths.shipped_model_path())
    sequences, labels = load_strokes(args.strokes, args.data_dir)
    chosen = np.sort(np.random.default_rng(args.seed).choice(len(labels), min(args.limit, len(labels)), replace=False))
    truth = labels[chosen]

    app = QApplication.instance() or QApplication([])
    canvas = DrawingCanvas()
    canvas.resize(CANVAS_SIDE, CANVAS_SIDE)
    canvas.show()
    app.processEvents()

    print(f"model: {classifier.describe()}")
    print(f"strokes redrawn {stroke_module.REDRAW_SPAN_PX} px across with a {stroke_module.REDRAW_PEN_PX} px pen")
    print(f"{len(chosen)} samples per row from the {args.strokes} MNIST strokes (seed {args.seed}); canvas {CANVAS_SIDE} px, pen {PEN_WIDTH} of it; "
          f"picture: the canvas's pixels as a 280x280 PNG read as `digitpad predict` reads it\n")
    print("| strokes | canvas (app) | picture (predict) | only the canvas right | only the picture right | "
          "canvas unsure | canvas sure and right | errors already made as recorded, canvas / picture |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="digitpad-pictures-") as folder:
        for name, change in {"MNIST strokes as recorded": "recorded", **VARIANTS}.items():
            rng = np.random.default_rng([args.seed, 19])  # every row draws the same writers
            canvas_right, picture_right, canvas_sure = [], [], []
            for number, index in enumerate(chosen):
                if change == "recorded":
                    points = to_canvas_points(strokes_of(sequences[index]), CANVAS_SIDE, CANVAS_SIDE, rng)
                else:
                    points = proxy_strokes(sequences[index], int(labels[index]), CANVAS_SIDE, rng)
                    if change is not None:
                        points = change(points, rng)
                strokes = recorded(points)
                canvas.restore(strokes)
                from_strokes = classifier.predict_strokes(strokes)
                from_picture = saved_picture_prediction(classifier, canvas.to_array(), number, Path(folder))
                canvas_right.append(from_strokes is not None and from_strokes.digit == truth[number])
                canvas_sure.append(from_strokes is not None and not from_strokes.unsure)
                picture_right.append(from_picture is not None and from_picture.digit == truth[number])
            on_canvas, as_picture, sure = np.array(canvas_right), np.array(picture_right), np.array(canvas_sure)
            if change == "recorded":
                # Every row draws the same digits: an error the recorded drawing already had
                # was lost with the digit (or its strokes), not to the writer.
                recorded_canvas, recorded_picture = on_canvas, as_picture
                carried = "—"
            else:
                carried = (f"{np.sum(~on_canvas & ~recorded_canvas)} of {np.sum(~on_canvas)} / "
                           f"{np.sum(~as_picture & ~recorded_picture)} of {np.sum(~as_picture)}")
            print(f"| {name} | {on_canvas.mean():.2%} | {as_picture.mean():.2%} | {np.sum(on_canvas & ~as_picture)} | "
                  f"{np.sum(~on_canvas & as_picture)} | {1 - sure.mean():.2%} | {on_canvas[sure].mean():.2%} | {carried} |",
                  flush=True)
    canvas.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
