"""Writing habits drawn onto training digits: flagged 1s, crossed 7s, slashed 0s (digitpad.habits)."""

from __future__ import annotations

import pytest
import torch

from digitpad import habits
from digitpad.habits import add_writing_habits


def _upright_one() -> torch.Tensor:
    ink = torch.zeros(1, 28, 28)
    ink[0, 4:24, 13:15] = 1.0
    return ink


@pytest.fixture
def always(monkeypatch):
    for name in ("FLAGGED_ONE_SHARE", "CROSSED_SEVEN_SHARE", "SLASHED_ZERO_SHARE"):
        monkeypatch.setattr(habits, name, 1.0)
    monkeypatch.setattr(habits, "BASE_SHARE", 0.0)


def test_a_flag_falls_to_the_left_from_the_top_of_a_one(always):
    ink = _upright_one().expand(8, 1, 28, 28).clone()
    out = add_writing_habits(ink, torch.ones(8, dtype=torch.long), torch.Generator().manual_seed(0))
    added = (out - ink)[:, 0] > 0.5
    rows, columns = added.nonzero()[:, 1], added.nonzero()[:, 2]
    assert added.flatten(1).any(1).all(), "every 1 got a flag"
    assert columns.max() <= 15 and columns.min() < 12, "to the left of the stem"
    assert rows.max() < 4 + 0.5 * 20, "in the upper half"


def test_a_seven_gets_a_bar_across_its_stem_below_the_middle(always):
    seven = torch.zeros(1, 1, 28, 28)
    seven[0, 0, 4:6, 6:22] = 1.0  # the top bar
    seven[0, 0, 6:24, 12:14] = 1.0  # the stem, straight for the test
    out = add_writing_habits(seven, torch.tensor([7]), torch.Generator().manual_seed(1))
    added = (out - seven)[0, 0] > 0.5
    rows = added.any(dim=1).nonzero().flatten()
    columns = added.any(dim=0).nonzero().flatten()
    assert 12 <= rows.min() and rows.max() <= 18
    assert columns.min() < 12 and columns.max() > 13, "across the stem"


def test_other_digits_and_the_unchosen_are_left_alone(monkeypatch):
    monkeypatch.setattr(habits, "FLAGGED_ONE_SHARE", 0.0)
    ink = _upright_one().expand(6, 1, 28, 28).clone()
    labels = torch.tensor([1, 2, 3, 4, 5, 6])
    assert torch.equal(add_writing_habits(ink, labels, torch.Generator().manual_seed(0)), ink)


def test_about_the_stated_share_of_ones_is_flagged_and_a_seed_repeats_it():
    ink = _upright_one().expand(500, 1, 28, 28).clone()
    labels = torch.ones(500, dtype=torch.long)
    first = add_writing_habits(ink, labels, torch.Generator().manual_seed(4))
    again = add_writing_habits(ink, labels, torch.Generator().manual_seed(4))
    assert torch.equal(first, again)
    share = (first != ink).flatten(1).any(1).float().mean()
    assert abs(share - habits.FLAGGED_ONE_SHARE) < 0.06


def test_flags_range_from_short_and_steep_to_long_and_flat(always):
    # The stem spans rows 4-23 and columns 13-14: its top's middle is at (14, 4).
    ink = _upright_one().expand(300, 1, 28, 28).clone()
    out = add_writing_habits(ink, torch.ones(300, dtype=torch.long), torch.Generator().manual_seed(2))
    reaches, angles = [], []
    for added in (out - ink)[:, 0] > 0.5:
        rows, columns = added.nonzero(as_tuple=True)
        tip = columns.argmin()
        reach, fall = 14.0 - columns[tip].item(), rows[tip].item() + 0.5 - 4.0
        reaches.append(reach / 20)
        angles.append(torch.atan2(torch.tensor(fall), torch.tensor(reach)).rad2deg().item())
    assert min(reaches) < 0.25 and max(reaches) > 0.5, "short flags and long ones"
    assert min(angles) < 30 and max(angles) > 45, "flat flags and steep ones"
    assert 15 < min(angles) and max(angles) < 60, "never as flat as a 7's top, never a stroke down"
