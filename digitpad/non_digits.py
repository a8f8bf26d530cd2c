"""Random drawings that are not digits, so a model can learn to say "unsure".

A softmax over ten digits has no "none of these": trained on digits alone, a
network reads a box, a grid or a spiral as some digit, often with confidence
near 1. Training also shows it such drawings with a penalty on any confident
answer (see ``training.non_digit_penalty``), so the app's "unsure" covers them.

The drawings are generic families, each with random size, aspect, rotation and
pen: closed polygons, star polygons, grids and hatches, spirals, waves,
zig-zags with many corners, a handful of crossing strokes, and filled blobs.
Each is fitted into MNIST's 20x20 box, as the app's preprocessing fits a
drawing, and drawn with a round, soft-edged pen. Everything is batched in torch.
"""

from __future__ import annotations

import math

import torch

from digitpad.augment import pen_ink, uniform
from digitpad.config import IMAGE_SIDE
from digitpad.preprocess import DIGIT_BOX

MAX_POINTS = 25  # vertices per drawing; unused segments are masked out
_CENTRE = IMAGE_SIDE / 2.0


def _pixel_centres() -> torch.Tensor:
    coordinates = torch.arange(IMAGE_SIDE, dtype=torch.float32) + 0.5
    rows, cols = torch.meshgrid(coordinates, coordinates, indexing="ij")
    return torch.stack([cols.flatten(), rows.flatten()], dim=1)  # (784, 2) as (x, y)


_PIXELS = _pixel_centres()


def draw_segments(starts: torch.Tensor, ends: torch.Tensor, used: torch.Tensor, pen_radius: torch.Tensor) -> torch.Tensor:
    """Ink (B, 1, 28, 28) of straight segments drawn with a round, soft-edged pen.

    ``starts``/``ends``: (B, S, 2) as (x, y) pixels; ``used``: (B, S), which
    segments exist; ``pen_radius``: (B,) in pixels.
    """
    count = len(starts)
    pixel_x, pixel_y = _PIXELS[:, 0], _PIXELS[:, 1]
    start_x, start_y = starts[..., 0:1], starts[..., 1:2]  # (B, S, 1)
    step_x, step_y = ends[..., 0:1] - start_x, ends[..., 1:2] - start_y
    to_pixel_x, to_pixel_y = pixel_x - start_x, pixel_y - start_y  # (B, S, 784)
    length_squared = (step_x * step_x + step_y * step_y).clamp(min=1e-6)
    along = ((to_pixel_x * step_x + to_pixel_y * step_y) / length_squared).clamp(0.0, 1.0)
    off_x, off_y = to_pixel_x - along * step_x, to_pixel_y - along * step_y
    distance_squared = (off_x * off_x + off_y * off_y).masked_fill(~used.bool().unsqueeze(-1), math.inf)
    distance = distance_squared.amin(dim=1).sqrt()  # to the nearest segment, (B, 784)
    ink = pen_ink(pen_radius.view(count, 1), distance)
    return ink.view(count, 1, IMAGE_SIDE, IMAGE_SIDE)


