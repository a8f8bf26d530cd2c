"""Small MNIST-format data sets written as real (gzip) IDX files, for tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

MNIST_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def fake_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Easily learnable 28x28 uint8 images: each class is a bright block in its own place, jittered."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.uint8) % 10
    rng.shuffle(labels)
    images = (rng.random((count, 28, 28)) * 40).astype(np.uint8)
    for index, label in enumerate(labels):
        top = 3 + (label // 5) * 12 + rng.integers(-1, 2)
        left = 2 + (label % 5) * 5 + rng.integers(-1, 2)
        images[index, top : top + 9, left : left + 4] = 255
    return images, labels


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write a uint8 array as an IDX file (images: 3 dims, magic 2051; labels: 1 dim, magic 2049)."""
    magic = 2051 if array.ndim == 3 else 2049
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", size) for size in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload, compresslevel=1))
    else:
        path.write_bytes(payload)
    return path


def make_fake_mnist(folder: Path, train: int = 600, test: int = 100, layout: str = "plain",
                    compress: bool = True, seed: int = 0) -> dict:
    """Write a small MNIST-format data set into ``folder``.

    layout "plain": the four .gz files directly in the folder (like ../shared/mnist);
    layout "torchvision": under folder/MNIST/raw. Returns the arrays written.
    """
    target = folder if layout == "plain" else folder / "MNIST" / "raw"
    written = {"root": folder}
    for split, count, split_seed in (("train", train, seed), ("test", test, seed + 1)):
        images, labels = fake_digits(count, split_seed)
        images_name, labels_name = MNIST_NAMES[split]
        write_idx(target / images_name, images, compress)
        write_idx(target / labels_name, labels, compress)
        written[f"{split}_images"] = images
        written[f"{split}_labels"] = labels
    return written
