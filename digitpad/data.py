"""MNIST: find it, check it, and hold it in memory as tensors (``mnist_download``
fetches it when it is missing).

The images are read through ``torchvision.datasets.MNIST`` and normalized once
into float tensors, so training batches by index and never pays per-item PIL or
transform costs. The uint8 images are cached in the user's cache folder (loaded
back with ``weights_only=True``), so later runs start without torchvision.

A data folder may use torchvision's layout (``ROOT/MNIST/raw/...``, compressed
or not) or be a plain folder holding the four ``.gz`` IDX files. Plain folders
are only read: they may be shared and read-only.

Counts must be MNIST's own (60,000 training and 10,000 test images) unless the
environment variable ``DIGITPAD_ALLOW_SMALL_MNIST=1`` allows smaller,
self-consistent sets (tests and quick experiments use it).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from digitpad import paths
from digitpad.config import IMAGE_SIDE, MNIST_MEAN, MNIST_STD, NUM_CLASSES

MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
STANDARD_COUNTS = {"train": 60_000, "test": 10_000}
ALLOW_SMALL_ENV = "DIGITPAD_ALLOW_SMALL_MNIST"

IMAGES_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_CACHE_VERSION = 1

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]


class DataError(Exception):
    """MNIST is missing, broken or unreachable; ``str(error)`` is a paragraph for the user."""


class DownloadCancelled(DataError):
    """The download was stopped on request; nothing partial was kept."""


@dataclass
class MnistTensors:
    """MNIST in memory: images (N, 1, 28, 28) float32 normalized, labels (N,) int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: Path | None = None


def all_file_names() -> list[str]:
    return [name for pair in MNIST_FILES.values() for name in pair]


def gz_names() -> str:
    """The four MNIST file names as a folder may hold them, for messages."""
    return ", ".join(name + ".gz" for name in all_file_names())


