"""Batched augmentation that mimics how people draw on a canvas.

It runs on whole batches of tensors (one ``grid_sample`` per batch), so it adds
little to a training step: no per-image PIL work. The random parameters are
drawn on the CPU, from the caller's generator, and the images are changed on
their own device, so a seed gives the same draws on every device. Each image gets a random
affine warp (rotation, scale, shear, shift), a smooth elastic wobble, and a
random change of stroke thickness, since a pen of fixed width makes strokes
thicker or thinner than MNIST's depending on how big the digit is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentSettings:
    max_rotation_degrees: float = 12.0
    min_scale: float = 0.85
    max_scale: float = 1.10
    max_shear: float = 0.20  # tangent of the shear angle
    max_shift_pixels: float = 2.0
    elastic_strength: float = 0.06  # displacement, in grid units (2 = the whole image)
    elastic_probability: float = 0.5
    max_thicken: float = 1.0  # blend weight towards a 3x3 dilation
    max_thin: float = 0.5  # blend weight towards a 3x3 erosion
    redraw_probability: float = 0.6  # share of images redrawn with a uniform pen
    min_pen_radius: float = 0.7  # pixels, at 28x28
    max_pen_radius: float = 1.8


DEFAULT_AUGMENT = AugmentSettings()


# Zhang-Suen thinning: each pixel's 8 neighbours, clockwise from north, become
# one byte; a lookup table per sub-iteration says whether the pixel may go.
_NEIGHBOUR_OFFSETS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]


def _thinning_tables() -> tuple[torch.Tensor, torch.Tensor]:
    first = torch.zeros(256, dtype=torch.bool)
    second = torch.zeros(256, dtype=torch.bool)
    for code in range(256):
        n = [(code >> i) & 1 for i in range(8)]
        north, _, east, _, south, _, west, _ = n
        transitions = sum(1 for i in range(8) if n[i] == 0 and n[(i + 1) % 8] == 1)
        removable = 2 <= sum(n) <= 6 and transitions == 1
        first[code] = removable and north * east * south == 0 and east * south * west == 0
        second[code] = removable and north * east * west == 0 and north * south * west == 0
    return first, second


_THINNING_TABLES = _thinning_tables()
_NEIGHBOUR_CODE_KERNEL = torch.zeros(1, 1, 3, 3)
for _bit, (_dy, _dx) in enumerate(_NEIGHBOUR_OFFSETS):
    _NEIGHBOUR_CODE_KERNEL[0, 0, 1 + _dy, 1 + _dx] = float(1 << _bit)


def thin(binary: torch.Tensor, max_iterations: int = 30) -> torch.Tensor:
    """One-pixel skeletons of a binary batch (B, 1, H, W), as float 0/1."""
    skeleton = binary.float()
    kernel = _NEIGHBOUR_CODE_KERNEL.to(binary.device)
    tables = [table.to(binary.device) for table in _THINNING_TABLES]
    for _ in range(max_iterations):
        changed = False
        for removable in tables:
            code = F.conv2d(skeleton, kernel, padding=1).long()
            remove = removable[code] & (skeleton > 0)
            if remove.any():
                skeleton = skeleton.masked_fill(remove, 0.0)
                changed = True
        if not changed:
            break
    return skeleton


def _pen_offsets(radius: int) -> torch.Tensor:
    span = torch.arange(-radius, radius + 1, dtype=torch.float32)
    dy, dx = torch.meshgrid(span, span, indexing="ij")
    return torch.sqrt(dy**2 + dx**2).flatten()


def pen_ink(pen_radius: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """A round, soft-edged pen's ink at ``distance`` from its centre line: full inside
    the radius, fading over one pixel. Redrawn digits and non-digit drawings share it,
    so their strokes' edges look alike."""
    return (pen_radius + 0.5 - distance).clamp(0.0, 1.0)


