"""Turn a drawn image into the 28x28 input the models take, the way MNIST was made.

MNIST's digits were cropped to their ink, scaled with antialiasing so the longer
side is 20 px (aspect kept), then placed in a 28x28 field with their centre of
mass at the centre. Doing the same to a drawing matters more for accuracy than
anything else: a naive resize of the whole canvas gives digits of the wrong
size, in the wrong place.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from digitpad.config import IMAGE_SIDE, MNIST_MEAN, MNIST_STD

DIGIT_BOX = 20
# MNIST's mean centre of mass, in pixel indices (measured on the training set).
MNIST_CENTRE = 14.0
# Ink fainter than this (fraction of full contrast) is paper texture or noise.
INK_THRESHOLD = 0.2
# A drawing whose strongest ink is below this contrast has no ink at all.
MIN_CONTRAST = 0.15


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """Any (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image as float luminance in [0, 1].

    Transparent pixels are laid over whichever of black or white contrasts with
    the opaque ones, so ink on a transparent background stays visible.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"expected a grayscale, RGB or RGBA image, got shape {array.shape}")
    if array.size == 0:
        raise ValueError("the image has no pixels")
    pixels = array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        pixels /= float(np.iinfo(array.dtype).max)
    elif pixels.max(initial=0.0) > 1.0:
        pixels /= 255.0
    if pixels.ndim == 2:
        return np.clip(pixels, 0.0, 1.0)
    luminance = pixels[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if pixels.shape[2] == 4:
        alpha = pixels[:, :, 3]
        if alpha.min() < 1.0:
            opaque_weight = alpha.sum()
            opaque_mean = float((luminance * alpha).sum() / opaque_weight) if opaque_weight > 0 else 0.0
            backdrop = 0.0 if opaque_mean > 0.5 else 1.0
            luminance = luminance * alpha + backdrop * (1.0 - alpha)
    return np.clip(luminance, 0.0, 1.0)


def ink_map(
    gray: np.ndarray, light_ink: bool | None = None, levels: tuple[float, float] | None = None
) -> np.ndarray:
    """Ink strength in [0, 1] from luminance, for light-on-dark or dark-on-light.

    ``light_ink`` says which it is; None detects it. The background is taken as
    the median luminance, since paper covers most of a drawing; ink is
    whatever departs from it towards the far end. A caller that knows its
    polarity (the canvas) says so, because a scribble that covers most of the
    canvas would fool the median.

    ``levels``: the darkest and lightest luminance of the whole image, when
    ``gray`` is only the part of it that holds the ink (see ``_ink_window``).
    """
    told = light_ink is not None
    darkest, lightest = levels if levels is not None else (float(gray.min()), float(gray.max()))
    if light_ink is None:
        background = float(np.median(gray))
        light_ink = background <= 0.5
    else:
        background = darkest if light_ink else lightest
    if not light_ink:
        departure = background - gray
        full_contrast = background - darkest
    else:
        departure = gray - background
        full_contrast = lightest - background
    if full_contrast < MIN_CONTRAST:
        # No contrast. With a known polarity, an image that is ink all over (a scribble
        # across the whole canvas) is one solid blot of ink, not blank paper.
        if told and (background > 0.5) == light_ink:
            return np.ones_like(gray)
        return np.zeros_like(gray)
    ink = np.clip(departure / full_contrast, 0.0, 1.0)
    # Drop faint texture, then stretch what is left back to [0, 1].
    return np.clip((ink - INK_THRESHOLD) / (1.0 - INK_THRESHOLD), 0.0, 1.0)


def _fit_in_box(ink: Image.Image) -> np.ndarray | None:
    """The ink (a PIL "F" image) cropped to its box and scaled so its longer side is DIGIT_BOX; None if blank.

    The box is PIL's box of nonzero pixels: ink is never negative, nor -0.0.
    """
    box = ink.getbbox()
    if box is None:
        return None
    cropped = ink.crop(box)
    width, height = cropped.size
    scale = DIGIT_BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # PIL widens its filter when shrinking, which is the antialiasing MNIST used.
    resized = cropped.resize(new_size, Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _place_by_centre_of_mass(digit: np.ndarray) -> np.ndarray:
    height, width = digit.shape
    rows, cols = np.indices(digit.shape)
    mass = digit.sum()
    centre_row = float((rows * digit).sum() / mass)
    centre_col = float((cols * digit).sum() / mass)
    top = round(MNIST_CENTRE - centre_row)
    left = round(MNIST_CENTRE - centre_col)
    field = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    # Clip to the field: a lopsided shape may have its mass far from its box centre.
    src_top, src_left = max(0, -top), max(0, -left)
    dst_top, dst_left = max(0, top), max(0, left)
    rows_copied = min(height - src_top, IMAGE_SIDE - dst_top)
    cols_copied = min(width - src_left, IMAGE_SIDE - dst_left)
    field[dst_top : dst_top + rows_copied, dst_left : dst_left + cols_copied] = digit[
        src_top : src_top + rows_copied, src_left : src_left + cols_copied
    ]
    return field


def _ink_window(image: np.ndarray, light_ink: bool | None) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The part of a grayscale integer image of known polarity where the ink can be.

    Returns that part's pixels, (h, w), and the whole image's darkest and
    lightest pixel values: the window holds every pixel that ``ink_map``
    could count as ink, so only it needs converting to float; on the canvas
    that is most of the work. None when there is no such shortcut (unknown
    polarity, colour, float pixels, little contrast); the result is the same
    either way.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if light_ink is None or array.ndim != 2 or array.size == 0 or not np.issubdtype(array.dtype, np.integer):
        return None
    low, high = int(array.min()), int(array.max())
    full_scale = int(np.iinfo(array.dtype).max)
    if low < 0 or high - low <= MIN_CONTRAST * full_scale + 1:
        return None
    # ink_map keeps pixels beyond INK_THRESHOLD of the contrast; one level of
    # slack covers its float rounding, so the window holds all of them.
    reach = int(INK_THRESHOLD * (high - low)) - 1
    # A row (column) holds ink where its extreme pixel passes the threshold: one
    # reduction instead of a boolean mask of the whole image.
    if light_ink:
        threshold = low + reach
        rows = np.flatnonzero(array.max(axis=1) > threshold)
        band = array[rows[0] : rows[-1] + 1]
        cols = np.flatnonzero(band.max(axis=0) > threshold)
    else:
        threshold = high - reach
        rows = np.flatnonzero(array.min(axis=1) < threshold)
        band = array[rows[0] : rows[-1] + 1]
        cols = np.flatnonzero(band.min(axis=0) < threshold)
    return band[:, cols[0] : cols[-1] + 1], (low, high)


# The luminance of each value an 8-bit pixel can take.
_GRAY_OF_BYTE = to_grayscale(np.arange(256, dtype=np.uint8).reshape(1, 256))[0]


def _ink_of_window(pixels: np.ndarray, light_ink: bool, extremes: tuple[int, int]) -> Image.Image:
    """``ink_map(to_grayscale(pixels))`` as a PIL "F" image, for part of an image whose darkest and lightest
    pixel values are ``extremes``."""
    if pixels.dtype == np.uint8:
        # An 8-bit pixel has 256 possible values and the conversion treats each
        # pixel on its own: convert the 256 values once, then let PIL map the
        # pixels through that table in one C pass ("L" to "F"). The same float32
        # arithmetic on the same values, so the same result, with one pass over the
        # window instead of nine.
        levels = (float(_GRAY_OF_BYTE[extremes[0]]), float(_GRAY_OF_BYTE[extremes[1]]))
        ink_of_value = ink_map(_GRAY_OF_BYTE, light_ink, levels)
        return Image.fromarray(pixels).point(ink_of_value.tolist(), "F")
    levels = to_grayscale(np.array([extremes], dtype=pixels.dtype))[0]
    return Image.fromarray(ink_map(to_grayscale(pixels), light_ink, (float(levels[0]), float(levels[1]))))


def to_mnist_image(image: np.ndarray, light_ink: bool | None = None) -> np.ndarray | None:
    """The drawing as a 28x28 MNIST-style image (float32, ink 1, paper 0), or None if it has no ink.

    ``light_ink``: True for light ink on a dark background, False for dark on
    light, None to detect it.
    """
    shortcut = _ink_window(image, light_ink)
    if shortcut is not None:
        pixels, extremes = shortcut
        ink = _ink_of_window(pixels, bool(light_ink), extremes)
    else:
        ink = Image.fromarray(ink_map(to_grayscale(image), light_ink))
    return fit_and_centre(ink)


def fit_and_centre(ink: Image.Image) -> np.ndarray | None:
    """Ink (a PIL "F" image, 0 to 1) cropped, scaled to the 20 px box and centred by mass in 28x28; None if blank."""
    digit = _fit_in_box(ink)
    if digit is None or digit.sum() <= 0:
        return None
    return _place_by_centre_of_mass(digit)


def normalize(mnist_image: np.ndarray) -> torch.Tensor:
    """A 28x28 [0, 1] image as the model's (1, 1, 28, 28) normalized input; a stack (N, 28, 28) as (N, 1, 28, 28)."""
    # In NumPy rather than torch: the same float32 arithmetic, bit for bit, without
    # torch's per-operation overhead, which dominates on one small image.
    pixels = np.asarray(mnist_image, dtype=np.float32)
    normalized = (pixels - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)
    return torch.from_numpy(np.ascontiguousarray(normalized).reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE))


def to_model_input(image: np.ndarray, light_ink: bool | None = None) -> torch.Tensor | None:
    """The drawing as the model's normalized (1, 1, 28, 28) input, or None if it has no ink."""
    mnist_image = to_mnist_image(image, light_ink)
    if mnist_image is None:
        return None
    return normalize(mnist_image)
