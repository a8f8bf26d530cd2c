"""Tracing MNIST digits into pen strokes (digitpad.tracing), what the stroke reader learns from."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from digitpad import tracing
from digitpad.strokes import Stroke, to_mnist_image


def _ink(draw) -> torch.Tensor:
    """A 28x28 ink image (1, 1, 28, 28) in [0, 1], drawn 10x bigger with a pen like MNIST's and shrunk."""
    image = Image.new("L", (280, 280), 0)
    draw(ImageDraw.Draw(image))
    small = image.resize((28, 28), Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0)[None, None]


def _traced(ink: torch.Tensor) -> list[np.ndarray]:
    return tracing.traced(ink)[0]


def _redrawn(strokes: list[np.ndarray]) -> np.ndarray:
    return to_mnist_image([Stroke(1.0, [tuple(point) for point in stroke]) for stroke in strokes])


def _four(pen):
    pen.line([(170, 40), (60, 170), (220, 170)], fill=255, width=26, joint="curve")
    pen.line([(170, 40), (170, 250)], fill=255, width=26)


def _zero(pen):
    pen.ellipse((70, 40, 210, 240), outline=255, width=26)


@pytest.mark.parametrize("draw", [_four, _zero], ids=["four", "zero"])
def test_traced_strokes_redraw_the_digit_they_came_from(draw):
    ink = _ink(draw)
    skeleton = tracing.fine_skeletons(ink)[0]
    strokes = _traced(ink)
    traced_points = np.concatenate(strokes)
    # Every skeleton pixel lies on the traced strokes (within one MNIST pixel).
    rows, columns = np.nonzero(skeleton)
    pixels = np.column_stack([(columns + 0.5) / tracing.FINE_GRID - 0.5, (rows + 0.5) / tracing.FINE_GRID - 0.5])
    gaps = np.min(np.linalg.norm(pixels[:, None] - traced_points[None], axis=2), axis=1)
    assert gaps.max() < 1.0
    # Redrawn as the app redraws strokes, the digit keeps its shape.
    from digitpad.preprocess import fit_and_centre

    original = fit_and_centre(Image.fromarray(ink[0, 0].numpy(), "F")) > 0.3
    redrawn = _redrawn(strokes) > 0.3
    assert (original & redrawn).sum() / (original | redrawn).sum() > 0.6


def test_a_loop_is_one_stroke_and_a_cross_is_walked_straight_on():
    assert len(_traced(_ink(_zero))) == 1
    crossing = _traced(_ink(lambda pen: (pen.line([(40, 140), (240, 140)], fill=255, width=26),
                                         pen.line([(140, 40), (140, 240)], fill=255, width=26))))
    # One bar in one stroke; the other meets it, in one or two strokes.
    assert len(crossing) in (2, 3)
    for stroke in crossing:
        # No stroke turns the corner: each stays on one bar, near a straight line.
        spread = np.ptp(stroke, axis=0)
        assert spread.min() < 1.5 < spread.max()
