"""Classify drawings with a trained model: the canvas's strokes, and images for ``digitpad predict``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from digitpad import pen_path
from digitpad.config import ModelConfig
from digitpad.models import ConvolutionsThenClassifier, build_model
from digitpad.preprocess import normalize, to_mnist_image
from digitpad.stroke_reader import StrokeReader, combine
from digitpad.strokes import Stroke, marks, mnist_image_of

# Below this top probability the app says "unsure" rather than give a confident
# wrong answer. Chosen on replayed drawn strokes (tests/bench/drawn_digits.py) and
# drawn non-digits (tests/bench/non_digits.py) as the lowest level where sure
# answers are right at least 99.5 % of the time, at most 5 % of digits are unsure,
# and at least 90 % of non-digits are "not a digit" or unsure.
UNSURE_BELOW = 0.95
# The same, when a stroke reader's answer is combined with the image network's
# (digitpad.stroke_reader): together their sure answers are right more often, so
# the app can be sure sooner. Chosen with the doubt below on 10,000 drawings of
# each stroke set and writer proxy, and the drawn non-digits, as the level where
# every set's sure answers are right at least 99.5 % of the time, at most 5 % of
# each set's digits are unsure, and at least 90 % of the non-digits are "not a
# digit" or unsure (tests/bench/RESULTS.md, "When one reader sees no digit").
UNSURE_BELOW_WITH_STROKES = 0.89
# Below this top probability no digit is likely enough to name: the answer is "not a digit".
# Chosen with tests/bench/non_digits.py, where it is the level that calls few drawn digits
# that and most drawings that are no digit.
NOT_A_DIGIT_BELOW = 0.5
# Each network learned to spread its answer evenly over drawings that are no
# digit, and the weighted product of the two answers dilutes one network's "no
# digit" when the other is sure. So a drawing is also unsure when the image
# network alone puts no digit at NOT_A_DIGIT_BELOW, or the stroke reader alone
# (which spreads its answers wider) none at this level.
READER_SEES_NO_DIGIT_BELOW = 0.2


def doubter(image_probabilities: np.ndarray, stroke_probabilities: np.ndarray) -> str:
    """The network that alone sees no digit in a drawing, "picture" or "strokes", or "" when both see one."""
    if image_probabilities.max() < NOT_A_DIGIT_BELOW:
        return "picture"
    if stroke_probabilities.max() < READER_SEES_NO_DIGIT_BELOW:
        return "strokes"
    return ""


def networks_described(model_config: ModelConfig, with_stroke_reader: bool) -> str:
    """A model's networks in words: its image network, and "+ stroke reader" when it has one."""
    return f"{model_config.describe()}{' + stroke reader' if with_stroke_reader else ''}"


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)  # (10,), sums to 1
    model_input: np.ndarray = field(repr=False)  # (28, 28) in [0, 1], what the model saw
    unsure_below: float = UNSURE_BELOW  # this reading's threshold: lower when the strokes were read too
    doubted_by: str = ""  # the network that alone sees no digit here ("picture" or "strokes"), if one does

    @property
    def unsure(self) -> bool:
        return self.confidence < self.unsure_below or bool(self.doubted_by)

    @property
    def not_a_digit(self) -> bool:
        return self.confidence < NOT_A_DIGIT_BELOW

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.probabilities)[-2])


