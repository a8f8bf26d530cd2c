"""Issue 6, in the app: bad model files, and saving that fails.

What each test checks, item by item of the issue, is mapped in tests/gui/reliability_checks.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from bad_checkpoints import BAD_CHECKPOINTS, code_ran, good_checkpoint, write_bad
from faults import fill_disk_in, hidden_leftovers, refuse_new_files_in

from .conftest import MODEL_TIMEOUT_MS, close_window, error_boxes, new_window
from .reliability_checks import assert_still_classifies, one_error, small_mlp, train_to_the_end

pytest.importorskip("digitpad.inference")


# ------------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_opening_a_bad_model_file_keeps_the_model_in_use(window, qtbot, monkeypatch, tmp_path, test_model_path,
                                                         case):
    from digitpad import paths

    bad = tmp_path / "downloaded-model.pt"
    expected = write_bad(case, bad, tmp_path / "scratch")
    in_use, label = window.model(), window.model_label.text()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *args, **kwargs: (str(bad), "")))

    window.open_action.trigger()

    text = one_error(window)
    assert str(bad) in text and expected in text
    assert not code_ran(tmp_path / "scratch")
    assert window.model() is in_use and window.model_label.text() == label
    assert paths.current_model_path() == test_model_path  # the next start still uses it too
    assert_still_classifies(window, qtbot)


@pytest.mark.parametrize("case", ["code-running pickle", "newer format version", "truncated"])
def test_a_bad_current_model_at_start_up_falls_back_to_the_shipped_one(qtbot, monkeypatch, tmp_path,
                                                                       test_model_path, case):
    from digitpad import paths

    monkeypatch.setattr(paths, "shipped_model_path", lambda: test_model_path)
    bad = tmp_path / "mine.pt"
    write_bad(case, bad, tmp_path / "scratch")
    paths.set_current_model(bad)

    window = new_window(qtbot)
    try:
        assert window.model().path == test_model_path
        message = window.statusBar().currentMessage()
        assert str(bad) in message and "shipped" in message
        assert not code_ran(tmp_path / "scratch")
        assert_still_classifies(window, qtbot)
    finally:
        close_window(window)


@pytest.mark.parametrize("case", ["truncated", "deleted"])
def test_a_bad_current_model_and_no_shipped_model_are_both_named_at_start_up(qtbot, monkeypatch, tmp_path, case):
    from digitpad import paths
    from digitpad.gui.main_window import MainWindow

    shipped = tmp_path / "resources" / "model.pt"
    monkeypatch.setattr(paths, "shipped_model_path", lambda: shipped)
    mine = tmp_path / "mine.pt"
    why = write_bad(case, mine, tmp_path / "scratch") if case == "truncated" else "no longer exists"
    paths.set_current_model(mine)

    window = MainWindow()
    try:
        with qtbot.waitSignal(window.model_failed, timeout=MODEL_TIMEOUT_MS) as failed:
            window.show()
        message = failed.args[0]
        assert window.statusBar().currentMessage() == message and "Traceback" not in message
        # Longer than the status bar can show: hovering it shows the whole message.
        assert window.statusBar().toolTip() == message
        assert str(mine) in message and why in message
        assert "No shipped model is available either" in message and str(shipped) in message
        assert "Using the shipped model" not in message
        assert window.model() is None
    finally:
        close_window(window)


# ------------------------------------------------------------------------------------ saving


def save_to(window, monkeypatch, target: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *args, **kwargs: (str(target), "")))
    window.save_action.trigger()


def test_a_full_disk_while_saving_keeps_the_previous_file(window, qtbot, monkeypatch, tmp_path):
    from digitpad import checkpoint

    target = tmp_path / "kept" / "model.pt"
    good_checkpoint(target, name="previous")
    before = target.read_bytes()

    with pytest.MonkeyPatch.context() as patch:
        fill_disk_in(patch, target.parent, limit=len(before) // 3)
        save_to(window, monkeypatch, target)

    text = one_error(window)
    assert str(target) in text and "No space left on device" in text and "unchanged" in text
    assert target.read_bytes() == before and checkpoint.load(target).name == "previous"
    assert hidden_leftovers(target.parent) == []
    assert "Saved" not in window.statusBar().currentMessage()
    # Once there is room again, the same Save works.
    save_to(window, monkeypatch, target)
    assert not error_boxes(window) and checkpoint.load(target).name == window.model().name
    assert_still_classifies(window, qtbot)


def test_saving_to_a_read_only_folder_is_a_clear_error(window, qtbot, monkeypatch, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        refuse_new_files_in(patch, folder)
        save_to(window, monkeypatch, folder / "model.pt")

    text = one_error(window)
    assert str(folder / "model.pt") in text and "Read-only file system" in text
    assert list(folder.iterdir()) == []
    assert_still_classifies(window, qtbot)


def test_a_trained_model_that_cannot_be_saved_stays_in_use(window, qtbot, use_tiny_mnist, test_model_path,
                                                           tmp_path):
    from digitpad import checkpoint, paths

    small_mlp(window, epochs=1, hidden="16")
    paths.models_dir().mkdir(parents=True)
    before = window.model()
    with pytest.MonkeyPatch.context() as patch:
        fill_disk_in(patch, paths.models_dir(), limit=2_000)
        train_to_the_end(window, qtbot)

    text = one_error(window)
    assert "No space left on device" in text and "still usable" in text
    trained = window.model()
    assert trained is not before and "16" in trained.model_config.describe()  # nothing learned is lost
    assert list(paths.models_dir().iterdir()) == []
    assert paths.current_model_path() == test_model_path  # the record never names a file that is not there
    assert_still_classifies(window, qtbot)
    # With room again, File > Save keeps it.
    target = tmp_path / "rescued.pt"
    assert window.save_model(target)
    assert checkpoint.load(target).model_config == trained.model_config


def test_a_trained_model_whose_folder_cannot_be_made_stays_in_use(window, qtbot, use_tiny_mnist, test_model_path):
    from digitpad import paths

    small_mlp(window, epochs=1, hidden="16")
    paths.models_dir().parent.mkdir(parents=True, exist_ok=True)
    paths.models_dir().write_text("a file where the models folder should be")
    before = window.model()

    train_to_the_end(window, qtbot)

    text = one_error(window)
    assert "save" in text.lower() and str(paths.models_dir()) in text
    assert window.model() is not before and "16" in window.model().model_config.describe()
    assert paths.current_model_path() == test_model_path
    assert_still_classifies(window, qtbot)


def test_a_model_opened_while_the_data_folder_is_read_only_is_used(window, qtbot, monkeypatch, tmp_path):
    """Opening works even when digitpad cannot write down which model is current."""
    from digitpad import paths

    other = good_checkpoint(tmp_path / "other.pt", name="other-model")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *args, **kwargs: (str(other), "")))
    with pytest.MonkeyPatch.context() as patch:
        refuse_new_files_in(patch, paths.user_data_dir())
        with qtbot.waitSignal(window.model_changed):
            window.open_action.trigger()

    assert window.model().path == other
    assert "Read-only file system" in window.statusBar().currentMessage()
    assert not error_boxes(window)
    assert_still_classifies(window, qtbot)
