"""Issue 6, in the app: faults and bad input, after which digitpad keeps working and loses nothing.

Every case shows a clear message (a dialog, the status bar or the prediction panel), never a
traceback (pytest-qt fails a test when a slot raises), and the app stays usable afterwards.

Coverage map: each item of issue 6 -> the tests that check it as the issue states it.
R = tests/test_reliability.py (core and CLI), G = this file (the app); others named in full.

Checkpoints
- corrupt bytes, truncated, empty, another model's state_dict, PNG renamed .pt, newer format version:
    R test_a_bad_model_file_is_one_clear_error_and_runs_nothing[each],
    R test_predict_with_a_bad_model_file_says_why_and_runs_nothing[each],
    tests/test_checkpoint.py test_bad_files_raise_one_clear_error (21 cases)
- a pickle that would run code is not run; its side effect (a marker file) is asserted absent:
    R ...[code-running pickle] and [code-running raw pickle] of both tests above,
    G test_opening_a_bad_model_file_keeps_the_model_in_use[code-running ...],
    G test_a_bad_current_model_at_start_up_falls_back_to_the_shipped_one[code-running pickle],
    tests/test_checkpoint.py test_a_malicious_pickle_never_runs
- in the app, the current model stays in use after any of these:
    G test_opening_a_bad_model_file_keeps_the_model_in_use[each of the 8 files above]
Saving
- a failure mid-write (OSError ENOSPC injected into the write) leaves the previous checkpoint intact
  and loadable:
    R test_a_write_failing_midway_keeps_the_previous_checkpoint[ENOSPC, EDQUOT, EIO],
    R test_a_full_disk_at_the_first_save_leaves_no_file,
    G test_a_full_disk_while_saving_keeps_the_previous_file,
    G test_a_trained_model_that_cannot_be_saved_stays_in_use,
    tests/test_checkpoint.py test_a_failure_mid_write_keeps_the_previous_file
- a read-only target gives a clear error (simulated at os.open/mkstemp: the tests run as root):
    R test_a_read_only_target_is_a_clear_error[EROFS, EACCES], R test_saving_under_a_file_is_a_clear_error,
    R test_train_into_a_read_only_target_says_so_after_training,
    R test_train_without_a_usable_models_folder_fails_before_training,
    R test_a_trained_model_that_cannot_be_recorded_as_current_is_still_saved,
    G test_saving_to_a_read_only_folder_is_a_clear_error,
    G test_a_trained_model_whose_folder_cannot_be_made_stays_in_use,
    G test_a_model_opened_while_the_data_folder_is_read_only_is_used,
    tests/test_checkpoint.py test_a_folder_refusing_writes_is_a_clear_error
Data
- missing files with no network: R test_missing_files_with_no_network,
    G test_download_without_network_says_so, tests/test_data.py test_no_network_is_one_clear_paragraph
- a truncated .gz, wrong IDX magic, a folder with only some of the files:
    R test_broken_data_is_named_by_load_and_by_train[each],
    G test_broken_data_shows_a_dialog_and_the_app_keeps_working[each],
    tests/test_data.py test_verify_names_the_broken_file_and_the_problem
- an interrupted download: a later retry works, no half-file is ever accepted (local fake mirror):
    R test_an_interrupted_download_keeps_no_half_file_and_a_retry_works[with/without Content-Length],
    R test_leftovers_of_a_killed_download_are_never_accepted,
    R test_a_half_file_under_the_final_name_is_fetched_again,
    R test_a_full_disk_during_the_download_is_a_clear_error_and_keeps_nothing,
    R test_a_stop_during_a_stalled_download_is_prompt_and_keeps_nothing,
    R test_a_download_cut_off_midway_says_it_was_interrupted_not_unreachable[closed early, stalled],
    G test_an_interrupted_download_then_a_retry_trains
Drawing input (real mouse events on the real canvas of the real window)
- empty, single dot, whole-canvas scribble, tiny digit in a corner, non-digit shapes: never a crash;
  empty shows "Draw a digit"; the rest get a prediction whose label, "?" and bars agree:
    G test_drawing_input_never_crashes_and_answers_honestly[each of 14],
    R test_ink_all_over_a_known_polarity_is_a_solid_blot_not_blank
- non-digits should mostly come out "unsure" (the shipped resources/model.pt):
    G test_non_digits_mostly_come_out_unsure_or_not_a_digit_with_the_shipped_model (the shipped model was trained with
    random non-digit drawings, digitpad/non_digits.py; none of these test shapes is among them as such)
`digitpad predict` input
- a 0-byte file, 10000x10000, animated GIF, 16-bit PNG, CMYK JPEG, a directory, a missing path:
    R test_predict_input_alone[each], R test_predict_all_inputs_together_classifies_the_good_ones,
    R test_predict_reads_the_odd_images_as_the_same_seven,
    tests/test_cli.py test_predict_json_reports_bad_files_and_classifies_the_rest
Threads
- Stop then Train 20 times in a row, after which the app still classifies correctly:
    G test_stop_then_train_twenty_times_then_training_and_classifying_still_work (stops while loading,
    mid-epoch and after a validation; then a full run reaches >= 90 % on the tiny test set and the
    panel shows exactly the model's answer), tests/gui/test_training_panel.py
    test_stop_then_train_twenty_times_and_still_classify
- close the window mid-epoch: tests/gui/test_training_panel.py test_closing_mid_training_joins_the_thread_without_testing_the_weights_it_throws_away,
    tests/gui/test_app.py test_closing_mid_training_exits_with_status_zero (a real app.main process);
  during validation: tests/gui/test_training_panel.py test_closing_during_validation_exits_cleanly;
  during a download: G test_closing_during_a_real_download_keeps_no_half_file[slow, stalled],
    tests/gui/test_training_panel.py test_closing_during_a_download_exits_cleanly;
  also G test_closing_while_mnist_loads_or_a_dialog_is_open[each]
- an exception inside the worker appears as a dialog, and the app stays usable:
    G test_an_exception_mid_training_shows_a_dialog_and_the_next_run_works,
    G test_an_unexpected_error_loading_data_shows_a_dialog,
    tests/gui/test_training_panel.py test_an_exception_in_training_shows_a_dialog_and_the_app_stays_usable
- no test leaves a QThread or QTimer running (a fixture fails the test if one does): the autouse
    fixture no_threads_or_timers_left in tests/gui/conftest.py, and close_window's own checks;
    G test_the_thread_and_timer_guard_is_active_and_sees_leftovers
Soak
- 1,000 draw, classify and clear cycles through the real canvas, RSS flat after warm-up (grows < 8 MB
  over the last 800 cycles) and no slowdown (late median cycle < 2x early + 2 ms):
    tests/gui/test_soak.py test_draw_classify_clear_cycles (marked soak; DIGITPAD_SOAK_CYCLES sets a
    reduced count for CI)
Settings
- a broken record of the model (a path that no longer exists, a folder, not JSON, wrong types, empty)
  falls back to the shipped model with a message: G test_a_broken_model_record_falls_back_to_the_shipped_model[each],
    tests/gui/test_main_window.py test_a_vanished_current_model_falls_back_with_a_message and
    test_a_broken_current_model_falls_back_to_the_shipped_one. (digitpad keeps the model path in
    current-model.json, shared with the CLI; QSettings keeps the folders and the panel.)
- other broken QSettings values (vanished data and model folders, garbage geometry, NaN pen, wrong
  types): G test_broken_settings_values_leave_the_app_working,
    tests/gui/test_main_window.py test_broken_settings_values_fall_back_to_defaults
- a remembered MNIST folder that has gone is named as gone, and the default folder is used or offered:
    G test_a_vanished_mnist_folder_is_not_offered_for_the_download,
    G test_a_vanished_mnist_folder_gives_way_to_mnist_in_the_default_folder
- a broken current model with no shipped model either: both are named,
    G test_a_bad_current_model_and_no_shipped_model_are_both_named_at_start_up[each],
    tests/test_cli.py test_a_bad_current_model_and_no_shipped_model_are_both_named
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QProgressBar, QPushButton, QWidget

from bad_checkpoints import BAD_CHECKPOINTS, code_ran, good_checkpoint, write_bad
from fake_mirror import use_unreachable_mirrors
from faults import fill_disk_in, hidden_leftovers, refuse_new_files_in, set_idx_magic, truncate_file
from digitpad.gui import saved_settings

from .conftest import (
    MODEL_TIMEOUT_MS,
    TEST_COUNT,
    TEST_SEED,
    TRAIN_TIMEOUT_MS,
    _active_timers,
    _stop_threads,
    close_window,
    draw_stroke,
    error_boxes,
    mnist_question,
    new_window,
    one,
    prediction_text,
    seven,
    synthetic_digits,
)

pytest.importorskip("digitpad.inference")

HINT = "Draw a digit"


# ------------------------------------------------------------------------------------ helpers


def one_error(window) -> str:
    """The text of the one error dialog showing; it is closed, as a user would."""
    boxes = error_boxes(window)
    assert len(boxes) == 1, [box.text() for box in boxes]
    text = boxes[0].text()
    assert "Traceback" not in text and text.strip()
    boxes[0].close()
    QApplication.processEvents()
    return text


def train_button(window) -> QPushButton:
    return window.findChild(QPushButton, "train_button")


def stop_button(window) -> QPushButton:
    return window.findChild(QPushButton, "stop_button")


def progress_text(window) -> str:
    return window.findChild(QProgressBar, "train_progress").text()  # what the bar shows


def assert_still_classifies(window, qtbot) -> None:
    """Draw a seven on a clear canvas: the model in use answers, and the panel shows its answer."""
    window.canvas.clear()
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    assert_honest(window)
    assert prediction_text(window) != HINT
    expected = window.model().classifier.predict_strokes(window.canvas.strokes())
    if expected.not_a_digit:
        assert prediction_text(window) == "not a digit"
    else:
        assert int(prediction_text(window)[0]) == expected.digit
    assert np.allclose(window.bars.values(), expected.probabilities, atol=1e-4)
    window.canvas.clear()


def assert_honest(window) -> None:
    """The label, confidence text and bars agree: digit = top bar, '?' exactly when unsure,
    'not a digit' exactly when no digit reaches NOT_A_DIGIT_BELOW (naming the closest)."""
    from digitpad.inference import NOT_A_DIGIT_BELOW, UNSURE_BELOW

    text = prediction_text(window)
    bars = window.bars.values()
    if text == HINT:
        assert bars.sum() == 0 and window.confidence_label.text() == ""
        return
    assert bars.sum() == pytest.approx(1.0, abs=1e-3) and (bars >= 0).all()
    top = float(bars.max())
    assert (text == "not a digit") == (top < NOT_A_DIGIT_BELOW), (text, top)
    if text == "not a digit":
        assert f"closest: {int(bars.argmax())} ({top * 100:.0f} %)" in window.confidence_label.text()
        return
    assert text[0].isdigit(), text
    assert int(text[0]) == int(bars.argmax())
    unsure = text.endswith("?")
    assert unsure == (top < UNSURE_BELOW), (text, top)
    confidence = window.confidence_label.text()
    assert (f"{top * 100:.0f} %" in confidence) if unsure else (f"{top * 100:.1f} % sure" in confidence)


def choose_download(window, qtbot) -> None:
    """Train, then answer the 'MNIST is needed' question with Download."""
    train_button(window).click()
    mnist_question(window, qtbot).findChild(QPushButton, "download_button").click()


def small_mlp(window, epochs: int, hidden: str = "64", batch_size: int = 128) -> None:
    window.training_panel.arch_combo.setCurrentIndex(window.training_panel.arch_combo.findData("mlp"))
    window.training_panel.hidden_edit.setText(hidden)
    window.training_panel.epochs_spin.setValue(epochs)
    window.training_panel.batch_spin.setValue(batch_size)
    window.training_panel.augment_check.setChecked(False)


# -------------------------------------------------------------------------------- checkpoints


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


# ------------------------------------------------------------------------------------- saving


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


def _train_to_the_end(window, qtbot) -> None:
    with qtbot.waitSignal(window.training_started, timeout=5_000):
        train_button(window).click()
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass


def test_a_trained_model_that_cannot_be_saved_stays_in_use(window, qtbot, use_tiny_mnist, test_model_path,
                                                           tmp_path):
    from digitpad import checkpoint, paths

    small_mlp(window, epochs=1, hidden="16")
    paths.models_dir().mkdir(parents=True)
    before = window.model()
    with pytest.MonkeyPatch.context() as patch:
        fill_disk_in(patch, paths.models_dir(), limit=2_000)
        _train_to_the_end(window, qtbot)

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

    _train_to_the_end(window, qtbot)

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


# --------------------------------------------------------------------------------------- data


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

    _train_to_the_end(window, qtbot)

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


# ------------------------------------------------------------------------------ drawing input


def _unit_to_canvas(canvas, points) -> list[tuple[float, float]]:
    """Points in units of the canvas's square (-0.5..0.5 from the centre) as widget coordinates."""
    side = min(canvas.width(), canvas.height())
    cx, cy = canvas.width() / 2, canvas.height() / 2
    return [(cx + x * side, cy + y * side) for x, y in points]


