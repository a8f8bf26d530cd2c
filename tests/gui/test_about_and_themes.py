"""The real MainWindow's About box, and every text readable in a light and a dark theme."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from .conftest import (SURE_SEVEN, UNSURE_SEVEN, close_window, draw_stroke, error_boxes, new_window, prediction_text,
                       seven)


# ------------------------------------------------------------------------ help


def test_about_says_the_version_and_where_the_files_are(window, monkeypatch, tmp_path, test_model_path):
    from PySide6.QtWidgets import QMessageBox

    from digitpad import __version__, paths

    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(tmp_path / "my-mnist"))
    help_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&Help")
    about = next(action for action in help_menu.actions() if action.objectName() == "about_action")
    about.trigger()
    boxes = window.findChildren(QMessageBox, "about_dialog")
    assert len(boxes) == 1 and boxes[0].isVisible()
    text = boxes[0].text()
    assert f"digitpad {__version__}" in text
    # The model's link opens its folder, not the file.
    folder_url = QUrl.fromLocalFile(str(test_model_path.parent)).toString()
    assert f'test-model: <a href="{folder_url}">{test_model_path}</a>' in text
    assert f"{paths.models_dir()} (not created yet)" in text
    assert f"{tmp_path / 'my-mnist'} (not created yet)" in text
    assert "PyTorch " in text and "Qt " in text
    assert not error_boxes(window)
    # Closing the window closes the box too (it never holds the app up).
    window.close()
    assert not boxes[0].isVisible()


# ------------------------------------------------------------------ readability


def _luminance(color) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def _contrast(first, second) -> float:
    """WCAG's contrast ratio: 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _dark_palette() -> QPalette:
    """A dark system theme, as Windows, macOS and GNOME give Qt's Fusion style in dark mode."""
    from PySide6.QtGui import QColor

    palette = QPalette(QColor("#353535"), QColor("#2a2a2a"))
    for role, color in [(QPalette.ColorRole.WindowText, "#f0f0f0"), (QPalette.ColorRole.Text, "#f0f0f0"),
                        (QPalette.ColorRole.ButtonText, "#f0f0f0"), (QPalette.ColorRole.Base, "#252525")]:
        palette.setColor(role, QColor(color))
    return palette


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_text_is_readable_in_a_light_and_a_dark_theme(theme, qtbot, monkeypatch, test_model_path):
    from digitpad import paths

    app = QApplication.instance()
    system_palette = app.palette()
    if theme == "dark":
        app.setPalette(_dark_palette())
    try:
        paths.set_current_model(test_model_path)
        window = new_window(qtbot)
        try:
            for shown in (None, SURE_SEVEN, UNSURE_SEVEN):
                if shown is not None:
                    monkeypatch.setattr(window.model().classifier, "predict_strokes", lambda strokes, p=shown: p)
                    with qtbot.waitSignal(window.prediction_updated):
                        draw_stroke(window.canvas, seven(window.canvas))
                labels = [label for label in window.findChildren(QLabel) if label.isVisible() and label.text()]
                assert window.confidence_label in labels or shown is None
                _assert_readable(window, labels, theme)
        finally:
            close_window(window)
    finally:
        app.setPalette(system_palette)


def _assert_readable(window, labels, theme: str) -> None:
    """Every label's text and the plots' axis text stand out from what is behind them by at least 3:1,
    WCAG's floor for large text and the least any text here should have; the cards follow the theme."""
    for label in labels:
        palette = label.palette()
        ratio = _contrast(palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window))
        assert ratio >= 3.0, f"{theme}: {label.objectName() or label.text()!r} has contrast {ratio:.2f}"
    window_is_dark = window.palette().color(QPalette.ColorRole.Window).lightness() < 128
    for plot in (window.bars, window.training_panel.metrics_plot):
        paper = plot.card_background()
        assert (paper.lightness() < 128) == window_is_dark, f"{theme}: {plot.objectName()} does not follow the theme"
        axis_text = plot.getPlotItem().getAxis("bottom").textPen().color()
        assert _contrast(axis_text, paper) >= 3.0, f"{theme}: {plot.objectName()}'s axis text"
    card = window.findChild(QWidget, "answer_card").palette().color(QPalette.ColorRole.Window)
    assert (card.lightness() < 128) == window_is_dark, f"{theme}: the answer's card does not follow the theme"


def test_a_theme_switched_while_the_app_runs_repaints_the_cards(window, qtbot, monkeypatch):
    app = QApplication.instance()
    system_palette = app.palette()
    monkeypatch.setattr(window.model().classifier, "predict_strokes", lambda strokes: SURE_SEVEN)
    with qtbot.waitSignal(window.prediction_updated):
        draw_stroke(window.canvas, seven(window.canvas))
    labels = [window.prediction_label, window.confidence_label, window.model_label]
    bars_before = (window.bars.values(), window.bars.label_texts())
    light_paper = window.bars.card_background()
    try:
        app.setPalette(_dark_palette())
        qtbot.waitUntil(lambda: window.bars.card_background() != light_paper, timeout=2_000)
        _assert_readable(window, labels, "switched to dark")
    finally:
        app.setPalette(system_palette)
    qtbot.waitUntil(lambda: window.bars.card_background() == light_paper, timeout=2_000)
    _assert_readable(window, labels, "switched back")
    # The answer is still shown, as it was.
    assert prediction_text(window) == "7"
    assert np.array_equal(window.bars.values(), bars_before[0]) and window.bars.label_texts() == bars_before[1]


def test_about_names_a_folder_it_cannot_read_instead_of_failing(window, monkeypatch):
    from pathlib import Path

    from PySide6.QtWidgets import QMessageBox

    real_exists = Path.exists

    def exists(path, *args, **kwargs):
        if path.name == "models":
            raise PermissionError(13, "Permission denied")
        return real_exists(path, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    window.about_action.trigger()
    (box,) = window.findChildren(QMessageBox, "about_dialog")
    assert "models (Permission denied)" in box.text()
