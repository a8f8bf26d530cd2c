from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from faults import hidden_leftovers
from mnist_fakes import fake_digits, make_fake_mnist, write_idx
from digitpad import data, mnist_download, paths
from digitpad.config import MNIST_MEAN, MNIST_STD

ALL_NAMES = data.all_file_names()


# --- normalization -------------------------------------------------------------------------------


def study_note_transform():
    """The per-image transform of pytorch/examples mnist, with MNIST's own statistics."""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])


def test_normalize_uint8_equals_the_study_note_transform():
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8))
    images[0] = 0
    images[1] = 255
    transform = study_note_transform()
    expected = torch.stack([transform(Image.fromarray(image.numpy(), mode="L")) for image in images])

    normalized = data.normalize_uint8(images)

    assert normalized.shape == (64, 1, 28, 28) and normalized.dtype == torch.float32
    assert torch.allclose(normalized, expected, atol=1e-6, rtol=0)


def test_loaded_tensors_equal_torchvision_dataset_items(tmp_path, allow_small_mnist):
    from torchvision.datasets import MNIST

    make_fake_mnist(tmp_path, train=100, test=50, layout="torchvision", compress=False)
    loaded = data.load_mnist(tmp_path, download=False)
    for split, images, labels in (("train", loaded.train_images, loaded.train_labels),
                                  ("test", loaded.test_images, loaded.test_labels)):
        dataset = MNIST(str(tmp_path), train=split == "train", transform=study_note_transform())
        expected = torch.stack([dataset[i][0] for i in range(len(dataset))])
        assert torch.allclose(images, expected, atol=1e-6, rtol=0)
        assert labels.tolist() == [dataset[i][1] for i in range(len(dataset))]


def test_real_mnist_equals_torchvision_with_the_transform(shared_mnist, shared_mnist_tensors, tmp_path):
    from torchvision.datasets import MNIST

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ALL_NAMES:  # torchvision wants all four present, even for the test split
        (raw / name).write_bytes(gzip.decompress((shared_mnist / f"{name}.gz").read_bytes()))
    dataset = MNIST(str(tmp_path), train=False, transform=study_note_transform())
    sample = range(0, 10_000, 7)
    expected = torch.stack([dataset[i][0] for i in sample])

    assert torch.allclose(shared_mnist_tensors.test_images[list(sample)], expected, atol=1e-6, rtol=0)
    assert shared_mnist_tensors.train_images.shape == (60_000, 1, 28, 28)
    assert shared_mnist_tensors.test_labels.dtype == torch.int64
    assert shared_mnist_tensors.train_labels.bincount().tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


# --- locating and loading --------------------------------------------------------------------------


@pytest.mark.parametrize("layout, compress", [("plain", True), ("torchvision", True), ("torchvision", False)])
def test_load_accepts_both_layouts(tmp_path, allow_small_mnist, layout, compress):
    written = make_fake_mnist(tmp_path, layout=layout, compress=compress)
    assert data.locate_mnist(tmp_path) is not None

    loaded = data.load_mnist(tmp_path, download=False)

    assert loaded.train_images.shape == (600, 1, 28, 28)
    assert loaded.test_images.shape == (100, 1, 28, 28)
    assert loaded.train_labels.dtype == torch.int64
    assert loaded.train_labels.tolist() == written["train_labels"].tolist()
    assert torch.equal(loaded.test_images, data.normalize_uint8(torch.from_numpy(written["test_images"])))
    assert loaded.source == tmp_path


def test_a_plain_folder_is_only_read(fake_mnist):
    root = fake_mnist["root"]
    before = {path: path.stat().st_mtime_ns for path in root.rglob("*")}
    data.load_mnist(root, download=False)
    assert {path: path.stat().st_mtime_ns for path in root.rglob("*")} == before


def test_data_dir_comes_from_the_environment(fake_mnist, monkeypatch):
    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(fake_mnist["root"]))
    assert data.load_mnist(download=False).source == fake_mnist["root"]


def test_locate_needs_all_four_files(tmp_path):
    make_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert data.locate_mnist(tmp_path) is None