def _integers(count: int, low: int, high: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform whole numbers in [low, high]."""
    return torch.randint(low, high + 1, (count,), generator=generator)


def _on_circle(angles: torch.Tensor, radii: torch.Tensor | float = 1.0) -> torch.Tensor:
    return torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], dim=-1)


def _polyline(points: torch.Tensor, point_count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Segments joining consecutive points; drawing i uses its first point_count[i] points."""
    index = torch.arange(points.shape[1] - 1)
    used = (index.unsqueeze(0) < (point_count - 1).unsqueeze(1)).float()
    return points[:, :-1], points[:, 1:], used


def _closed_polygons(count: int, generator: torch.Generator):
    """Triangles to hexagons, irregular and squashed."""
    sides = _integers(count, 3, 6, generator)
    corner = torch.arange(MAX_POINTS).unsqueeze(0)
    step = 2 * math.pi / sides.unsqueeze(1)
    jitter = uniform((count, MAX_POINTS), -0.25, 0.25, generator)
    angles = uniform((count, 1), 0, 2 * math.pi, generator) + corner * step + jitter
    points = _on_circle(angles, uniform((count, MAX_POINTS), 0.75, 1.0, generator))
    points[..., 1] *= uniform((count, 1), 0.6, 1.0, generator)
    # Back to the first corner, to close the shape.
    points = torch.where((corner == sides.unsqueeze(1)).unsqueeze(-1), points[:, :1], points)
    return _polyline(points, sides + 1)


def _star_polygons(count: int, generator: torch.Generator):
    """Stars drawn in one stroke: {5/2}, {7/2}, {7/3}, {8/3}."""
    shapes = torch.tensor([[5, 2], [7, 2], [7, 3], [8, 3]])
    chosen = shapes[_integers(count, 0, len(shapes) - 1, generator)]
    points_on, skip = chosen[:, :1], chosen[:, 1:]
    corner = torch.arange(MAX_POINTS).unsqueeze(0)
    angles = uniform((count, 1), 0, 2 * math.pi, generator) + corner * skip * 2 * math.pi / points_on
    return _polyline(_on_circle(angles), points_on.squeeze(1) + 1)


def _spirals(count: int, generator: torch.Generator):
    turns = uniform((count, 1), 1.5, 3.5, generator)
    progress = torch.linspace(0.0, 1.0, MAX_POINTS).unsqueeze(0)
    angles = 0.3 + progress * turns * 2 * math.pi
    radii = angles / angles[:, -1:]
    points = _on_circle(angles + uniform((count, 1), 0, 2 * math.pi, generator), radii)
    return _polyline(points, torch.full((count,), MAX_POINTS))


def _waves(count: int, generator: torch.Generator):
    periods = uniform((count, 1), 2.0, 5.0, generator)
    x = torch.linspace(-1.0, 1.0, MAX_POINTS).unsqueeze(0).expand(count, -1)
    y = 0.25 * torch.sin(x * periods * math.pi + uniform((count, 1), 0, 2 * math.pi, generator))
    return _polyline(torch.stack([x, y], dim=-1), torch.full((count,), MAX_POINTS))


def _zigzags(count: int, generator: torch.Generator):
    """Seven to twelve random corners: fewer could pass for a 2, 4, 7 or Z."""
    points = uniform((count, MAX_POINTS, 2), -1.0, 1.0, generator)
    return _polyline(points, _integers(count, 7, 12, generator))


def _separate_strokes(starts: torch.Tensor, ends: torch.Tensor, stroke_count: torch.Tensor):
    used = (torch.arange(starts.shape[1]).unsqueeze(0) < stroke_count.unsqueeze(1)).float()
    return starts, ends, used


def _grids(count: int, generator: torch.Generator):
    """Two to five roughly parallel lines crossed by two to five more: hatches, #, grids."""
    lines = MAX_POINTS - 1
    across = _integers(count, 2, 5, generator)
    down = _integers(count, 2, 5, generator)
    line = torch.arange(lines).unsqueeze(0)
    is_down = line >= across.unsqueeze(1)
    slot = torch.where(is_down, line - across.unsqueeze(1), line)
    slots = torch.where(is_down, down.unsqueeze(1), across.unsqueeze(1))
    offset = -0.6 + 1.2 * slot / (slots - 1).clamp(min=1)
    tilt = uniform((count, 1), -0.2, 0.2, generator)
    start_across = torch.stack([torch.full_like(offset, -1.0), offset + tilt], dim=-1)
    end_across = torch.stack([torch.full_like(offset, 1.0), offset - tilt], dim=-1)
    start_down = torch.stack([offset - tilt, torch.full_like(offset, -1.0)], dim=-1)
    end_down = torch.stack([offset + tilt, torch.full_like(offset, 1.0)], dim=-1)
    starts = torch.where(is_down.unsqueeze(-1), start_down, start_across)
    ends = torch.where(is_down.unsqueeze(-1), end_down, end_across)
    return _separate_strokes(starts, ends, across + down)


def _crossing_strokes(count: int, generator: torch.Generator):
    """Four to eight straight strokes at random (two or three can make a 4, 7 or X)."""
    starts = uniform((count, MAX_POINTS - 1, 2), -1.0, 1.0, generator)
    ends = uniform((count, MAX_POINTS - 1, 2), -1.0, 1.0, generator)
    return _separate_strokes(starts, ends, _integers(count, 4, 8, generator))


_FAMILIES = (_closed_polygons, _star_polygons, _spirals, _waves, _zigzags, _grids, _crossing_strokes)


def _rotate(points: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    cos, sin = torch.cos(angles).view(-1, 1), torch.sin(angles).view(-1, 1)
    x, y = points[..., 0], points[..., 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)


def _fit_to_digit_box(starts: torch.Tensor, ends: torch.Tensor, used: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and move each drawing so its longer side spans MNIST's 20-pixel box, centred."""
    points = torch.cat([starts, ends], dim=1)
    present = torch.cat([used, used], dim=1).bool().unsqueeze(-1)
    low = torch.where(present, points, torch.full_like(points, math.inf)).amin(dim=1)
    high = torch.where(present, points, torch.full_like(points, -math.inf)).amax(dim=1)
    scale = (DIGIT_BOX / (high - low).amax(dim=1).clamp(min=1e-3)).view(-1, 1, 1)
    middle = ((low + high) / 2).unsqueeze(1)
    return (starts - middle) * scale + _CENTRE, (ends - middle) * scale + _CENTRE


def _blobs(count: int, generator: torch.Generator) -> torch.Tensor:
    """Filled ellipses, as when a drawing is coloured in."""
    centre = _CENTRE + uniform((count, 1, 2), -2.0, 2.0, generator)
    radii = uniform((count, 1, 2), 5.0, 10.0, generator)
    inside = 1.0 - (((_PIXELS.view(1, -1, 2) - centre) / radii) ** 2).sum(-1)
    return inside.mul(4.0).clamp(0.0, 1.0).view(count, 1, IMAGE_SIDE, IMAGE_SIDE)


BLOB_SHARE = 0.1


def non_digit_batch(count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random non-digit drawings as ink in [0, 1], shape (count, 1, 28, 28)."""
    family = _integers(count, 0, len(_FAMILIES) - 1, generator)
    starts = torch.zeros(count, MAX_POINTS - 1, 2)
    ends = torch.zeros(count, MAX_POINTS - 1, 2)
    used = torch.zeros(count, MAX_POINTS - 1)
    for number, make in enumerate(_FAMILIES):
        members = (family == number).nonzero().flatten()
        if len(members):
            starts[members], ends[members], used[members] = make(len(members), generator)
    angles = uniform((count,), 0.0, 2 * math.pi, generator)
    starts, ends = _fit_to_digit_box(_rotate(starts, angles), _rotate(ends, angles), used)
    ink = draw_segments(starts, ends, used, uniform((count,), 0.8, 1.8, generator))
    blobs = torch.rand(count, generator=generator) < BLOB_SHARE
    if blobs.any():
        ink[blobs] = _blobs(int(blobs.sum()), generator)
    return ink
