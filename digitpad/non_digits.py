"""Random drawings that are not digits, so a model can learn to say "unsure".

A softmax over ten digits has no "none of these": trained on digits alone, a
network reads a box, a grid or a spiral as some digit, often with confidence
near 1. Training also shows it such drawings with a penalty on any confident
answer (see ``training.non_digit_penalty``), so the app's "unsure" covers them.

The drawings are generic families, each with random size, aspect, rotation and
pen: closed polygons, star polygons, grids and hatches, spirals, waves,
zig-zags with many corners, a handful of crossing strokes, filled blobs, and
letters of other alphabets (``digitpad.glyphs``, upright and gently warped).
Given the batch's digits, some are also rows of two or three of them, as when
a person writes a number rather than a digit. Each is fitted into MNIST's 20x20
box, as the app's preprocessing fits a drawing, and drawn with a round,
soft-edged pen. Everything is batched in torch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from digitpad.augment import pen_ink, uniform
from digitpad.config import IMAGE_SIDE
from digitpad.glyphs import GLYPHS, glyph_segments
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


_GLYPH_SEGMENTS = glyph_segments(MAX_POINTS - 1)


def _foreign_letters(count: int, generator: torch.Generator):
    """Greek and Cyrillic letters, each stretched, slanted and bent a little, as a hand writes them."""
    chosen = _integers(count, 0, len(GLYPHS) - 1, generator)
    starts, ends, used = (part[chosen] for part in _GLYPH_SEGMENTS)
    width = uniform((count, 1), 0.7, 1.2, generator)
    slant = uniform((count, 1), -0.25, 0.25, generator)
    amplitude = uniform((count, 2), 0.0, 0.06, generator)
    phase = uniform((count, 2), 0.0, 2 * math.pi, generator)

    def bent(points: torch.Tensor) -> torch.Tensor:
        # One smooth wobble for all of a drawing's points, so its strokes still meet where they met.
        x, y = points[..., 0], points[..., 1]
        wobbled_x = x + amplitude[:, :1] * torch.sin(2 * math.pi * y + phase[:, :1])
        wobbled_y = y + amplitude[:, 1:] * torch.sin(2 * math.pi * x + phase[:, 1:])
        return torch.stack([(wobbled_x - 0.5) * width + slant * (0.5 - wobbled_y), wobbled_y - 0.5], dim=-1)

    return bent(starts), bent(ends), used


FAMILIES = (_closed_polygons, _star_polygons, _spirals, _waves, _zigzags, _grids, _crossing_strokes, _foreign_letters)
# Letters are written upright; the other families may lie at any angle.
UPRIGHT = (FAMILIES.index(_foreign_letters),)
MOST_UPRIGHT_TILT = math.radians(15)


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


def _inked_columns(ink: torch.Tensor) -> torch.Tensor:
    """The columns of a (1, 28, 28) image that hold ink (all of them for a blank one)."""
    columns = (ink[0] > 0.1).any(dim=0).nonzero().flatten()
    return ink[0][:, int(columns[0]):int(columns[-1]) + 1] if len(columns) else ink[0]


def digit_rows(digits: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` rows of two or three of ``digits`` (ink, (B, 1, 28, 28)) side by side, fitted into the 20x20 box."""
    rows = torch.zeros(count, 1, IMAGE_SIDE, IMAGE_SIDE)
    for row in range(count):
        members = torch.randint(len(digits), (int(_integers(1, 2, 3, generator)),), generator=generator)
        # Apart as written: closer, two 1s would make one bold 1.
        gap = torch.zeros(IMAGE_SIDE, int(_integers(1, 3, 6, generator)))
        parts = [_inked_columns(digits[int(member)].cpu()) for member in members]
        strip = torch.cat([piece for part in parts for piece in (part, gap)][:-1], dim=1)
        # The digits keep MNIST's 20 px height in the strip; the whole row now has to fit that box.
        height = max(1, round(IMAGE_SIDE * min(1.0, DIGIT_BOX / strip.shape[1])))
        width = min(DIGIT_BOX, strip.shape[1])
        small = F.interpolate(strip[None, None], size=(height, width), mode="bilinear", antialias=True,
                              align_corners=False)[0, 0]
        top, left = (IMAGE_SIDE - height) // 2, (IMAGE_SIDE - width) // 2
        rows[row, 0, top:top + height, left:left + width] = small
    return rows.clamp(0.0, 1.0)


BLOB_SHARE = 0.1
ROW_SHARE = 0.25  # of the non-digits, when the batch's digits are given


def non_digit_batch(count: int, generator: torch.Generator, digits: torch.Tensor | None = None) -> torch.Tensor:
    """``count`` random non-digit drawings as ink in [0, 1], shape (count, 1, 28, 28).

    ``digits`` (ink, (B, 1, 28, 28)): when given, some drawings are rows of them.
    """
    family = _integers(count, 0, len(FAMILIES) - 1, generator)
    starts = torch.zeros(count, MAX_POINTS - 1, 2)
    ends = torch.zeros(count, MAX_POINTS - 1, 2)
    used = torch.zeros(count, MAX_POINTS - 1)
    for number, make in enumerate(FAMILIES):
        members = (family == number).nonzero().flatten()
        if len(members):
            starts[members], ends[members], used[members] = make(len(members), generator)
    angles = uniform((count,), 0.0, 2 * math.pi, generator)
    upright = torch.isin(family, torch.tensor(UPRIGHT))
    angles[upright] = uniform((int(upright.sum()),), -MOST_UPRIGHT_TILT, MOST_UPRIGHT_TILT, generator)
    starts, ends = _fit_to_digit_box(_rotate(starts, angles), _rotate(ends, angles), used)
    ink = draw_segments(starts, ends, used, uniform((count,), 0.8, 1.8, generator))
    blobs = torch.rand(count, generator=generator) < BLOB_SHARE
    if blobs.any():
        ink[blobs] = _blobs(int(blobs.sum()), generator)
    if digits is not None and len(digits):
        in_rows = torch.rand(count, generator=generator) < ROW_SHARE
        if in_rows.any():
            ink[in_rows] = digit_rows(digits, int(in_rows.sum()), generator)
    return ink
