"""A person's drawings replayed as many slightly different versions, for teaching (``digitpad.teaching``).

A drawing with strokes is replayed the way the same hand might draw it again:
its strokes turned, stretched, sheared, bent and jittered a little, then
rendered along the canvas's own path (``digitpad.strokes.to_mnist_image``), so
each version is what the app would show the model, and walked as the stroke
reader walks the pen (``digitpad.pen_path``). A drawing kept only as an image is
distorted with ``digitpad.augment`` instead, as MNIST's images are in training,
and has no pen path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from digitpad import pen_path
from digitpad.augment import augment_batch
from digitpad.collection import Drawing
from digitpad.config import IMAGE_SIDE, MNIST_MEAN, MNIST_STD
from digitpad.preprocess import normalize
from digitpad.pen_path import PATH_CHANNELS, PATH_POINTS
from digitpad.strokes import Stroke, marks, mnist_image_of


@dataclass(frozen=True)
class StrokeAugment:
    """How much a replayed drawing may differ from the person's own (each drawn evenly in ±)."""

    max_rotation_degrees: float = 8.0
    max_stretch: float = 0.12  # width and height each scaled by up to 1 ± this
    max_shear: float = 0.15  # tangent of the shear angle
    wobble: float = 0.02  # a smooth bend of the strokes, as a share of the drawing's size
    jitter: float = 0.004  # every point moved at random, as a share of the drawing's size (standard deviation)


DEFAULT_STROKE_AUGMENT = StrokeAugment()


def _smooth_field(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A random smooth displacement of unit amplitude over a unit square: two waves per axis."""
    frequencies = rng.uniform(0.5, 1.5, size=(2, 2, 2))
    phases = rng.uniform(0.0, 2 * math.pi, size=(2, 2))

    def displace(points: np.ndarray) -> np.ndarray:
        waves = np.sin(2 * math.pi * points @ frequencies.reshape(2, 4) + phases.reshape(1, 4))
        return waves.reshape(-1, 2, 2).mean(axis=2)

    return displace


def varied_strokes(strokes: Sequence[Stroke], rng: np.random.Generator,
                   settings: StrokeAugment = DEFAULT_STROKE_AUGMENT) -> list[Stroke]:
    """The strokes as the same hand might draw them another time: turned, stretched, sheared, bent and
    jittered a little about the drawing's centre."""
    arrays = [np.asarray(stroke.points, dtype=np.float64).reshape(-1, 2) for stroke in strokes]
    every = np.concatenate(arrays)
    low, high = every.min(axis=0), every.max(axis=0)
    centre, size = (low + high) / 2, max(float((high - low).max()), 1e-6)
    angle = math.radians(rng.uniform(-1, 1) * settings.max_rotation_degrees)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(-1, 1) * settings.max_shear], [0.0, 1.0]])
    stretch = np.diag(1.0 + rng.uniform(-1, 1, size=2) * settings.max_stretch)
    matrix = turn @ shear @ stretch
    bend = _smooth_field(rng)
    varied = []
    for stroke, points in zip(strokes, arrays):
        unit = (points - centre) / size
        moved = unit @ matrix.T + settings.wobble * bend(unit)
        moved = moved + rng.normal(0.0, settings.jitter, size=moved.shape)
        varied.append(Stroke(stroke.width, [tuple(point) for point in (moved * size + centre).tolist()]))
    return varied


def _versions(drawing: Drawing, count: int, rng: np.random.Generator, generator: torch.Generator,
              settings: StrokeAugment) -> tuple[np.ndarray, np.ndarray | None]:
    """``count`` model inputs (count, 28, 28) for one drawing, its own then varied replays, and the
    same versions' pen paths (count, PATH_CHANNELS, PATH_POINTS); None for a drawing without strokes."""
    own = drawing.image()
    strokes = [stroke for stroke in drawing.strokes or [] if stroke.points]
    own_path = pen_path.from_strokes(strokes) if strokes else None
    if own_path is None:
        versions = [own]
        if count > 1:
            repeated = normalize(np.repeat(own[None], count - 1, axis=0))
            distorted = augment_batch(repeated, generator, mean=MNIST_MEAN, std=MNIST_STD)
            versions.extend((distorted[:, 0] * MNIST_STD + MNIST_MEAN).clamp(0.0, 1.0).numpy())
        return np.stack(versions).astype(np.float32), None
    versions, paths = [own], [own_path]
    while len(versions) < count:
        kept = marks(varied_strokes(strokes, rng, settings))
        if kept is None:
            versions.append(own)
            paths.append(own_path)
        else:
            versions.append(mnist_image_of(kept))
            paths.append(pen_path.from_marks(kept))
    return np.stack(versions).astype(np.float32), np.stack(paths)


@dataclass(frozen=True)
class DrawingPool:
    """The versions of a person's drawings to teach from, made once before teaching rather than at each step."""

    images: torch.Tensor  # normalized (N * variants, 1, 28, 28)
    labels: torch.Tensor  # (N * variants,)
    # The same versions' pen paths (N * variants, PATH_CHANNELS, PATH_POINTS), for a stroke reader;
    # zeros where ``with_strokes`` is False: a drawing kept only as an image.
    pen_paths: torch.Tensor
    with_strokes: torch.Tensor  # bool (N * variants,)


def drawing_pool(drawings: Sequence[Drawing], variants: int, seed: int,
                 settings: StrokeAugment = DEFAULT_STROKE_AUGMENT,
                 should_stop: Callable[[], bool] | None = None) -> DrawingPool | None:
    """Every drawing as ``variants`` versions; None when stopped."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    images, labels, paths, with_strokes = [], [], [], []
    for drawing in drawings:
        if should_stop is not None and should_stop():
            return None
        drawn, drawn_paths = _versions(drawing, variants, rng, generator, settings)
        images.append(drawn)
        paths.append(np.zeros((variants, PATH_CHANNELS, PATH_POINTS), np.float32) if drawn_paths is None
                     else drawn_paths)
        labels.extend([drawing.digit] * variants)
        with_strokes.extend([drawn_paths is not None] * variants)
    return DrawingPool(normalize(np.concatenate(images)), torch.tensor(labels, dtype=torch.int64),
                       torch.from_numpy(np.concatenate(paths)), torch.tensor(with_strokes, dtype=torch.bool))


def drawing_images(drawings: Sequence[Drawing]) -> tuple[torch.Tensor, torch.Tensor]:
    """The drawings as they were drawn: normalized images (N, 1, 28, 28) and labels, to measure on."""
    if not drawings:
        return torch.zeros(0, 1, IMAGE_SIDE, IMAGE_SIDE), torch.zeros(0, dtype=torch.int64)
    return normalize(np.stack([d.image() for d in drawings])), torch.tensor([d.digit for d in drawings])


def drawing_pen_paths(drawings: Sequence[Drawing]) -> tuple[torch.Tensor, torch.Tensor]:
    """The drawings' pen paths as they were drawn (N, PATH_CHANNELS, PATH_POINTS), zeros for a drawing
    without strokes, and which have strokes (N,) bool: what a stroke reader reads of them."""
    paths = [pen_path.from_strokes(drawing.strokes) if drawing.strokes else None for drawing in drawings]
    stacked = np.zeros((len(paths), PATH_CHANNELS, PATH_POINTS), np.float32)
    for index, path in enumerate(paths):
        if path is not None:
            stacked[index] = path
    return torch.from_numpy(stacked), torch.tensor([path is not None for path in paths], dtype=torch.bool)
