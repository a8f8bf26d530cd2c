"""The benchmarks' second stroke set: MNIST test digits traced from a finer skeleton (tests/bench/fine_strokes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

import fine_strokes  # noqa: E402
from digitpad import paths  # noqa: E402
from stroke_replay import strokes_of  # noqa: E402


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

    tracer = fine_strokes.traced
    monkeypatch.setattr(fine_strokes, "traced", fail)
    again, _ = fine_strokes.load_strokes("fine", fake_mnist["root"])
    np.testing.assert_array_equal(again, sequences)
    monkeypatch.setattr(fine_strokes, "traced", tracer)

    # A cache file that cannot be read is traced again, not trusted.
    (cache,) = paths.cache_dir().glob("fine-strokes-*.npz")
    cache.write_bytes(b"half a file")
    remade, _ = fine_strokes.load_strokes("fine", fake_mnist["root"])
    np.testing.assert_array_equal(remade, sequences)
    with pytest.raises(ValueError, match="no stroke set"):
        fine_strokes.load_strokes("coarse", fake_mnist["root"])