def normalize_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 (N, 1, 28, 28), exactly as torchvision's ToTensor() then
    Normalize(MNIST_MEAN, MNIST_STD), without their per-image cost."""
    normalized = images.to(torch.float32)
    normalized.div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)
    return normalized.unsqueeze(1)


def validation_split(n: int, validation_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (train_index, validation_index) over ``n`` training images.

    The validation part is capped at a fifth of ``n`` so a small data set still
    leaves most images for training; full MNIST is never affected by the cap.
    """
    validation_size = max(0, min(int(validation_size), n // 5))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    validation_index, _ = order[:validation_size].sort()
    train_index, _ = order[validation_size:].sort()
    return train_index, validation_index


# --- finding and checking files -------------------------------------------------------------


def _remedy(root: Path) -> str:
    return (
        f"Point --data-dir or the environment variable {paths.DATA_DIR_ENV} at a folder holding the four "
        f"MNIST files ({gz_names()}), or delete the broken files in {root} so digitpad downloads them again."
    )


def _candidates(root: Path, name: str) -> list[Path]:
    raw = root / "MNIST" / "raw"
    # Decompressed first: torchvision reads those in place.
    return [raw / name, raw / f"{name}.gz", root / f"{name}.gz", root / name]


def _found_files(root: Path) -> dict[str, Path]:
    found = {}
    for name in all_file_names():
        for candidate in _candidates(root, name):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def locate_mnist(root: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The four MNIST files under ``root`` (either layout), or None if any is missing."""
    found = _found_files(Path(root))
    return found if len(found) == len(MNIST_FILES) * 2 else None


def holds_mnist(folder: str | os.PathLike[str]) -> bool:
    """``folder`` exists and holds the four MNIST files (not checked for damage here)."""
    try:
        return Path(folder).is_dir() and locate_mnist(folder) is not None
    except OSError:
        return False


def _allow_small(allow_small: bool | None) -> bool:
    if allow_small is not None:
        return allow_small
    return os.environ.get(ALLOW_SMALL_ENV, "").strip().lower() in ("1", "true", "yes")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == _GZIP_MAGIC


def _open_idx(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _check_idx_file(path: Path, is_images: bool, root: Path) -> int:
    """Check one IDX file end to end; return its item count or raise DataError saying what is wrong."""
    what = "image" if is_images else "label"
    expected_magic = IMAGES_MAGIC if is_images else LABELS_MAGIC
    header_size = 16 if is_images else 8

    def problem(text: str) -> DataError:
        return DataError(f"The MNIST {what} file {path} {text}. {_remedy(root)}")

    try:
        if path.stat().st_size == 0:
            raise problem("is empty")
        compressed = _is_gzip(path)
        with _open_idx(path) as stream:
            header = stream.read(header_size)
            if len(header) < 4:
                raise problem(f"is too short to be an IDX file ({len(header)} bytes)")
            magic = struct.unpack(">I", header[:4])[0]
            if magic != expected_magic:
                other = {IMAGES_MAGIC: "an image file", LABELS_MAGIC: "a label file"}.get(magic)
                hint = f" (that is {other})" if other else ""
                raise problem(
                    f"has IDX magic number {magic}{hint}; an MNIST {what} file starts with {expected_magic}"
                )
            if len(header) < header_size:
                raise problem(f"is truncated inside its header ({len(header)} of {header_size} bytes)")
            count = struct.unpack(">I", header[4:8])[0]
            item_size = 1
            if is_images:
                rows, columns = struct.unpack(">II", header[8:16])
                if (rows, columns) != (IMAGE_SIDE, IMAGE_SIDE):
                    raise problem(f"holds {rows}x{columns} images; MNIST images are {IMAGE_SIDE}x{IMAGE_SIDE}")
                item_size = rows * columns
            if count == 0:
                raise problem("holds no items (its header says 0)")
            expected_bytes = count * item_size
            body_bytes = 0
            largest_label = 0
            while chunk := stream.read(_CHUNK):
                body_bytes += len(chunk)
                if not is_images:
                    largest_label = max(largest_label, max(chunk))
    except DataError:
        raise
    except EOFError:
        raise problem("is truncated: its gzip data ends before the end-of-stream marker") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise problem(f"is corrupt: its gzip data cannot be decompressed ({error})") from None
    except OSError as error:
        raise problem(f"cannot be read ({error.strerror or error})") from None

    unit = "images" if is_images else "labels"
    if body_bytes < expected_bytes:
        state = "after decompression " if compressed else ""
        raise problem(
            f"is truncated: its header promises {count} {unit} ({expected_bytes} bytes) "
            f"but {state}it holds only {body_bytes} bytes of data"
        )
    if body_bytes > expected_bytes:
        raise problem(
            f"has {body_bytes - expected_bytes} bytes more than its header's {count} {unit} account for"
        )
    if largest_label >= NUM_CLASSES:
        raise problem(f"holds the label {largest_label}; MNIST labels are 0 to {NUM_CLASSES - 1}")
    return count


def _check_counts(split: str, images_count: int, labels_count: int, files: dict[str, Path], root: Path,
                  allow_small: bool) -> None:
    images_name, labels_name = MNIST_FILES[split]
    if images_count != labels_count:
        raise DataError(
            f"The MNIST files do not match: {files[images_name]} holds {images_count} images but "
            f"{files[labels_name]} holds {labels_count} labels. {_remedy(root)}"
        )
    standard = STANDARD_COUNTS[split]
    if images_count != standard and not (allow_small and images_count < standard):
        raise DataError(
            f"The MNIST image file {files[images_name]} holds {images_count} images; MNIST's "
            f"{'training' if split == 'train' else 'test'} set has {standard}. {_remedy(root)} "
            f"(To use a smaller MNIST-format set on purpose, set {ALLOW_SMALL_ENV}=1.)"
        )


def _missing_error(root: Path, found: dict[str, Path]) -> DataError:
    missing = [name for name in all_file_names() if name not in found]
    if not root.exists():
        start = f"The MNIST folder {root} does not exist."
    elif found:
        start = (
            f"The MNIST folder {root} is incomplete: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing (looked for NAME.gz in the folder and in MNIST/raw)."
        )
    else:
        start = f"There are no MNIST files in {root} (neither NAME.gz in the folder nor torchvision's MNIST/raw)."
    return DataError(
        f"{start} Point --data-dir or the environment variable {paths.DATA_DIR_ENV} at a folder holding the four "
        f"MNIST files ({gz_names()}), or let digitpad download them."
    )


def verify_mnist(root: str | os.PathLike[str], allow_small: bool | None = None) -> None:
    """Check the four files under ``root``: present, readable, IDX headers, sizes and counts.

    Raises DataError naming the file and what is wrong with it.
    """
    root = Path(root)
    files = locate_mnist(root)
    if files is None:
        raise _missing_error(root, _found_files(root))
    allow_small = _allow_small(allow_small)
    for split, (images_name, labels_name) in MNIST_FILES.items():
        images_count = _check_idx_file(files[images_name], True, root)
        labels_count = _check_idx_file(files[labels_name], False, root)
        _check_counts(split, images_count, labels_count, files, root, allow_small)


# --- loading ---------------------------------------------------------------------------------


def _cache_key(files: dict[str, Path]) -> str:
    digest = hashlib.sha256(f"digitpad-mnist-cache-{_CACHE_VERSION}".encode())
    for name in all_file_names():
        path = files[name].resolve()
        status = path.stat()
        digest.update(f"|{name}|{path}|{status.st_size}|{status.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def _cache_file(key: str) -> Path:
    return paths.cache_dir() / f"mnist-{key}.pt"


def _valid_split(images, labels) -> bool:
    return (
        isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor)
        and images.dtype == torch.uint8 and labels.dtype == torch.uint8
        and images.dim() == 3 and tuple(images.shape[1:]) == (IMAGE_SIDE, IMAGE_SIDE)
        and labels.dim() == 1 and len(labels) == len(images) > 0
        and int(labels.max()) < NUM_CLASSES
    )


def _read_cache(key: str) -> dict[str, torch.Tensor] | None:
    """The cached uint8 tensors, or None if there is no valid cache (it is then rebuilt)."""
    cache = _cache_file(key)
    if not cache.is_file():
        return None
    try:
        payload = torch.load(cache, weights_only=True, map_location="cpu")
    except Exception:  # any unreadable cache is simply rebuilt
        return None
    if not isinstance(payload, dict) or payload.get("version") != _CACHE_VERSION or payload.get("key") != key:
        return None
    if not all(_valid_split(payload.get(f"{split}_images"), payload.get(f"{split}_labels")) for split in MNIST_FILES):
        return None
    return payload


def _write_cache(key: str, arrays: dict[str, torch.Tensor]) -> None:
    """Best effort: without a writable cache folder every run just reads the files again."""
    cache = _cache_file(key)
    temporary = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary_name = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.", suffix=".tmp")
        temporary = Path(temporary_name)
        with os.fdopen(handle, "wb") as stream:
            torch.save({"version": _CACHE_VERSION, "key": key, **arrays}, stream)
        os.replace(temporary, cache)
        for stale in cache.parent.glob("mnist-*.pt"):  # one cache at a time: each is ~55 MB
            if stale != cache:
                stale.unlink(missing_ok=True)
    except (OSError, RuntimeError):  # torch.save reports a full disk as a RuntimeError
        pass
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def _read_through_torchvision(files: dict[str, Path]) -> dict[str, torch.Tensor]:
    """Read both splits with torchvision.datasets.MNIST, staging files it cannot read in place."""
    from torchvision.datasets import MNIST

    def read(torchvision_root: Path) -> dict[str, torch.Tensor]:
        arrays = {}
        for split in MNIST_FILES:
            dataset = MNIST(str(torchvision_root), train=(split == "train"), download=False)
            arrays[f"{split}_images"] = dataset.data.to(torch.uint8).contiguous()
            arrays[f"{split}_labels"] = dataset.targets.to(torch.uint8).contiguous()
        return arrays

    in_place = {files[name].parent for name in all_file_names()}
    if len(in_place) == 1:
        folder = next(iter(in_place))
        if folder.name == "raw" and folder.parent.name == "MNIST" and not any(
            _is_gzip(files[name]) for name in all_file_names()
        ):
            return read(folder.parent.parent)
    # Compressed or plain-layout files: decompress into a private folder, never into the source.
    with tempfile.TemporaryDirectory(prefix="digitpad-mnist-") as staging:
        raw = Path(staging) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name in all_file_names():
            with _open_idx(files[name]) as source, open(raw / name, "wb") as target:
                shutil.copyfileobj(source, target, _CHUNK)
        return read(Path(staging))


def _has_plain_layout_files(root: Path) -> bool:
    return any((root / f"{name}.gz").is_file() or (root / name).is_file() for name in all_file_names())


def load_mnist(root: str | os.PathLike[str] | None = None, download: bool = True,
               progress: ProgressCallback | None = None, should_stop: StopCheck | None = None,
               allow_small: bool | None = None) -> MnistTensors:
    """MNIST as normalized in-memory tensors.

    ``root`` defaults to ``paths.default_data_dir()``. Missing files are
    downloaded into ``root/MNIST/raw`` when ``download`` is true, unless the
    folder already holds some files in the plain layout (then the missing ones
    are reported, since that folder was meant to be complete).
    """
    root = Path(root).expanduser().absolute() if root is not None else paths.default_data_dir()
    allow_small = _allow_small(allow_small)
    files = locate_mnist(root)
    if files is None:
        if not download or _has_plain_layout_files(root):
            raise _missing_error(root, _found_files(root))
        from digitpad import mnist_download  # torchvision and the network only when needed

        mnist_download.download_mnist(root, progress=progress, should_stop=should_stop)
        files = locate_mnist(root)
        if files is None:
            raise _missing_error(root, _found_files(root))

    key = _cache_key(files)
    arrays = _read_cache(key)
    if arrays is None:
        verify_mnist(root, allow_small=allow_small)
        arrays = _read_through_torchvision(files)
        _write_cache(key, arrays)
    for split, (images_name, _) in MNIST_FILES.items():
        count = len(arrays[f"{split}_images"])
        _check_counts(split, count, len(arrays[f"{split}_labels"]), files, root, allow_small)
    return MnistTensors(
        train_images=normalize_uint8(arrays["train_images"]),
        train_labels=arrays["train_labels"].to(torch.int64),
        test_images=normalize_uint8(arrays["test_images"]),
        test_labels=arrays["test_labels"].to(torch.int64),
        source=root,
    )