def _polyline(*points):
    return [list(points)]


def _star():
    angles = [np.pi / 2 + k * 4 * np.pi / 5 for k in range(6)]
    return [[(0.3 * np.cos(a), -0.3 * np.sin(a)) for a in angles]]


def _spiral():
    t = np.linspace(0, 5 * np.pi, 80)
    return [[(0.025 * s * np.cos(s), 0.025 * s * np.sin(s)) for s in t]]


def _hash():
    return [[(-0.12, -0.3), (-0.12, 0.3)], [(0.12, -0.3), (0.12, 0.3)],
            [(-0.3, -0.12), (0.3, -0.12)], [(-0.3, 0.12), (0.3, 0.12)]]


def _grid():
    lines = [[(-0.35, y), (0.35, y)] for y in np.linspace(-0.35, 0.35, 5)]
    return lines + [[(x, -0.35), (x, 0.35)] for x in np.linspace(-0.35, 0.35, 5)]


def _wave():
    x = np.linspace(-0.4, 0.4, 40)
    return [list(zip(x, 0.12 * np.sin(x * 5 * np.pi)))]


def _solid_block():
    return [[(-0.2, y), (0.2, y)] for y in np.linspace(-0.2, 0.2, 9)]


# Shapes that are not digits, in the canvas's unit square.
NON_DIGITS = {
    "square": _polyline((-0.25, -0.25), (0.25, -0.25), (0.25, 0.25), (-0.25, 0.25), (-0.25, -0.25)),
    "triangle": _polyline((0, -0.3), (0.3, 0.25), (-0.3, 0.25), (0, -0.3)),
    "cross": [[(-0.3, -0.3), (0.3, 0.3)], [(0.3, -0.3), (-0.3, 0.3)]],
    "hash": _hash(),
    "grid": _grid(),
    "star": _star(),
    "spiral": _spiral(),
    "wave": _wave(),
    "solid block": _solid_block(),
}