def test_repeat_loads_come_from_the_cache(fake_mnist, monkeypatch, digitpad_home):
    first = data.load_mnist(fake_mnist["root"], download=False)
    assert list(paths.cache_dir().glob("mnist-*.pt"))

    def no_torchvision(files):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(data, "_read_through_torchvision", no_torchvision)
    second = data.load_mnist(fake_mnist["root"], download=False)
    assert torch.equal(first.train_images, second.train_images)
    assert torch.equal(first.test_labels, second.test_labels)


def test_a_broken_cache_is_rebuilt(fake_mnist):
    first = data.load_mnist(fake_mnist["root"], download=False)
    (cache,) = paths.cache_dir().glob("mnist-*.pt")
    cache.write_bytes(b"not a tensor file")

    again = data.load_mnist(fake_mnist["root"], download=False)

    assert torch.equal(first.train_images, again.train_images)
    assert data._read_cache(cache.stem.removeprefix("mnist-")) is not None


def test_a_changed_file_is_not_served_from_the_cache(fake_mnist):
    root = fake_mnist["root"]
    data.load_mnist(root, download=False)
    images, labels = fake_digits(100, seed=99)
    write_idx(root / "t10k-images-idx3-ubyte", images)
    write_idx(root / "t10k-labels-idx1-ubyte", labels)

    reloaded = data.load_mnist(root, download=False)

    assert reloaded.test_labels.tolist() == labels.tolist()
    assert len(list(paths.cache_dir().glob("mnist-*.pt"))) == 1


def test_a_cache_of_a_small_set_still_needs_permission(fake_mnist, monkeypatch):
    data.load_mnist(fake_mnist["root"], download=False)
    monkeypatch.delenv("DIGITPAD_ALLOW_SMALL_MNIST")
    with pytest.raises(data.DataError, match="DIGITPAD_ALLOW_SMALL_MNIST"):
        data.load_mnist(fake_mnist["root"], download=False)


def test_missing_data_without_download_names_the_folder(tmp_path):
    with pytest.raises(data.DataError) as caught:
        data.load_mnist(tmp_path / "nowhere", download=False)
    message = str(caught.value)
    assert str(tmp_path / "nowhere") in message and "--data-dir" in message and "DIGITPAD_DATA_DIR" in message