def redraw_with_pen(ink: torch.Tensor, pen_radius: torch.Tensor) -> torch.Tensor:
    """Trace each digit's skeleton with a round pen of constant width, as a canvas does.

    MNIST's pens varied in pressure; a mouse draws every stroke equally wide.
    ``pen_radius`` holds one radius per image, in pixels.
    """
    count, _, height, width = ink.shape
    skeleton = thin(ink > 0.4)
    reach = int(math.ceil(float(pen_radius.max()) + 0.5))
    distances = _pen_offsets(reach).to(ink.device)
    pen_radius = pen_radius.to(ink.device)
    disc = pen_ink(pen_radius.view(count, 1, 1), distances.view(1, -1, 1))
    patches = F.unfold(skeleton, kernel_size=2 * reach + 1, padding=reach)
    return (patches * disc).amax(dim=1).view(count, 1, height, width)


def uniform(shape: int | tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """Random numbers drawn evenly from [low, high), in a tensor of ``shape``."""
    return low + (high - low) * torch.rand(shape, generator=generator)


def _affine_matrices(count: int, side: int, settings: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    angle = uniform(count, -1.0, 1.0, generator) * math.radians(settings.max_rotation_degrees)
    scale = uniform(count, settings.min_scale, settings.max_scale, generator)
    shear = uniform(count, -settings.max_shear, settings.max_shear, generator)
    # affine_grid works in [-1, 1] coordinates: one pixel is 2/side.
    shift = uniform(2 * count, -1.0, 1.0, generator).reshape(count, 2) * settings.max_shift_pixels * 2.0 / side
    cos, sin = torch.cos(angle), torch.sin(angle)
    # The grid maps output to input positions, so dividing by scale enlarges the digit.
    a = (cos + shear * sin) / scale
    b = (-sin + shear * cos) / scale
    c = sin / scale
    d = cos / scale
    return torch.stack([torch.stack([a, b, shift[:, 0]], 1), torch.stack([c, d, shift[:, 1]], 1)], 1)


def _elastic_offsets(count: int, side: int, settings: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    coarse = torch.randn(count, 2, 4, 4, generator=generator) * settings.elastic_strength
    applies = (torch.rand(count, generator=generator) < settings.elastic_probability).float()
    coarse = coarse * applies.view(count, 1, 1, 1)
    smooth = F.interpolate(coarse, size=(side, side), mode="bicubic", align_corners=True)
    return smooth.permute(0, 2, 3, 1)


def _change_thickness(ink: torch.Tensor, generator: torch.Generator, settings: AugmentSettings) -> torch.Tensor:
    count = len(ink)
    amount = uniform(count, -1.0, 1.0, generator).view(count, 1, 1, 1).to(ink.device)
    thicker = F.max_pool2d(ink, kernel_size=3, stride=1, padding=1)
    thinner = -F.max_pool2d(-ink, kernel_size=3, stride=1, padding=1)
    thicken_weight = amount.clamp(min=0.0) * settings.max_thicken
    thin_weight = (-amount).clamp(min=0.0) * settings.max_thin
    return ink + thicken_weight * (thicker - ink) + thin_weight * (thinner - ink)


def augment_batch(
    images: torch.Tensor,
    generator: torch.Generator,
    mean: float,
    std: float,
    settings: AugmentSettings = DEFAULT_AUGMENT,
) -> torch.Tensor:
    """Randomly distort a normalized batch (B, 1, H, W); returns a new normalized batch."""
    count, _, side, _ = images.shape
    # Work in ink units so the padding that warps bring in is blank paper.
    ink = images * std + mean
    redrawn = torch.rand(count, generator=generator) < settings.redraw_probability
    if redrawn.any():
        radius = uniform(int(redrawn.sum()), settings.min_pen_radius, settings.max_pen_radius, generator)
        redrawn = redrawn.to(images.device)
        ink = ink.clone()
        ink[redrawn] = redraw_with_pen(ink[redrawn], radius)
    matrices = _affine_matrices(count, side, settings, generator).to(images.device)
    grid = F.affine_grid(matrices, list(images.shape), align_corners=False)
    grid = grid + _elastic_offsets(count, side, settings, generator).to(images.device)
    warped = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    warped = _change_thickness(warped, generator, settings).clamp(0.0, 1.0)
    return (warped - mean) / std
