from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from digitpad import paths


def test_digitpad_home_overrides_the_user_folder(digitpad_home):
    assert paths.user_data_dir() == digitpad_home
    assert paths.models_dir() == digitpad_home / "models"
    assert paths.cache_dir() == digitpad_home / "cache"
    assert paths.default_data_dir() == digitpad_home / "mnist"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG rules are Linux's")
def test_linux_uses_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv("DIGITPAD_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.user_data_dir() == tmp_path / "xdg" / "digitpad"

    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.user_data_dir() == tmp_path / "home" / ".local" / "share" / "digitpad"


def test_windows_uses_local_app_data_without_an_author_folder(monkeypatch):
    """platformdirs would nest the folder under an author of the same name (digitpad\\digitpad)."""
    import platformdirs
    from platformdirs.windows import Windows

    monkeypatch.delenv("DIGITPAD_HOME")
    monkeypatch.setattr(platformdirs, "PlatformDirs", Windows)
    # platformdirs' documented override of the Local AppData folder, so this runs on any system.
    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", r"C:\Users\ann\AppData\Local")

    folder = paths.user_data_dir()

    assert folder.name == "digitpad" and folder.parent == Path(r"C:\Users\ann\AppData\Local")
    assert paths.models_dir() == folder / "models"


def test_macos_uses_application_support(monkeypatch, tmp_path):
    import platformdirs
    from platformdirs.macos import MacOS

    monkeypatch.delenv("DIGITPAD_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(platformdirs, "PlatformDirs", MacOS)

    assert paths.user_data_dir() == tmp_path / "home" / "Library" / "Application Support" / "digitpad"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # as the README says
    assert paths.user_data_dir() == tmp_path / "xdg" / "digitpad"


def test_nothing_lives_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGITPAD_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    for folder in (paths.user_data_dir(), paths.default_data_dir(), paths.models_dir()):
        assert folder.is_absolute()
        assert folder.is_relative_to(tmp_path / "home")


def test_data_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tmp_path / "somewhere"))
    assert paths.default_data_dir() == tmp_path / "somewhere"


def test_shipped_resources_are_found():
    folder = paths.resources_dir()
    assert (folder / "__init__.py").is_file()
    assert paths.shipped_model_path() == folder / "model.pt"
    assert paths.resource_path("icon.png") == folder / "icon.png"


def test_current_model_is_the_shipped_one_until_set(digitpad_home, tmp_path):
    assert paths.current_model_path() == paths.shipped_model_path()
    assert paths.current_model_problem() is None

    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"weights")
    paths.set_current_model(mine)

    assert paths.current_model_path() == mine
    assert paths.current_model_problem() is None
    assert json.loads((digitpad_home / "current-model.json").read_text()) == {"path": str(mine)}
    assert [p.name for p in digitpad_home.iterdir()] == ["current-model.json"]  # no temporary left


def test_a_vanished_current_model_falls_back_with_a_message(tmp_path):
    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"weights")
    paths.set_current_model(mine)
    mine.unlink()

    assert paths.current_model_path() == paths.shipped_model_path()
    assert str(mine) in paths.current_model_problem()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"path": 3}', '{"path": ""}'])
def test_a_broken_pointer_falls_back_with_a_message(digitpad_home, content):
    (digitpad_home / "current-model.json").write_text(content)
    assert paths.current_model_path() == paths.shipped_model_path()
    assert "unreadable" in paths.current_model_problem()


def test_new_model_paths_are_unique_and_in_the_models_folder():
    first = paths.new_model_path()
    first.write_bytes(b"taken")
    second = paths.new_model_path()

    assert first.parent == second.parent == paths.models_dir()
    assert first != second and not second.exists()
    assert first.name.startswith("trained-") and first.suffix == ".pt"
    assert paths.new_model_path(prefix="cnn").name.startswith("cnn-")


def test_a_link_that_cannot_be_followed_says_why(tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "file").write_text("here")
    assert "it is a symbolic link that cannot be resolved" in paths.broken_link(tmp_path / "loop")
    assert "a folder on its way is a symbolic link" in paths.broken_link(tmp_path / "loop" / "inside")
    assert paths.broken_link(tmp_path / "dangling") == "it is a symbolic link to nowhere, which does not exist"
    assert paths.broken_link(tmp_path / "missing") is None
    assert paths.broken_link(tmp_path / "file") is None
