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


@pytest.mark.parametrize("family", non_digits.FAMILIES, ids=lambda f: f.__name__.strip("_"))
def test_every_family_draws_inside_mnists_digit_box(family, monkeypatch):
    monkeypatch.setattr(non_digits, "FAMILIES", (family,))
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


def test_foreign_letters_stand_upright_and_every_glyph_fits_its_box():
    from digitpad.glyphs import GLYPHS, glyph_segments

    starts, ends, used = glyph_segments(non_digits.MAX_POINTS - 1)
    assert len(starts) == len(GLYPHS) and used.sum(1).min() >= 2
    drawn = torch.cat([starts, ends], dim=1)[torch.cat([used, used], dim=1).bool()]
    assert drawn.min() >= -0.05 and drawn.max() <= 1.05
    assert non_digits.FAMILIES.index(non_digits._foreign_letters) in non_digits.UPRIGHT
    with pytest.raises(ValueError, match="segments"):
        glyph_segments(3)


def test_no_latin_letter_trains_the_model_so_the_benchmarks_letters_stay_unseen():
    from digitpad.glyphs import GLYPHS

    assert not any("A" <= name <= "Z" for name in GLYPHS)


def _two_digits() -> torch.Tensor:
    """A 1 (a bar) and a 0 (a ring), as MNIST centres them, in ink."""
    ink = torch.zeros(2, 1, 28, 28)
    ink[0, 0, 4:24, 13:15] = 1.0
    ink[1, 0, 4:24, 6:22] = 1.0
    ink[1, 0, 7:21, 9:19] = 0.0
    return ink


def test_rows_of_digits_fit_mnists_box_and_keep_their_digits_apart():
    rows = non_digits.digit_rows(_two_digits(), 20, torch.Generator().manual_seed(0))[:, 0]
    assert rows.shape == (20, 28, 28) and rows.min() >= 0 and rows.max() <= 1
    inked = rows > 0.3
    heights = inked.any(dim=2).sum(1)
    widths = inked.any(dim=1).sum(1)
    assert torch.maximum(widths, heights).max() <= 21
    assert not inked[:, :, :3].any() and not inked[:, :, -3:].any()
    columns = inked.any(dim=1)
    gaps = columns[:, 1:].float() - columns[:, :-1].float()
    assert ((gaps == -1).sum(1) >= 2).all(), "every row has two or more separate digits"


def test_a_row_of_rings_is_wider_than_tall():
    rings = _two_digits()[1:].expand(4, 1, 28, 28)
    inked = non_digits.digit_rows(rings, 10, torch.Generator().manual_seed(2))[:, 0] > 0.3
    assert (inked.any(dim=1).sum(1) > inked.any(dim=2).sum(1)).all()


def test_a_batch_given_its_digits_makes_about_a_quarter_of_them_rows():
    generator = torch.Generator().manual_seed(3)
    without = non_digit_batch(400, torch.Generator().manual_seed(3))
    with_rows = non_digit_batch(400, generator, digits=_two_digits())
    changed = (with_rows != without).flatten(1).any(1).float().mean()
    assert abs(changed - non_digits.ROW_SHARE) < 0.07