class Classifier:
    """A trained model in eval mode, ready to classify drawings.

    Use it from one thread only: each thread that classifies builds its own.
    """

    def __init__(self, model: nn.Module, model_config: ModelConfig, name: str = "", metrics: dict | None = None,
                 device: torch.device | str = "cpu", stroke_reader: nn.Module | None = None):
        if isinstance(model, ConvolutionsThenClassifier):
            # Batch norm folded into the convolutions, and channels-last below:
            # two operations fewer and a faster layout per drawing, with the
            # same answers (tests/bench/RESULTS.md, "Figures behind the code's choices").
            model = model.with_batch_norm_folded()
        self.device = torch.device(device)
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        # Reads the pen's path beside the image (digitpad.stroke_reader); None for image-only models.
        self.stroke_reader = None if stroke_reader is None else stroke_reader.eval().to(self.device)
        self.model_config = model_config
        self.name = name
        self.metrics = dict(metrics or {})

    @classmethod
    def from_state(cls, model_config: ModelConfig, state_dict: dict, name: str = "", metrics: dict | None = None,
                   device: torch.device | str = "cpu", stroke_reader_state: dict | None = None) -> Classifier:
        model = build_model(model_config)
        model.load_state_dict(state_dict)
        stroke_reader = None
        if stroke_reader_state is not None:
            stroke_reader = StrokeReader()
            stroke_reader.load_state_dict(stroke_reader_state)
        return cls(model, model_config, name, metrics, device, stroke_reader)

    @classmethod
    def from_checkpoint(cls, checkpoint, device: torch.device | str = "cpu") -> Classifier:
        return cls.from_state(checkpoint.model_config, checkpoint.state_dict, checkpoint.name, checkpoint.metrics,
                              device, checkpoint.stroke_reader)

    @classmethod
    def from_path(cls, path: str | Path) -> Classifier:
        from digitpad import checkpoint

        return cls.from_checkpoint(checkpoint.load(path))

    @property
    def test_accuracy(self) -> float | None:
        """The MNIST test accuracy the model carries, or None if it was never measured."""
        try:
            value = float(self.metrics.get("test_accuracy"))
        except (TypeError, ValueError):
            return None
        return value if value == value else None  # NaN: never tested

    @property
    def strokes_unsure_below(self) -> float:
        """The top probability below which a drawing read from its strokes is "unsure"."""
        return UNSURE_BELOW if self.stroke_reader is None else UNSURE_BELOW_WITH_STROKES

    @property
    def networks(self) -> str:
        """The image network, and the stroke reader beside it when the model has one."""
        return networks_described(self.model_config, self.stroke_reader is not None)

    def describe(self) -> str:
        accuracy = self.test_accuracy
        text = f"{self.name or 'model'} · {self.networks}"
        return text if accuracy is None else f"{text} · {accuracy:.2%} on MNIST test"

    def probabilities(self, model_input: torch.Tensor) -> np.ndarray:
        """Class probabilities for a normalized batch (B, 1, 28, 28), shape (B, 10)."""
        with torch.inference_mode():
            # softmax(logits) is exp(log_softmax(logits)), in one operation instead of two.
            return torch.softmax(self.model.logits(model_input.to(self.device)), dim=1).cpu().numpy()

    def predict(self, image: np.ndarray, light_ink: bool | None = None) -> Prediction | None:
        """Classify one drawing (any size, either polarity); None when it has no ink.

        ``light_ink`` gives the polarity when the caller knows it; None detects it.
        """
        return self._classify(to_mnist_image(image, light_ink))

    def stroke_probabilities(self, pen_paths: torch.Tensor) -> np.ndarray:
        """The stroke reader's class probabilities for pen paths (B, PATH_CHANNELS, PATH_POINTS), shape (B, 10)."""
        with torch.inference_mode():
            return torch.softmax(self.stroke_reader.logits(pen_paths.to(self.device)), dim=1).cpu().numpy()

    def predict_strokes(self, strokes: Sequence[Stroke]) -> Prediction | None:
        """Classify pen strokes, whatever pen drew them (see ``digitpad.strokes``); None without points.

        With a stroke reader, its answer on the pen's path is combined with the image model's.
        """
        kept = marks(strokes)  # once, for both networks: finding stray taps is the costly part
        if kept is None:
            return None
        mnist_image = mnist_image_of(kept)
        if self.stroke_reader is None:
            return self._classify(mnist_image)
        path = torch.from_numpy(pen_path.from_marks(kept))[None]
        return self._classify(mnist_image, self.stroke_probabilities(path)[0])

    def drawing_probabilities(self, images: np.ndarray, strokes: Sequence[Sequence[Stroke] | None]) -> np.ndarray:
        """Class probabilities (B, 10) for kept drawings: their model inputs (B, 28, 28) and their strokes
        (None for a drawing that is only a picture), each read as the canvas read it."""
        return np.stack([prediction.probabilities for prediction in self.read_drawings(images, strokes)])

    def read_drawings(self, images: np.ndarray, strokes: Sequence[Sequence[Stroke] | None]) -> list[Prediction]:
        """``drawing_probabilities``'s drawings read in one batch, each as the canvas reads it: the same
        Predictions ``predict_strokes`` gives (``predict`` for a drawing that is only a picture)."""
        image_probabilities = self.probabilities(normalize(images))
        stroke_probabilities: list[np.ndarray | None] = [None] * len(images)
        if self.stroke_reader is not None:
            paths = [None if drawn is None else pen_path.from_strokes(drawn) for drawn in strokes]
            with_strokes = [index for index, path in enumerate(paths) if path is not None]
            if with_strokes:
                batch = torch.from_numpy(np.stack([paths[index] for index in with_strokes]))
                for index, row in zip(with_strokes, self.stroke_probabilities(batch)):
                    stroke_probabilities[index] = row
        return [self._prediction(image, image_row, stroke_row)
                for image, image_row, stroke_row in zip(images, image_probabilities, stroke_probabilities)]

    def _classify(self, mnist_image: np.ndarray | None, stroke_probabilities: np.ndarray | None = None
                  ) -> Prediction | None:
        if mnist_image is None:
            return None
        return self._prediction(mnist_image, self.probabilities(normalize(mnist_image))[0], stroke_probabilities)

    def _prediction(self, mnist_image: np.ndarray, image_probabilities: np.ndarray,
                    stroke_probabilities: np.ndarray | None) -> Prediction:
        """One drawing's answer from the image network's probabilities, and from the stroke reader's
        when it read the strokes."""
        probabilities, unsure_below, doubted_by = image_probabilities, UNSURE_BELOW, ""
        if stroke_probabilities is not None:
            probabilities = combine(image_probabilities, stroke_probabilities)
            unsure_below = self.strokes_unsure_below
            doubted_by = doubter(image_probabilities, stroke_probabilities)
        digit = int(probabilities.argmax())
        return Prediction(digit, float(probabilities[digit]), probabilities, mnist_image, unsure_below, doubted_by)
