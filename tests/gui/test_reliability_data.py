"""Issue 6, in the app: broken or missing MNIST, downloads that fail, and broken settings.

What each test checks, item by item of the issue, is mapped in tests/gui/reliability_checks.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

from fake_mirror import use_unreachable_mirrors
from faults import hidden_leftovers, set_idx_magic, truncate_file
from digitpad.gui import saved_settings

from .conftest import TRAIN_TIMEOUT_MS, close_window, error_boxes, mnist_question, new_window
from .reliability_checks import (assert_still_classifies, choose_download, one_error, progress_text, small_mlp,
                                 stop_button, train_button, train_to_the_end)

pytest.importorskip("digitpad.inference")


# ------------------------------------------------------------------------------------ data


BROKEN_DATA = {
    "truncated .gz": ("train-images-idx3-ubyte.gz", truncate_file, "truncated"),
    "wrong IDX magic": ("t10k-labels-idx1-ubyte.gz", lambda path: set_idx_magic(path, 1234), "magic number 1234"),
    "only some files": ("train-labels-idx1-ubyte.gz", Path.unlink, "train-labels-idx1-ubyte is missing"),
}


@pytest.mark.parametrize("case", list(BROKEN_DATA))
def test_broken_data_shows_a_dialog_and_the_app_keeps_working(window, qtbot, monkeypatch, tmp_path, tiny_mnist,
                                                              case):
    name, damage, expected = BROKEN_DATA[case]
    folder = tmp_path / "mnist"
    shutil.copytree(tiny_mnist, folder)
    damage(folder / name)
    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(folder))
    before = window.model()

    train_to_the_end(window, qtbot)

    text = one_error(window)
    assert expected in text and name.removesuffix(".gz") in text
    assert train_button(window).isEnabled() and not stop_button(window).isEnabled()
    assert window.model() is before
    assert_still_classifies(window, qtbot)


def test_download_without_network_says_so(window, qtbot, monkeypatch, tmp_path):
    use_unreachable_mirrors(monkeypatch)

    choose_download(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass

    text = one_error(window)
    assert "connect to the internet" in text and "DIGITPAD_DATA_DIR" in text
    assert train_button(window).isEnabled()
    assert_still_classifies(window, qtbot)


def test_an_interrupted_download_then_a_retry_trains(window, qtbot, mirror):
    from digitpad import data, paths

    small_mlp(window, epochs=1, hidden="16")
    mirror.cut.add("train-images-idx3-ubyte.gz")
    choose_download(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    text = one_error(window)
    half = len(mirror.files["train-images-idx3-ubyte.gz"]) // 2
    assert "was interrupted" in text and "could not be reached" not in text
    assert f"was lost after {half / 1e6:.1f} MB of train-images-idx3-ubyte.gz" in text  # which file, how far
    assert "trying again downloads train-images-idx3-ubyte.gz again from the start" in text
    root = paths.default_data_dir()
    raw = root / "MNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte.gz").exists() and not (raw / "train-images-idx3-ubyte").exists()
    assert hidden_leftovers(root) == [] and data.locate_mnist(root) is None

    mirror.cut.clear()
    choose_download(window, qtbot)
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
    assert not error_boxes(window)
    assert progress_text(window).startswith("Done"), progress_text(window)
    data.verify_mnist(root, allow_small=True)
    assert mirror.requests.count("t10k-images-idx3-ubyte.gz") == 1  # finished files are not fetched again
    assert_still_classifies(window, qtbot)


# ------------------------------------------------------------------------------------ settings


BROKEN_RECORDS = {
    "model deleted": lambda home, tmp: json.dumps({"path": str(tmp / "deleted.pt")}),
    "model path is a folder": lambda home, tmp: json.dumps({"path": str(tmp)}),
    "not JSON": lambda home, tmp: "{'path': oops",
    "path of the wrong type": lambda home, tmp: json.dumps({"path": ["a", "b"]}),
    "empty file": lambda home, tmp: "",
}


@pytest.mark.parametrize("case", list(BROKEN_RECORDS))
def test_a_broken_model_record_falls_back_to_the_shipped_model(qtbot, monkeypatch, tmp_path, test_model_path, case):
    from digitpad import paths

    monkeypatch.setattr(paths, "shipped_model_path", lambda: test_model_path)
    home = paths.user_data_dir()
    home.mkdir(parents=True, exist_ok=True)
    (home / "current-model.json").write_text(BROKEN_RECORDS[case](home, tmp_path))

    window = new_window(qtbot)
    try:
        assert window.model().path == test_model_path
        message = window.statusBar().currentMessage()
        assert "shipped model" in message and "Traceback" not in message
        assert "Model in use: the shipped model" in window.model_label.text()
        assert_still_classifies(window, qtbot)
    finally:
        close_window(window)


def test_broken_settings_values_leave_the_app_working(qtbot, monkeypatch, tmp_path, test_model_path):
    from digitpad import paths

    paths.set_current_model(test_model_path)
    store = saved_settings.app_settings()
    store.setValue(saved_settings.DATA_DIR, str(tmp_path / "unplugged-drive" / "mnist"))
    store.setValue(saved_settings.LAST_MODEL_FOLDER, str(tmp_path / "gone"))
    store.setValue(saved_settings.GEOMETRY, "garbage")
    store.setValue(saved_settings.PEN_WIDTH, "nan")
    store.setValue(saved_settings.TRAINING_GROUP + "/batch_size", ["a", "list"])
    store.setValue(saved_settings.TRAINING_GROUP + "/continue", "perhaps")
    store.setValue(saved_settings.TRAINING_GROUP + "/hidden", 512)
    store.sync()

    window = new_window(qtbot)
    try:
        assert window.canvas.pen_width() > 0
        starts = []
        monkeypatch.setattr(QFileDialog, "getOpenFileName",
                            staticmethod(lambda parent, title, start, *rest: starts.append(start) or ("", "")))
        window.open_action.trigger()
        assert starts == [str(paths.models_dir())]
        assert_still_classifies(window, qtbot)
        # Train asks where MNIST is (the remembered folder has gone), and Cancel leaves all as it was.
        train_button(window).click()
        mnist_question(window, qtbot).button(QMessageBox.StandardButton.Cancel).click()
        qtbot.waitUntil(lambda: train_button(window).isEnabled(), timeout=5_000)
        assert not window.is_training()
    finally:
        close_window(window)


def _remember_data_dir(folder: Path) -> None:
    store = saved_settings.app_settings()
    store.setValue(saved_settings.DATA_DIR, str(folder))
    store.sync()


def test_a_vanished_mnist_folder_is_not_offered_for_the_download(qtbot, monkeypatch, tmp_path, test_model_path):
    """The remembered MNIST folder has gone (deleted, or its drive unplugged): Train says so and offers
    the default folder instead; the download never goes to, or recreates, the vanished path."""
    from digitpad import data, mnist_download, paths

    paths.set_current_model(test_model_path)
    gone = tmp_path / "unplugged-drive" / "mnist"
    _remember_data_dir(gone)
    download_targets = []

    def record_download(root, progress=None, should_stop=None):
        download_targets.append(Path(root))
        raise data.DataError("No network in this test.")

    monkeypatch.setattr(mnist_download, "download_mnist", record_download)
    window = new_window(qtbot)
    try:
        train_button(window).click()
        dialog = mnist_question(window, qtbot)
        default = paths.default_data_dir()
        offered = dialog.informativeText()
        assert f"{gone}, is not there any more" in offered and f"into\n{default}\n" in offered
        assert f"{gone}, is not there any more" in window.statusBar().currentMessage()

        with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
            dialog.findChild(QPushButton, "download_button").click()
        assert "No network in this test." in one_error(window)
        assert download_targets == [default]
        assert not gone.parent.exists()
        assert saved_settings.read_str(saved_settings.app_settings(), saved_settings.DATA_DIR) == str(default)
        assert_still_classifies(window, qtbot)
    finally:
        close_window(window)


def test_a_vanished_mnist_folder_gives_way_to_mnist_in_the_default_folder(qtbot, tmp_path, test_model_path,
                                                                          tiny_mnist):
    from digitpad import paths

    paths.set_current_model(test_model_path)
    gone = tmp_path / "unplugged-drive" / "mnist"
    _remember_data_dir(gone)
    shutil.copytree(tiny_mnist, paths.default_data_dir())
    window = new_window(qtbot)
    try:
        small_mlp(window, epochs=1, hidden="16")
        started_with = []
        window.training_started.connect(lambda: started_with.append(window.statusBar().currentMessage()))
        with qtbot.waitSignal(window.training_started, timeout=5_000):
            train_button(window).click()
        assert not window.findChildren(QMessageBox, "data_dialog")
        assert f"{gone}, is not there any more" in started_with[0]
        assert f"Using MNIST from {paths.default_data_dir()}" in started_with[0]
        with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
            stop_button(window).click()
        assert not error_boxes(window) and not gone.parent.exists()
    finally:
        close_window(window)