def _draw_shape(canvas, strokes) -> None:
    for stroke in strokes:
        draw_stroke(canvas, _unit_to_canvas(canvas, stroke))


def _whole_canvas_scribble(window) -> None:
    """Back and forth over the whole canvas with the widest pen: no paper is left."""
    canvas = window.canvas
    window.pen_slider.setValue(window.pen_slider.maximum())
    width, height = canvas.width(), canvas.height()
    points = []
    for row in range(14):
        y = height * row / 13
        points += [(0, y), (width, y)] if row % 2 == 0 else [(width, y), (0, y)]
    draw_stroke(canvas, points)
    assert canvas.to_array().min() == 255


def _tiny_corner_digit(window) -> None:
    canvas = window.canvas
    window.pen_slider.setValue(window.pen_slider.minimum())
    side = min(canvas.width(), canvas.height()) * 0.07
    left, top = 6.0, 6.0
    draw_stroke(canvas, [(left, top), (left + side, top), (left + 0.4 * side, top + 1.5 * side)])


DRAWINGS = {
    "empty": lambda window: None,
    "single dot": lambda window: draw_stroke(window.canvas, [(window.canvas.width() / 2, window.canvas.height() / 2)]),
    "dot in a corner": lambda window: draw_stroke(window.canvas, [(2.0, 2.0)]),
    "whole-canvas scribble": _whole_canvas_scribble,
    "tiny digit in a corner": _tiny_corner_digit,
    **{f"shape: {name}": (lambda strokes: lambda window: _draw_shape(window.canvas, strokes))(strokes)
       for name, strokes in NON_DIGITS.items()},
}


