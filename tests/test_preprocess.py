import numpy as np
import pytest
import torch

from digitpad.config import MNIST_MEAN, MNIST_STD
from digitpad.preprocess import MNIST_CENTRE, to_grayscale, to_mnist_image, to_model_input


def drawing(height=300, width=300, background=255, ink=0) -> np.ndarray:
    image = np.full((height, width), background, dtype=np.uint8)
    return image


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    mass = image.sum()
    return float((rows * image).sum() / mass), float((cols * image).sum() / mass)


def bounding_box(image: np.ndarray, threshold=0.05) -> tuple[int, int]:
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def l_shape(image: np.ndarray, top: int, left: int, height: int, width: int, thickness: int, value: int) -> np.ndarray:
    image[top : top + height, left : left + thickness] = value
    image[top + height - thickness : top + height, left : left + width] = value
    return image


@pytest.mark.parametrize("top,left", [(10, 10), (150, 40), (200, 220)])
def test_centre_of_mass_lands_at_the_centre(top, left):
    image = l_shape(drawing(), top, left, height=80, width=60, thickness=12, value=0)
    result = to_mnist_image(image)
    row, col = centre_of_mass(result)
    assert abs(row - MNIST_CENTRE) <= 0.5 and abs(col - MNIST_CENTRE) <= 0.5


def test_longer_side_fits_twenty_pixels_and_aspect_is_kept():
    tall = drawing()
    tall[20:260, 120:180] = 0  # 240 x 60: aspect 4
    height, width = bounding_box(to_mnist_image(tall))
    assert height == 20
    assert width == pytest.approx(5, abs=1)

    wide = drawing()
    wide[100:160, 10:290] = 0  # 60 x 280
    height, width = bounding_box(to_mnist_image(wide))
    assert width == 20
    assert height == pytest.approx(60 * 20 / 280, abs=1)


def test_small_and_large_drawings_give_the_same_digit():
    big = l_shape(drawing(600, 600), 100, 100, 400, 300, 60, 0)
    small = l_shape(drawing(60, 60), 10, 10, 40, 30, 6, 0)
    assert np.abs(to_mnist_image(big) - to_mnist_image(small)).mean() < 0.03


def test_both_polarities_give_the_same_result():
    dark_on_light = l_shape(drawing(), 50, 50, 150, 100, 20, 0)
    light_on_dark = 255 - dark_on_light
    a = to_mnist_image(dark_on_light)
    b = to_mnist_image(light_on_dark)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a.max() == pytest.approx(1.0) and a.min() == 0.0


def test_rgb_rgba_and_float_inputs():
    gray = l_shape(drawing(), 50, 50, 150, 100, 20, 0)
    expected = to_mnist_image(gray)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_allclose(to_mnist_image(rgb), expected, atol=1e-5)
    rgba = np.concatenate([rgb, np.full_like(gray, 255)[:, :, None]], axis=2)
    np.testing.assert_allclose(to_mnist_image(rgba), expected, atol=1e-5)
    np.testing.assert_allclose(to_mnist_image(gray.astype(np.float32) / 255), expected, atol=1e-5)
    # Black ink on a transparent (all-black, alpha 0) background stays visible.
    transparent = np.zeros((300, 300, 4), dtype=np.uint8)
    transparent[:, :, 3] = 255 - gray
    np.testing.assert_allclose(to_mnist_image(transparent), expected, atol=1e-5)
    sixteen_bit = gray.astype(np.uint16) * 257
    np.testing.assert_allclose(to_mnist_image(sixteen_bit), expected, atol=1e-5)


@pytest.mark.parametrize("value", [0, 255, 128])
def test_blank_images_are_empty(value):
    assert to_mnist_image(drawing(background=value)) is None
    assert to_model_input(drawing(background=value)) is None


def test_faint_noise_is_not_ink():
    rng = np.random.default_rng(0)
    paper = (235 + rng.integers(-8, 8, size=(200, 200))).astype(np.uint8)
    assert to_mnist_image(paper) is None


def test_model_input_is_normalized_like_mnist():
    image = l_shape(drawing(), 50, 50, 150, 100, 20, 0)
    x = to_model_input(image)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x.min().item() == pytest.approx(-MNIST_MEAN / MNIST_STD)
    assert x.max().item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD, rel=1e-4)


def test_normalizing_in_numpy_gives_torchs_float32_arithmetic_bit_for_bit():
    from digitpad.preprocess import normalize

    rng = np.random.default_rng(3)
    for image in (rng.random((28, 28), dtype=np.float32), np.arange(784).reshape(28, 28) / 783.0, np.zeros((28, 28))):
        pixels = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
        expected = ((pixels - MNIST_MEAN) / MNIST_STD).reshape(1, 1, 28, 28)
        result = normalize(image)
        assert result.dtype == torch.float32 and result.shape == (1, 1, 28, 28)
        assert torch.equal(result, expected)


def test_unsupported_shapes_are_refused():
    with pytest.raises(ValueError):
        to_grayscale(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError):
        to_grayscale(np.zeros((0, 0)))


def test_known_polarity_survives_a_drawing_that_covers_most_of_the_canvas():
    # Light ink over 70 % of a dark canvas: the median is ink, so detection alone would invert it.
    canvas = np.zeros((100, 100), dtype=np.uint8)
    canvas[:, :70] = 255
    told = to_mnist_image(canvas, light_ink=True)
    assert told is not None
    assert bounding_box(told) == (20, 14)  # the 100x70 inked block, not the 100x30 paper strip
    guessed = to_mnist_image(canvas)
    assert guessed is not None and not np.allclose(guessed, told)
