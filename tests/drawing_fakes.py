"""Small generated drawings for the collection and teaching tests: strokes a tiny model can learn apart."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from digitpad.collection import Collection
from digitpad.data import MnistTensors, normalize_uint8
from digitpad.strokes import Stroke, to_mnist_image
from mnist_fakes import fake_digits


def digit_strokes(digit: int, rng: np.random.Generator) -> list[Stroke]:
    """A made-up hand: each digit is a bent stroke turned to its own angle (18° apart), in canvas units."""
    angle = math.radians(digit * 18.0 + rng.uniform(-3.0, 3.0))
    length = rng.uniform(0.25, 0.35)
    bend = rng.uniform(0.05, 0.1)
    steps = np.linspace(-0.5, 0.5, 12)
    along = np.stack([steps * length, bend * length * (1 - 4 * steps**2)], axis=1)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = along @ turn.T + rng.normal(0.0, 0.003, size=along.shape)
    return [Stroke(0.08, [tuple(point) for point in points.tolist()])]


def fill_collection(root: Path, per_digit: int, seed: int = 0, digits=range(10)) -> Collection:
    """A collection in ``root`` with ``per_digit`` drawings of each of ``digits``, drawn by ``digit_strokes``."""
    rng = np.random.default_rng(seed)
    collection = Collection(root)
    for _ in range(per_digit):
        for digit in digits:
            strokes = digit_strokes(digit, rng)
            collection.add(digit, to_mnist_image(strokes), strokes, answer=0, confidence=0.5, model="test")
    return collection


def small_mnist(train: int = 600, test: int = 200) -> MnistTensors:
    train_images, train_labels = fake_digits(train, seed=0)
    test_images, test_labels = fake_digits(test, seed=1)
    return MnistTensors(
        normalize_uint8(torch.from_numpy(train_images)), torch.from_numpy(train_labels).long(),
        normalize_uint8(torch.from_numpy(test_images)), torch.from_numpy(test_labels).long(),
    )
