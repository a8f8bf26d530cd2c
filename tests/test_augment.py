import torch

from digitpad.augment import AugmentSettings, augment_batch, redraw_with_pen, thin
from digitpad.config import MNIST_MEAN, MNIST_STD

NO_CHANGE = AugmentSettings(
    max_rotation_degrees=0, min_scale=1, max_scale=1, max_shear=0, max_shift_pixels=0,
    elastic_probability=0, max_thicken=0, max_thin=0, redraw_probability=0,
)


def bar_batch() -> torch.Tensor:
    ink = torch.zeros(4, 1, 28, 28)
    ink[:, :, 6:22, 12:16] = 1.0
    return (ink - MNIST_MEAN) / MNIST_STD


def test_identity_settings_keep_images():
    images = bar_batch()
    out = augment_batch(images, torch.Generator().manual_seed(0), MNIST_MEAN, MNIST_STD, NO_CHANGE)
    assert torch.allclose(out, images, atol=1e-5)


def test_augmentation_changes_images_but_keeps_range_and_background():
    images = bar_batch()
    out = augment_batch(images, torch.Generator().manual_seed(0), MNIST_MEAN, MNIST_STD)
    assert out.shape == images.shape
    assert not torch.allclose(out, images)
    ink = out * MNIST_STD + MNIST_MEAN
    assert ink.min() >= -1e-5 and ink.max() <= 1 + 1e-5
    assert torch.allclose(ink[:, :, 0, :], torch.zeros(4, 28), atol=1e-5)


def test_augmentation_is_seeded():
    images = bar_batch()
    a = augment_batch(images, torch.Generator().manual_seed(5), MNIST_MEAN, MNIST_STD)
    b = augment_batch(images, torch.Generator().manual_seed(5), MNIST_MEAN, MNIST_STD)
    assert torch.equal(a, b)


def test_thinning_leaves_a_one_pixel_line():
    bar = torch.zeros(1, 1, 28, 28)
    bar[:, :, 6:22, 10:15] = 1.0
    skeleton = thin(bar > 0.5)
    columns_per_row = (skeleton[0, 0] > 0).sum(dim=1)
    assert columns_per_row.max() == 1
    assert (columns_per_row > 0).sum() >= 10


def test_redraw_uses_the_given_pen_width():
    bar = torch.zeros(2, 1, 28, 28)
    bar[:, :, 6:22, 10:15] = 1.0
    redrawn = redraw_with_pen(bar, torch.tensor([0.7, 1.6]))
    thin_width, thick_width = (redrawn[:, 0, 14] > 0.5).sum(dim=1).tolist()
    assert thin_width < thick_width
    assert 1 <= thin_width <= 2 and 3 <= thick_width <= 4
