"""Writing habits MNIST's American writers rarely show, added to training digits.

Many people write a 1 with a long flag (and sometimes a base), cross their 7s,
or slash their 0s. MNIST has few such digits, so a model trained on it read a
flagged 1 as a 7 with confidence (tests/bench/RESULTS.md, "Real handwriting:
many writers"). Training therefore draws these marks onto a share of its 1s,
7s and 0s, found from each image's own ink: the flag from the top of a 1, the
bar across a 7's stem, the slash across a 0's box. Every size and angle is
drawn at random from a wide range, and everything is batched in torch.
"""

from __future__ import annotations

import torch

from digitpad.augment import uniform
from digitpad.non_digits import draw_segments

FLAGGED_ONE_SHARE = 0.5
BASE_SHARE = 0.4  # of the flagged 1s
CROSSED_SEVEN_SHARE = 0.3
SLASHED_ZERO_SHARE = 0.05
# Ranges, as shares of the digit's height: how far a 1's flag reaches to the left
# (falling 0.45 to 1.2 times that, 24 to 50 degrees: long, flat flags are common
# where 7s are crossed), and half a 7's bar.
FLAG_REACH = (0.15, 0.6)
FLAG_FALL = (0.45, 1.2)
BAR_HALF = (0.12, 0.36)
_INKED = 0.3


def _ink_geometry(ink: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image (B, 1, 28, 28): top and bottom rows, left and right columns, and the x of the ink's
    middle in the top row, the bottom row and the row at 55 % of the height."""
    inked = ink[:, 0] > _INKED
    rows, columns = inked.any(dim=2).float(), inked.any(dim=1).float()
    index = torch.arange(ink.shape[-1], dtype=torch.float32, device=ink.device)
    top = (rows * (1000 - index)).argmax(dim=1).float()
    bottom = (rows * index).argmax(dim=1).float()
    left = (columns * (1000 - index)).argmax(dim=1).float()
    right = (columns * index).argmax(dim=1).float()

    def middle_of_row(row: torch.Tensor) -> torch.Tensor:
        line = inked[torch.arange(len(ink)), row.long()].float()
        return (line * index).sum(dim=1) / line.sum(dim=1).clamp(min=1.0)

    waist = (top + 0.55 * (bottom - top)).round()
    found = {"top": top, "bottom": bottom, "left": left, "right": right, "top_x": middle_of_row(top),
             "bottom_x": middle_of_row(bottom), "waist": waist, "waist_x": middle_of_row(waist)}
    # Pixel centres, as draw_segments measures.
    return {name: value + 0.5 for name, value in found.items()}


def _within(bounds: tuple[float, float], fraction: torch.Tensor) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * fraction


def _segment(start_x, start_y, end_x, end_y) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.stack([start_x, start_y], dim=-1), torch.stack([end_x, end_y], dim=-1)


def add_writing_habits(ink: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``ink`` (B, 1, 28, 28) in [0, 1] with flags and bases on some 1s, bars on some 7s, slashes on some 0s."""
    count = len(ink)
    chance = torch.rand(count, generator=generator).to(labels.device)
    flagged = (labels == 1) & (chance < FLAGGED_ONE_SHARE)
    crossed = (labels == 7) & (chance < CROSSED_SEVEN_SHARE)
    slashed = (labels == 0) & (chance < SLASHED_ZERO_SHARE)
    chosen = (flagged | crossed | slashed).nonzero().flatten()
    if not len(chosen):
        return ink
    shape = _ink_geometry(ink[chosen])
    shape = {name: value.cpu() for name, value in shape.items()}
    kind_flag, kind_cross = flagged[chosen].cpu(), crossed[chosen].cpu()
    height = (shape["bottom"] - shape["top"]).clamp(min=4.0)
    chosen_count = len(chosen)
    mark_size = torch.rand(chosen_count, generator=generator)
    reach = _within(FLAG_REACH, mark_size) * height
    bar_half = _within(BAR_HALF, mark_size) * height
    drop = uniform(chosen_count, *FLAG_FALL, generator) * reach

    # Two segments each: the mark itself, and a 1's base (unused for the others).
    flag = _segment(shape["top_x"] - reach, shape["top"] + drop, shape["top_x"], shape["top"])
    bar = _segment(shape["waist_x"] - bar_half, shape["waist"], shape["waist_x"] + bar_half, shape["waist"])
    width = shape["right"] - shape["left"]
    slash = _segment(shape["left"] + 0.15 * width, shape["bottom"] + 0.1 * height,
                     shape["right"] - 0.15 * width, shape["top"] - 0.1 * height)
    is_flag, is_bar = kind_flag.view(-1, 1), kind_cross.view(-1, 1)
    starts = torch.where(is_flag, flag[0], torch.where(is_bar, bar[0], slash[0]))
    ends = torch.where(is_flag, flag[1], torch.where(is_bar, bar[1], slash[1]))
    base_half = uniform(chosen_count, 0.15, 0.3, generator) * height
    base = _segment(shape["bottom_x"] - base_half, shape["bottom"], shape["bottom_x"] + base_half, shape["bottom"])
    with_base = kind_flag & (torch.rand(chosen_count, generator=generator) < BASE_SHARE)
    used = torch.stack([torch.ones(chosen_count), with_base.float()], dim=1)
    # Strokes about as wide as MNIST's: 2 to 3.5 pixels.
    marks = draw_segments(torch.stack([starts, base[0]], dim=1), torch.stack([ends, base[1]], dim=1), used,
                          uniform(chosen_count, 0.6, 1.3, generator))
    ink = ink.clone()
    ink[chosen] = torch.maximum(ink[chosen], marks.to(ink.device))
    return ink
