"""Classify drawings with a trained model: the canvas's strokes, and images for ``digitpad predict``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from digitpad.config import ModelConfig
from digitpad.models import ConvolutionsThenClassifier, build_model
from digitpad.preprocess import normalize, to_mnist_image
from digitpad.strokes import Stroke
from digitpad.strokes import to_mnist_image as strokes_to_mnist_image

# Below this top probability the app says "unsure" rather than give a confident
# wrong answer. Chosen on replayed drawn strokes (tests/bench/drawn_digits.py) and
# drawn non-digits (tests/bench/non_digits.py) as the lowest level where sure
# answers are right at least 99.5 % of the time, at most 5 % of digits are unsure,
# and at least 90 % of non-digits are "not a digit" or unsure.
UNSURE_BELOW = 0.95
# Below this top probability no digit is likely enough to name: the answer is "not a digit".
# Chosen with tests/bench/non_digits.py, where it is the level that calls few drawn digits
# that and most drawings that are no digit.
NOT_A_DIGIT_BELOW = 0.5


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)  # (10,), sums to 1
    model_input: np.ndarray = field(repr=False)  # (28, 28) in [0, 1], what the model saw

    @property
    def unsure(self) -> bool:
        return self.confidence < UNSURE_BELOW

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
                 device: torch.device | str = "cpu"):
        if isinstance(model, ConvolutionsThenClassifier):
            # Batch norm folded into the convolutions, and channels-last below:
            # two operations fewer and a faster layout per drawing, with the
            # same answers (tests/bench/RESULTS.md, "Figures behind the code's choices").
            model = model.with_batch_norm_folded()
        self.device = torch.device(device)
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.model_config = model_config
        self.name = name
        self.metrics = dict(metrics or {})

    @classmethod
    def from_state(cls, model_config: ModelConfig, state_dict: dict, name: str = "", metrics: dict | None = None,
                   device: torch.device | str = "cpu") -> Classifier:
        model = build_model(model_config)
        model.load_state_dict(state_dict)
        return cls(model, model_config, name, metrics, device)

    @classmethod
    def from_checkpoint(cls, checkpoint, device: torch.device | str = "cpu") -> Classifier:
        return cls.from_state(checkpoint.model_config, checkpoint.state_dict, checkpoint.name, checkpoint.metrics,
                              device)

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

    def describe(self) -> str:
        accuracy = self.test_accuracy
        text = f"{self.name or 'model'} · {self.model_config.describe()}"
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

    def predict_strokes(self, strokes: Sequence[Stroke]) -> Prediction | None:
        """Classify pen strokes, whatever pen drew them (see ``digitpad.strokes``); None without points."""
        return self._classify(strokes_to_mnist_image(strokes))

    def _classify(self, mnist_image: np.ndarray | None) -> Prediction | None:
        if mnist_image is None:
            return None
        probabilities = self.probabilities(normalize(mnist_image))[0]
        digit = int(probabilities.argmax())
        return Prediction(digit, float(probabilities[digit]), probabilities, mnist_image)
