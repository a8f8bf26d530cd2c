"""The benchmarks' second stroke set: MNIST test digits traced from a finer skeleton (tests/bench/fine_strokes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

import fine_strokes  # noqa: E402
from digitpad import paths  # noqa: E402
from digitpad.strokes import Stroke, to_mnist_image  # noqa: E402
from stroke_replay import strokes_of  # noqa: E402


def _ink(draw) -> torch.Tensor:
    """A 28x28 ink image (1, 1, 28, 28) in [0, 1], drawn 10x bigger with a pen like MNIST's and shrunk."""
    image = Image.new("L", (280, 280), 0)
    draw(ImageDraw.Draw(image))
    small = image.resize((28, 28), Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0)[None, None]


def _traced(ink: torch.Tensor) -> list[np.ndarray]:
    return fine_strokes.to_mnist_frame(fine_strokes.trace(fine_strokes.fine_skeletons(ink)[0]))


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
    skeleton = fine_strokes.fine_skeletons(ink)[0]
    strokes = _traced(ink)
    traced_points = np.concatenate(strokes)
    # Every skeleton pixel lies on the traced strokes (within one MNIST pixel).
    rows, columns = np.nonzero(skeleton)
    pixels = np.column_stack([(columns + 0.5) / fine_strokes.FINE_GRID - 0.5, (rows + 0.5) / fine_strokes.FINE_GRID - 0.5])
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


def test_the_encoding_reads_back_as_the_same_strokes():
    strokes = [np.array([[3.0, 4.0], [5.0, 6.5], [7.0, 9.0]]), np.array([[10.0, 2.0], [12.0, 2.5]])]
    sequence = fine_strokes.encode(strokes, length=8)
    assert sequence.shape == (8, 4) and not sequence[:3].any()
    for decoded, original in zip(strokes_of(sequence), strokes, strict=True):
        np.testing.assert_allclose(decoded, original)


def test_the_fine_set_is_traced_once_and_then_read_from_the_cache(fake_mnist, monkeypatch):
    sequences, labels = fine_strokes.load_strokes("fine", fake_mnist["root"])
    assert len(sequences) == len(labels) == len(fake_mnist["test_labels"])
    np.testing.assert_array_equal(labels, fake_mnist["test_labels"])
    # Each fake digit is a bright bar: its strokes are one line of about its height.
    assert all(len(strokes_of(sequence)) >= 1 for sequence in sequences)

    def fail(*args, **kwargs):
        raise AssertionError("traced again")

    tracer = fine_strokes.trace
    monkeypatch.setattr(fine_strokes, "trace", fail)
    again, _ = fine_strokes.load_strokes("fine", fake_mnist["root"])
    np.testing.assert_array_equal(again, sequences)
    monkeypatch.setattr(fine_strokes, "trace", tracer)

    # A cache file that cannot be read is traced again, not trusted.
    (cache,) = paths.cache_dir().glob("fine-strokes-*.npz")
    cache.write_bytes(b"half a file")
    remade, _ = fine_strokes.load_strokes("fine", fake_mnist["root"])
    np.testing.assert_array_equal(remade, sequences)
    with pytest.raises(ValueError, match="no stroke set"):
        fine_strokes.load_strokes("coarse", fake_mnist["root"])