@pytest.mark.parametrize("drawing", list(DRAWINGS))
def test_drawing_input_never_crashes_and_answers_honestly(window, qtbot, drawing):
    DRAWINGS[drawing](window)
    QApplication.processEvents()

    assert_honest(window)
    if drawing == "empty":
        assert prediction_text(window) == HINT
        assert window.canvas.is_empty()
        return
    assert prediction_text(window) != HINT, "a drawing on the canvas must get an answer"
    preview = window.preview.pixmap().toImage()
    assert max(preview.pixelColor(x, y).value() for x in range(0, 140, 4) for y in range(0, 140, 4)) > 100
    # The app goes on: clear, then a digit.
    window.canvas.clear()
    assert prediction_text(window) == HINT
    assert_still_classifies(window, qtbot)


def _shipped_model_or_skip():
    from digitpad import paths

    shipped = paths.shipped_model_path()
    if not shipped.is_file():
        pytest.skip(f"no shipped model yet ({shipped} is missing): 'non-digits mostly unsure' needs the real "
                    "trained model, which the lead is to commit; the rest of the drawing checks ran above")
    return shipped


def test_non_digits_mostly_come_out_unsure_or_not_a_digit_with_the_shipped_model(qtbot):
    shipped = _shipped_model_or_skip()
    window = new_window(qtbot)  # no current model recorded: the shipped one
    try:
        assert window.model().path == shipped
        canvas = window.canvas
        # The model does read digits with confidence, so its 'unsure' means something.
        for digit, strokes in (("7", seven(canvas)), ("1", one(canvas))):
            canvas.clear()
            draw_stroke(canvas, strokes)
            assert prediction_text(window) == digit, (digit, prediction_text(window))
        answers = {}
        for name, strokes in NON_DIGITS.items():
            canvas.clear()
            _draw_shape(canvas, strokes)
            assert_honest(window)
            answers[name] = prediction_text(window)
        canvas.clear()
        _whole_canvas_scribble(window)
        answers["whole-canvas scribble"] = prediction_text(window)
        unsure = [name for name, text in answers.items() if text.endswith("?") or text == "not a digit"]
        assert len(unsure) > len(answers) / 2, f"only {len(unsure)} of {len(answers)} unsure: {answers}"
        assert "not a digit" in answers.values(), answers  # the clearest of them are called so
    finally:
        close_window(window)


