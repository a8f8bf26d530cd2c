"""Shared fixtures.

Every test runs with its own empty digitpad home (DIGITPAD_HOME), so no test
reads or writes the real user's models, pointer or MNIST cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bad_checkpoints import good_checkpoint
from mnist_fakes import MNIST_NAMES, make_fake_mnist

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO_ROOT.parent / "shared" / "mnist"


@pytest.fixture(autouse=True)
def _isolated_digitpad_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("digitpad-home")
    monkeypatch.setenv("DIGITPAD_HOME", str(home))
    monkeypatch.delenv("DIGITPAD_DATA_DIR", raising=False)
    monkeypatch.delenv("DIGITPAD_ALLOW_SMALL_MNIST", raising=False)
    return home


@pytest.fixture
def digitpad_home(_isolated_digitpad_home) -> Path:
    """This test's DIGITPAD_HOME (empty at the start; DIGITPAD_DATA_DIR is unset)."""
    return _isolated_digitpad_home


@pytest.fixture
def small_checkpoint(tmp_path) -> Path:
    """An untrained small MLP saved as a checkpoint: enough to test formats, not accuracy."""
    return good_checkpoint(tmp_path / "small.pt", name="small")


# --- fake MNIST ---------------------------------------------------------------------------------


@pytest.fixture
def allow_small_mnist(monkeypatch) -> None:
    monkeypatch.setenv("DIGITPAD_ALLOW_SMALL_MNIST", "1")


@pytest.fixture
def fake_mnist(tmp_path, allow_small_mnist) -> dict:
    """A plain-layout folder of small fake MNIST (600 train, 100 test); small sets allowed.

    The dict holds "root" (the folder) and the uint8 arrays written.
    """
    return make_fake_mnist(tmp_path / "fake-mnist")


# --- real MNIST -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_mnist() -> Path:
    """../shared/mnist beside the repository; the test is skipped where it is absent."""
    if not all((SHARED_MNIST / f"{name}.gz").is_file() for pair in MNIST_NAMES.values() for name in pair):
        pytest.skip(f"real MNIST not found in {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture(scope="session")
def shared_mnist_tensors(shared_mnist, tmp_path_factory):
    """Real MNIST loaded once per session through digitpad.data (its cache in a private home)."""
    from digitpad.data import load_mnist

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGITPAD_HOME", str(tmp_path_factory.mktemp("shared-mnist-home")))
        return load_mnist(shared_mnist, download=False)


@pytest.fixture
def mirror(tmp_path, monkeypatch, allow_small_mnist):
    """A local fake MNIST mirror (fake_mirror.FakeMirror), the only one ``mnist_download`` uses.

    The checksums it advertises are taken now: a test that then changes a served
    file makes the mirror send a file that does not match.
    """
    from digitpad import mnist_download
    from fake_mirror import FakeMirror, mnist_gz_files

    server = FakeMirror(mnist_gz_files(tmp_path / "mirror-source"))
    sources = server.sources()
    monkeypatch.setattr(mnist_download, "_download_sources", lambda: ([server.url], sources))
    yield server
    server.close()
