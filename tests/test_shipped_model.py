"""The shipped model against issue 19's "not a digit" targets, on tests/bench/non_digits.py's drawings.

600 drawn non-digits of families training never shows (Latin letters, words,
symbols, rows of the MNIST test digits' strokes) must come out "not a digit" or
"unsure" nine times in ten, while at most 1 % of drawn digits come out "not a
digit". The benchmark prints the whole trade-off; this keeps the shipped model
honest about both ends of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

from digitpad import paths  # noqa: E402
from digitpad.inference import NOT_A_DIGIT_BELOW, Classifier  # noqa: E402
from non_digits import non_digit_drawings, top_and_unsure  # noqa: E402
from stroke_replay import STROKES_DIR, load_stroke_set, strokes_of  # noqa: E402
from writers import placed_on_canvas  # noqa: E402

pytestmark = pytest.mark.skipif(not STROKES_DIR.is_dir(), reason="needs ../shared/strokes")


@pytest.fixture(scope="module")
def shipped():
    return Classifier.from_path(paths.shipped_model_path())


@pytest.fixture(scope="module")
def stroke_set():
    return load_stroke_set()


def test_nine_in_ten_drawn_non_digits_are_not_a_digit_or_unsure(shipped, stroke_set):
    sequences, _ = stroke_set
    families = non_digit_drawings(150, sequences, seed=0)
    unsure = np.concatenate([top_and_unsure(shipped, drawings)[1] for drawings in families.values()])
    assert len(unsure) == 600
    assert np.mean(unsure) >= 0.90


def test_at_most_one_drawn_digit_in_a_hundred_is_called_not_a_digit(shipped, stroke_set):
    sequences, _ = stroke_set
    rng = np.random.default_rng([0, 1])
    chosen = rng.choice(len(sequences), 3000, replace=False)
    digits = [placed_on_canvas(strokes_of(sequences[index]), rng) for index in chosen]
    top, _ = top_and_unsure(shipped, digits)
    assert np.mean(top < NOT_A_DIGIT_BELOW) <= 0.01


def test_with_its_stroke_reader_the_shipped_model_reads_drawn_digits_better_and_surer(shipped, stroke_set):
    """The shipped model reads the canvas with both networks: on the 10,000 drawn MNIST-strokes digits that
    beats its image network alone, its sure answers (at its own level) are right more often, and at most 5 % are
    unsure. All 10,000, not a sample: on 2,000 a 99.5 % rate is known to within 0.16 points, more than the
    margin, and one drawing decided the test (tests/bench/RESULTS.md, "The stroke reader trained 36 epochs")."""
    from digitpad.inference import UNSURE_BELOW
    from digitpad.preprocess import normalize
    from digitpad.strokes import to_mnist_image

    assert shipped.stroke_reader is not None
    sequences, labels = stroke_set
    rng = np.random.default_rng([0, 2])
    chosen = rng.permutation(len(sequences))
    digits = [placed_on_canvas(strokes_of(sequences[index]), rng) for index in chosen]
    images = np.stack([to_mnist_image(strokes) for strokes in digits])
    image_alone = shipped.probabilities(normalize(images))
    both = shipped.read_drawings(images, digits)
    truth = labels[chosen]
    right_alone = image_alone.argmax(1) == truth
    right_both = np.array([answer.digit for answer in both]) == truth
    assert right_both.mean() >= right_alone.mean()
    sure_alone, sure_both = image_alone.max(1) >= UNSURE_BELOW, ~np.array([answer.unsure for answer in both])
    assert right_both[sure_both].mean() >= max(0.995, right_alone[sure_alone].mean() - 0.001)
    assert (~sure_both).mean() <= 0.05  # issue 19: "unsure" on at most 5 % of drawn digits
