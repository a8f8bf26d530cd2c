import pytest
import torch

from digitpad import non_digits
from digitpad.non_digits import draw_segments, non_digit_batch


def test_a_batch_is_ink_in_mnist_shape_and_repeats_with_its_seed():
    first = non_digit_batch(64, torch.Generator().manual_seed(5))
    again = non_digit_batch(64, torch.Generator().manual_seed(5))
    other = non_digit_batch(64, torch.Generator().manual_seed(6))
    assert first.shape == (64, 1, 28, 28)
    assert first.min() >= 0.0 and first.max() <= 1.0
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("family", non_digits._FAMILIES, ids=lambda f: f.__name__.strip("_"))
def test_every_family_draws_inside_mnists_digit_box(family, monkeypatch):
    monkeypatch.setattr(non_digits, "_FAMILIES", (family,))
    monkeypatch.setattr(non_digits, "BLOB_SHARE", 0.0)
    ink = non_digit_batch(32, torch.Generator().manual_seed(0))[:, 0]
    inked = ink > 0.5
    assert inked.flatten(1).sum(1).min() >= 20, "every drawing has real strokes"
    rows = inked.any(dim=2)
    cols = inked.any(dim=1)
    for drawn in (rows, cols):
        # The longer side spans about 20 pixels plus the pen; nothing touches the border.
        assert not drawn[:, :2].any() and not drawn[:, -2:].any()
    spans = torch.maximum(rows.sum(1), cols.sum(1)).float()
    assert spans.min() >= 19 and spans.max() <= 25


def test_segments_are_drawn_with_a_round_pen_of_the_given_radius():
    starts = torch.tensor([[[4.0, 14.0], [0.0, 0.0]]])
    ends = torch.tensor([[[24.0, 14.0], [27.0, 27.0]]])
    used = torch.tensor([[1.0, 0.0]])  # the diagonal is not drawn
    ink = draw_segments(starts, ends, used, torch.tensor([1.5]))[0, 0]
    column = ink[:, 14]
    # Pixel centres are at +0.5: rows 13 and 14 sit 0.5 from the line, 12 and 15 at 1.5, 11 and 16 at 2.5;
    # full ink up to half a pixel inside the radius, fading over the next pixel.
    assert column[12:16].tolist() == [0.5, 1.0, 1.0, 0.5]
    assert column[11] == 0.0 and column[16] == 0.0
    assert ink[0, 0] == 0.0 and ink[27, 27] == 0.0
    assert ink[13, 1] == 0.0 and ink[13, 26] == 0.0  # round ends stop about the radius past the end points