# ------------------------------------------------------------------------------------ threads


def _tiny_test_set() -> tuple[torch.Tensor, torch.Tensor]:
    from digitpad.data import normalize_uint8

    images, labels = synthetic_digits(TEST_COUNT, TEST_SEED)  # the tiny MNIST's own test images
    return normalize_uint8(torch.from_numpy(images)), torch.from_numpy(labels)


@pytest.mark.slow
def test_stop_then_train_twenty_times_then_training_and_classifying_still_work(window, qtbot, use_tiny_mnist):
    from digitpad import checkpoint, paths

    small_mlp(window, epochs=100)
    phases = []
    for attempt in range(20):
        validated = []
        with qtbot.waitSignal(window.training_started, timeout=5_000):
            train_button(window).click()
        worker = window.training.worker()
        worker.validated.connect(lambda result: validated.append(result))
        phase = attempt % 3
        if phase == 1:  # mid-epoch
            qtbot.waitUntil(lambda: progress_text(window).startswith("Epoch"), timeout=TRAIN_TIMEOUT_MS)
        elif phase == 2:  # after a validation, in the next epoch
            qtbot.waitUntil(lambda: bool(validated), timeout=TRAIN_TIMEOUT_MS)
        # phase 0: at once, while MNIST loads
        with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
            stop_button(window).click()
        phases.append(progress_text(window).split(" ")[0])
        assert train_button(window).isEnabled() and not stop_button(window).isEnabled()
        assert not window.is_training() and not error_boxes(window)
    assert set(phases) <= {"Stopped", "Cancelled"} and "Stopped" in phases
    assert_still_classifies(window, qtbot)

    # A complete run still trains a model that reads its digits, and the app uses it.
    small_mlp(window, epochs=3)
    _train_to_the_end(window, qtbot)
    assert progress_text(window).startswith("Done"), progress_text(window)
    images, labels = _tiny_test_set()
    accuracy = (window.model().classifier.probabilities(images).argmax(axis=1) == labels.numpy()).mean()
    assert accuracy >= 0.9, accuracy
    assert paths.current_model_path() == window.model().path
    for saved in paths.models_dir().iterdir():  # every model written on the way loads
        checkpoint.load(saved)
    assert hidden_leftovers(paths.models_dir()) == []
    assert_still_classifies(window, qtbot)


