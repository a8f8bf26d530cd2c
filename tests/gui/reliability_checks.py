"""Issue 6, in the app: faults and bad input, after which digitpad keeps working and loses nothing.

This module holds the checks the app's reliability tests share, and the map of what they cover.

Every case shows a clear message (a dialog, the status bar or the prediction panel), never a
traceback (pytest-qt fails a test when a slot raises), and the app stays usable afterwards.

Coverage map: each item of issue 6 -> the tests that check it as the issue states it.
R = tests/test_reliability.py (core and CLI), G = tests/gui/test_reliability_*.py (the app: files,
data, drawing, threads); others named in full.

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
    tests/test_cli_predict.py test_predict_json_reports_bad_files_and_classifies_the_rest
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
    tests/gui/test_model_files.py test_a_vanished_current_model_falls_back_with_a_message and
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

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QProgressBar, QPushButton

from digitpad.gui.prediction_view import DOUBTS

from .conftest import (
    TRAIN_TIMEOUT_MS,
    draw_stroke,
    error_boxes,
    mnist_question,
    prediction_text,
    seven,
)

HINT = "Draw a digit"


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
    from digitpad.inference import NOT_A_DIGIT_BELOW

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
    expected = window.models.model().classifier.predict_strokes(window.canvas.strokes())
    # Unsure below the level, or when one network alone sees no digit.
    assert unsure == (top < expected.unsure_below or bool(expected.doubted_by)), (text, top, expected.doubted_by)
    confidence = window.confidence_label.text()
    if expected.doubted_by:
        assert confidence == f"unsure\n{DOUBTS[expected.doubted_by][0]}", confidence
    else:
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


def train_to_the_end(window, qtbot) -> None:
    """Click Train and wait until the run has ended."""
    with qtbot.waitSignal(window.training_started, timeout=5_000):
        train_button(window).click()
    with qtbot.waitSignal(window.training_ended, timeout=TRAIN_TIMEOUT_MS):
        pass
