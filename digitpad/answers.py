"""How the app answers labelled drawings, read two ways: as pictures, as ``digitpad predict`` reads an
image file, and from their strokes, as the canvas reads them while they are drawn.

The figures are the ones the accuracy targets name (tests/bench/RESULTS.md):

- accuracy: the closest digit is the true one, also when the app shows "not a digit";
- named right: the app shows the true digit (not "not a digit");
- unsure: the app marks its answer unsure;
- right when sure: of the answers not marked unsure, the share that is right;
- not a digit: the app names no digit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from digitpad.inference import Classifier, Prediction
from digitpad.strokes import Stroke, to_mnist_image


@dataclass(frozen=True)
class Answers:
    """The app's answers to some labelled drawings, one entry per drawing."""

    labels: np.ndarray = field(repr=False)  # (N,) the true digits
    digits: np.ndarray = field(repr=False)  # (N,) the closest digit of each answer
    unsure: np.ndarray = field(repr=False)  # (N,) bool
    not_a_digit: np.ndarray = field(repr=False)  # (N,) bool

    @classmethod
    def of(cls, predictions: Sequence[Prediction], labels: Sequence[int]) -> Answers:
        return cls(
            np.asarray(labels, dtype=np.int64).reshape(-1),
            np.array([prediction.digit for prediction in predictions], dtype=np.int64),
            np.array([prediction.unsure for prediction in predictions], dtype=bool),
            np.array([prediction.not_a_digit for prediction in predictions], dtype=bool),
        )

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def right(self) -> np.ndarray:
        return self.digits == self.labels

    @property
    def accuracy(self) -> float:
        return _share(self.right)

    @property
    def named_right(self) -> float:
        return _share(self.right & ~self.not_a_digit)

    @property
    def unsure_share(self) -> float:
        return _share(self.unsure)

    @property
    def right_when_sure(self) -> float:
        """NaN when every answer is unsure."""
        return _share(self.right[~self.unsure])

    @property
    def not_a_digit_share(self) -> float:
        return _share(self.not_a_digit)


def _share(flags: np.ndarray) -> float:
    return float(flags.mean()) if len(flags) else float("nan")


# Drawings per batch through the networks: fast, and a 10,000-drawing folder never needs
# the memory of all its activations at once.
_BATCH = 512


# Told how many more drawings have been read, after each batch.
ReadProgress = Callable[[int], None]


def as_pictures(classifier: Classifier, model_inputs: np.ndarray, labels: Sequence[int],
                progress: ReadProgress | None = None) -> Answers:
    """The answers ``digitpad predict`` gives: ``model_inputs`` (N, 28, 28) are the pictures as its
    preprocessing leaves them (``preprocess.to_mnist_image``), read in batches."""
    def read(pictures: np.ndarray) -> list[Prediction]:
        return classifier.read_drawings(pictures, [None] * len(pictures))

    return Answers.of(_in_batches(np.asarray(model_inputs, dtype=np.float32), read, progress), labels)


def as_drawn(classifier: Classifier, drawings: Sequence[Sequence[Stroke]], labels: Sequence[int],
             progress: ReadProgress | None = None) -> Answers:
    """The answers the canvas gives to these strokes, each read as it was when its last stroke ended
    (``Classifier.predict_strokes``), in batches.

    ValueError if a drawing's strokes hold no point (the canvas gives no answer to those).
    """
    def read(batch: Sequence[Sequence[Stroke]]) -> list[Prediction]:
        images = [to_mnist_image(strokes) for strokes in batch]
        if any(image is None for image in images):
            raise ValueError("a drawing's strokes hold no point")
        return classifier.read_drawings(np.stack(images), batch)

    return Answers.of(_in_batches(drawings, read, progress), labels)


def _in_batches(items: Sequence, read: Callable[[Sequence], list[Prediction]],
                progress: ReadProgress | None) -> list[Prediction]:
    """``read`` run on ``_BATCH`` items at a time, its answers in order; ``progress`` told after each batch."""
    predictions = []
    for start in range(0, len(items), _BATCH):
        batch = items[start:start + _BATCH]
        predictions.extend(read(batch))
        if progress is not None:
            progress(len(batch))
    return predictions