def test_an_exception_mid_training_shows_a_dialog_and_the_next_run_works(window, qtbot, monkeypatch,
                                                                         use_tiny_mnist):
    from digitpad import training

    real_fit = training.fit
    calls = []

    def failing_fit(config, data, should_stop=None, initial_state=None, initial_history=None):
        calls.append(config)
        for count, event in enumerate(real_fit(config, data, should_stop=should_stop, initial_state=initial_state,
                                              initial_history=initial_history)):
            if len(calls) == 1 and count == 3:
                raise RuntimeError("simulated failure in the middle of an epoch")
            yield event

    monkeypatch.setattr(training, "fit", failing_fit)
    small_mlp(window, epochs=2, hidden="16", batch_size=32)
    before = window.model()

    _train_to_the_end(window, qtbot)

    text = one_error(window)
    assert "simulated failure in the middle of an epoch" in text
    assert window.model() is before and progress_text(window) == "Failed"
    assert_still_classifies(window, qtbot)
    _train_to_the_end(window, qtbot)
    assert not error_boxes(window) and progress_text(window).startswith("Done")
    assert window.model() is not before


def test_an_unexpected_error_loading_data_shows_a_dialog(window, qtbot, monkeypatch, use_tiny_mnist):
    from digitpad import data

    def broken_load(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(data, "load_mnist", broken_load)
    _train_to_the_end(window, qtbot)
    text = one_error(window)
    assert text.startswith("Training failed") and "MemoryError" in text
    assert train_button(window).isEnabled()
    assert_still_classifies(window, qtbot)


@pytest.mark.parametrize("network", ["slow", "stalled"])
def test_closing_during_a_real_download_keeps_no_half_file(qtbot, mirror, test_model_path, network):
    from digitpad import paths

    paths.set_current_model(test_model_path)
    # Slow: a pause after every 16 kB. Stalled: nothing more after the first 16 kB, for a minute.
    mirror.chunk_delay = 0.2 if network == "slow" else 60
    window = new_window(qtbot)
    choose_download(window, qtbot)
    qtbot.waitUntil(lambda: progress_text(window).startswith("Downloading MNIST:"), timeout=10_000)

    started = time.perf_counter()
    close_window(window)  # asserts no thread or timer is left
    assert time.perf_counter() - started < 3  # not held up by the network (it once waited for the socket)

    raw = paths.default_data_dir() / "MNIST" / "raw"
    assert hidden_leftovers(paths.default_data_dir()) == []
    for name, body in mirror.files.items():  # whatever was kept is whole
        if (raw / name).exists():
            assert (raw / name).read_bytes() == body
    assert len(list(raw.glob("*.gz"))) < 4


@pytest.mark.parametrize("when", ["while MNIST loads", "with an error dialog open", "with the data question open"])
def test_closing_while_mnist_loads_or_a_dialog_is_open(qtbot, monkeypatch, tmp_path, test_model_path, tiny_mnist,
                                                       when):
    from digitpad import data, paths

    paths.set_current_model(test_model_path)
    loading = threading.Event()
    if when == "while MNIST loads":
        real_load = data.load_mnist

        def slow_load(*args, **kwargs):
            loading.set()
            time.sleep(0.3)
            return real_load(*args, **kwargs)

        monkeypatch.setattr(data, "load_mnist", slow_load)
        monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tiny_mnist))
    elif when == "with an error dialog open":
        monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tmp_path / "nothing-here"))
    window = new_window(qtbot)
    train_button(window).click()
    if when == "while MNIST loads":
        qtbot.waitUntil(loading.is_set, timeout=10_000)
    elif when == "with an error dialog open":
        qtbot.waitUntil(lambda: bool(error_boxes(window)), timeout=TRAIN_TIMEOUT_MS)
    else:
        mnist_question(window, qtbot)
    close_window(window)


def test_the_thread_and_timer_guard_is_active_and_sees_leftovers(request, qapp):
    from qt_threads import new_thread, running_threads

    assert "no_threads_or_timers_left" in request.fixturenames
    thread = new_thread("left-running")
    thread.start()
    owner = QWidget()
    timer = QTimer(owner)
    timer.setObjectName("left_active")
    timer.start(10_000)
    try:
        assert "QWidget.left_active" in _active_timers(owner)
        assert _stop_threads() == ["left-running"]  # the guard reports it (and stops it)
        assert not running_threads()
    finally:
        timer.stop()
        thread.quit()
        thread.wait()
        owner.deleteLater()
        QApplication.processEvents()


# ----------------------------------------------------------------------------------- settings


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
