"""Reading images from files: one image for ``digitpad predict``, and folders of labelled
drawings in torchvision's ``ImageFolder`` layout for ``digitpad eval --images``.

``ImageFolder`` keeps each class in a folder named after it; here the classes
are the digits, so ``DIR/0/*.png`` ... ``DIR/9/*.png``. Like ImageFolder, the
files are found in the digit folders and below, and only files with an image
extension count (so notes or the ``.json`` beside a drawing are ignored).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitpad import paths
from digitpad.config import IMAGE_SIDE, NUM_CLASSES
from digitpad.preprocess import to_mnist_image

# torchvision.datasets.folder.IMG_EXTENSIONS
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
DIGIT_FOLDERS = tuple(str(digit) for digit in range(NUM_CLASSES))

# Larger images are shrunk before preprocessing: a digit needs nowhere near this
# many pixels, and a 10000x10000 photo would otherwise cost seconds and gigabytes.
_MAX_IMAGE_SIDE = 2048


class ImageReadError(Exception):
    """An image file that cannot be classified; the message says why."""


def read_image(path: Path) -> np.ndarray:
    """An image file as a numpy array preprocess accepts: (H, W) or (H, W, 3|4), first frame only."""
    if not path.exists():
        raise ImageReadError(paths.broken_link(path) or "no such file")
    if path.is_dir():
        raise ImageReadError("it is a folder, not an image")
    try:
        if path.stat().st_size == 0:
            raise ImageReadError("the file is empty")
        with warnings.catch_warnings():
            # Pillow warns about large images; sizes up to its hard limit are shrunk below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft(None, (_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE))  # JPEG decodes at reduced size
                image.load()
                frame = ImageOps.exif_transpose(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError:
        raise ImageReadError("the image is too large to read safely") from None
    except UnidentifiedImageError:
        raise ImageReadError("it is not an image file digitpad can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"the image is damaged or cannot be read ({error})") from None

    if frame.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit images: scale to [0, 1] here; converting to 8-bit in Pillow clips them.
        pixels = np.asarray(frame, dtype=np.float32)
        top = 65535.0 if pixels.max(initial=0) <= 65535 else float(pixels.max())
        return _shrink_array(pixels / top)
    if frame.mode == "F":
        pixels = np.asarray(frame, dtype=np.float32)
        return _shrink_array(pixels / 255.0 if pixels.max(initial=0) > 1.0 else pixels)
    has_alpha = frame.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in frame.info
    frame = frame.convert("RGBA" if has_alpha else ("L" if frame.mode in ("1", "L") else "RGB"))
    if max(frame.size) > _MAX_IMAGE_SIDE:
        frame.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE), Image.Resampling.BOX)
    return np.asarray(frame)


def _shrink_array(pixels: np.ndarray) -> np.ndarray:
    if max(pixels.shape) <= _MAX_IMAGE_SIDE:
        return pixels
    image = Image.fromarray(pixels.astype(np.float32), mode="F")
    image.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE), Image.Resampling.BOX)
    return np.asarray(image)


class ImageFolderError(Exception):
    """A folder that does not hold labelled drawings in the ImageFolder layout; the message says why."""


@dataclass(frozen=True, eq=False)
class LabelledImages:
    """Drawings read from a folder, as model inputs, with what could not be read."""

    images: np.ndarray = field(repr=False)  # (N, 28, 28) float32, ink 1 on paper 0
    labels: np.ndarray = field(repr=False)  # (N,) int64
    paths: list[Path] = field(repr=False)
    problems: list[str] = field(default_factory=list)  # "PATH: why", one per file skipped


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def images_in(folder: Path) -> list[Path]:
    """The image files in ``folder`` and below it, in name order; hidden files and folders are skipped."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if is_image_file(path) and not any(part.startswith(".") for part in relative) and path.is_file():
            found.append(path)
    return found


def _layout_hint(root: Path) -> str:
    return (f"Put each drawing in the folder of its digit: {root / '0'}/*.png ... {root / '9'}/*.png "
            "(torchvision's ImageFolder layout).")


def digit_folders(root: Path) -> tuple[list[tuple[int, Path]], list[str]]:
    """The digit folders (``0`` to ``9``) under ``root``, and what else is there that is skipped.

    ImageFolderError if there are no digit folders.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise ImageFolderError(f"The folder {root} does not exist.")
    if not root.is_dir():
        raise ImageFolderError(f"{root} is a file, not a folder of drawings. {_layout_hint(root)}")
    try:
        entries = sorted(root.iterdir())
    except OSError as error:
        raise ImageFolderError(f"The folder {root} cannot be read ({error.strerror or error}).") from None
    folders = [(int(entry.name), entry) for entry in entries if entry.name in DIGIT_FOLDERS and entry.is_dir()]
    if not folders:
        loose = sum(1 for entry in entries if is_image_file(entry))
        found = f"it holds {loose} images but no digit folders" if loose else "it has no digit folders 0 to 9"
        raise ImageFolderError(f"{root} is not laid out as labelled drawings: {found}. {_layout_hint(root)}")
    skipped = [f"{entry}: not in a digit folder (0 to 9); skipped" for entry in entries
               if not entry.name.startswith(".") and entry.name not in DIGIT_FOLDERS
               and (entry.is_dir() or is_image_file(entry))]
    return folders, skipped


def load_labelled_folder(root: str | Path) -> LabelledImages:
    """Every drawing in ``root/0`` ... ``root/9`` as a model input, labelled by its folder.

    Each file goes through the same preprocessing as ``digitpad predict``.
    Files that cannot be read and blank images are skipped and listed in
    ``problems``; a folder that is not in the layout, or holds no drawing at
    all, raises ImageFolderError.
    """
    root = Path(root).expanduser()
    folders, skipped = digit_folders(root)
    images, labels, paths, problems = [], [], [], []
    for digit, folder in folders:
        for path in images_in(folder):
            try:
                image = to_mnist_image(read_image(path))
            except (ImageReadError, ValueError) as error:
                problems.append(f"{path}: {error}")
                continue
            if image is None:
                problems.append(f"{path}: no digit: the image is blank (no ink found)")
                continue
            images.append(image)
            labels.append(digit)
            paths.append(path)
    if not images:
        why = (f"none of its {len(problems)} images could be read ({problems[0]}{', ...' if len(problems) > 1 else ''})"
               if problems else "its digit folders hold no images")
        raise ImageFolderError(f"There are no drawings to use in {root}: {why}. {_layout_hint(root)}")
    problems.extend(skipped)
    return LabelledImages(np.stack(images).astype(np.float32).reshape(-1, IMAGE_SIDE, IMAGE_SIDE),
                          np.array(labels, dtype=np.int64), paths, problems)