def test_an_incomplete_plain_folder_is_reported_not_downloaded_into(fake_mnist, monkeypatch):
    root = fake_mnist["root"]
    (root / "train-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setattr(mnist_download, "download_mnist", lambda *a, **k: pytest.fail("must not download"))
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte is missing"):
        data.load_mnist(root)


# --- verification ----------------------------------------------------------------------------------


def _rewrite(path: Path, change) -> None:
    payload = bytearray(gzip.decompress(path.read_bytes()))
    path.write_bytes(gzip.compress(bytes(change(payload))))


def _set_word(offset: int, value: int):
    def change(payload: bytearray) -> bytearray:
        payload[offset : offset + 4] = struct.pack(">I", value)
        return payload
    return change


BROKEN_FILES = {
    "truncated gzip": ("train-images-idx3-ubyte.gz", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
                       "truncated"),
    "corrupt gzip": ("t10k-images-idx3-ubyte.gz",
                     lambda p: p.write_bytes(p.read_bytes()[:40] + bytes(200) + p.read_bytes()[240:]), "corrupt"),
    "empty": ("train-labels-idx1-ubyte.gz", lambda p: p.write_bytes(b""), "is empty"),
    "wrong magic": ("train-images-idx3-ubyte.gz", lambda p: _rewrite(p, _set_word(0, 1234)),
                    "magic number 1234"),
    "labels where images belong": ("t10k-images-idx3-ubyte.gz", lambda p: _rewrite(p, _set_word(0, 2049)),
                                   "that is a label file"),
    "wrong image size": ("t10k-images-idx3-ubyte.gz", lambda p: _rewrite(p, _set_word(8, 32)), "32x28"),
    "data shorter than header": ("train-images-idx3-ubyte.gz", lambda p: _rewrite(p, lambda b: b[:-784]),
                                 "truncated: its header promises 600 images"),
    "extra bytes": ("t10k-labels-idx1-ubyte.gz", lambda p: _rewrite(p, lambda b: b + b"\x00"), "1 bytes more"),
    "count mismatch": ("t10k-labels-idx1-ubyte.gz", lambda p: _rewrite(p, lambda b: _set_word(4, 99)(b[:-1])),
                       "holds 100 images but"),
    "label out of range": ("train-labels-idx1-ubyte.gz", lambda p: _rewrite(p, lambda b: b[:-1] + b"\x0c"),
                           "label 12"),
}


@pytest.mark.parametrize("case", BROKEN_FILES, ids=list(BROKEN_FILES))
def test_verify_names_the_broken_file_and_the_problem(fake_mnist, case):
    name, breaker, expected = BROKEN_FILES[case]
    broken = fake_mnist["root"] / name
    breaker(broken)

    with pytest.raises(data.DataError) as caught:
        data.verify_mnist(fake_mnist["root"])

    message = str(caught.value)
    assert expected in message
    assert str(broken) in message
    assert "--data-dir" in message


def test_load_refuses_broken_files_too(fake_mnist):
    (fake_mnist["root"] / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b rubbish")
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte.gz"):
        data.load_mnist(fake_mnist["root"], download=False)


def test_verify_wants_mnist_counts_unless_small_sets_are_allowed(tmp_path):
    make_fake_mnist(tmp_path)
    with pytest.raises(data.DataError, match="holds 600 images; MNIST's training set has 60000"):
        data.verify_mnist(tmp_path)
    data.verify_mnist(tmp_path, allow_small=True)


def test_verify_lists_the_missing_files(tmp_path):
    make_fake_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte are missing"):
        data.verify_mnist(tmp_path)


def test_real_mnist_verifies(shared_mnist):
    data.verify_mnist(shared_mnist)


# --- validation split --------------------------------------------------------------------------------


def test_validation_split_is_seeded_disjoint_and_complete():
    train, validation = data.validation_split(1000, 100, seed=3)
    again_train, again_validation = data.validation_split(1000, 100, seed=3)
    _, other_validation = data.validation_split(1000, 100, seed=4)

    assert len(validation) == 100 and len(train) == 900
    assert torch.equal(validation, again_validation) and torch.equal(train, again_train)
    assert not torch.equal(validation, other_validation)
    assert sorted(torch.cat([train, validation]).tolist()) == list(range(1000))


def test_validation_split_leaves_most_of_a_small_set_for_training():
    train, validation = data.validation_split(600, 5000, seed=0)
    assert (len(train), len(validation)) == (480, 120)


# --- download ----------------------------------------------------------------------------------------


def test_download_fills_torchvision_layout_and_reports_progress(tmp_path, mirror):
    reports = []
    mnist_download.download_mnist(tmp_path, progress=lambda done, total: reports.append((done, total)))

    raw = tmp_path / "MNIST" / "raw"
    assert sorted(path.name for path in raw.iterdir()) == sorted(ALL_NAMES + [f"{name}.gz" for name in ALL_NAMES])
    data.verify_mnist(tmp_path)
    assert reports and reports[-1][0] == reports[-1][1] > 0
    assert all(b[0] >= a[0] for a, b in zip(reports, reports[1:]))


def test_load_downloads_when_the_folder_is_empty(tmp_path, mirror):
    loaded = data.load_mnist(tmp_path / "new")
    assert len(loaded.train_images) == 600
    assert (tmp_path / "new" / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()


def test_a_file_failing_its_checksum_is_never_kept(tmp_path, mirror, monkeypatch):
    mirror.files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(b"something else")
    with pytest.raises(data.DataError, match="checksum"):
        mnist_download.download_mnist(tmp_path)
    assert not (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").exists()
    assert hidden_leftovers(tmp_path) == []


def test_download_can_be_cancelled(tmp_path, mirror):
    with pytest.raises(data.DownloadCancelled):
        mnist_download.download_mnist(tmp_path, should_stop=lambda: True)
    assert data.locate_mnist(tmp_path) is None
    assert hidden_leftovers(tmp_path) == []


def test_download_into_an_unusable_folder_says_so(tmp_path, mirror):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(data.DataError, match="cannot download it there"):
        data.load_mnist(blocker / "mnist")


def test_torchvision_mirrors_are_used_by_default():
    mirrors, sources = mnist_download._download_sources()
    assert mirrors and all(url.startswith("http") for url in mirrors)
    assert sorted(name for name, _ in sources) == sorted(f"{name}.gz" for name in ALL_NAMES)

