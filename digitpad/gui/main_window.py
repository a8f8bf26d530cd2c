"""The main window: it builds the parts, wires them together, and holds the menus
and the window's own settings.

The parts, each in its own module: the Draw group (``draw_panel``), the
Prediction group (``prediction_view``) with the "It's a …" buttons
(``corrections``), the Test set and My digits views (``test_set_view``,
``my_digits_view``), the Training group (``training_panel``), the model in use
(``model_in_use``) and the runs that train and teach it (``training_controller``). torch is imported only after the window is shown: the
start-up model loads on a QThread, and the core's modules are imported inside
the methods that need them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QMainWindow, QMessageBox, QTabWidget, QWidget

from digitpad.gui import about, data_folder
from digitpad.gui import saved_settings
from digitpad.gui.canvas import DEFAULT_PEN_WIDTH, MAX_PEN_WIDTH, MIN_PEN_WIDTH
from digitpad.gui.corrections import CorrectionBar, Corrections
from digitpad.gui.draw_panel import DrawPanel
from digitpad.gui.model_in_use import ModelInUse
from digitpad.gui.model_loader import LoadedModel
from digitpad.gui.my_digits_view import MyDigitsView
from digitpad.gui.prediction_view import PredictionView
from digitpad.gui.test_set_view import TestSetView
from digitpad.gui.training_controller import TrainingController
from digitpad.gui.training_panel import TrainingPanel

if TYPE_CHECKING:
    from digitpad.inference import Prediction

log = logging.getLogger(__name__)

# Live predictions while drawing get at most half of the GUI thread.
LIVE_PREDICTION_SHARE = 2


class MainWindow(QMainWindow):
    """The app's window. Signals are for tests, benchmarks and automation."""

    # A model is in use (at start-up, after training, Open or Revert): its description.
    model_changed = Signal(str)
    # No start-up model could be loaded: the message.
    model_failed = Signal(str)
    # The prediction label, preview and bars were updated.
    prediction_updated = Signal()
    training_started = Signal()
    # The training thread has ended and the panel is ready for another run.
    training_ended = Signal()

    def __init__(self, parent: QWidget | None = None, *, load_model: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowTitle("digitpad")
        self._settings = saved_settings.app_settings()
        self._closing = False
        self._auto_load = load_model
        self._load_started = False

        self._build_parts()
        self._build_menus()
        self._restore_settings()
        self.show_prediction(None)
        self.statusBar().messageChanged.connect(self._on_status_message_changed)
        self.statusBar().showMessage("Loading the model…")

        # Start-up loading waits for the first show, so the window paints first.
        self._load_timer = QTimer(self)
        self._load_timer.setObjectName("model_load_timer")
        self._load_timer.setSingleShot(True)
        self._load_timer.setInterval(0)
        self._load_timer.timeout.connect(self.start_loading_model)

    # ================================================================ parts

    def _build_parts(self) -> None:
        self.draw_panel = DrawPanel()
        self.prediction_view = PredictionView()
        self.prediction_view.setFixedWidth(310)
        self.training_panel = TrainingPanel()
        self.training_panel.setMinimumWidth(420)

        self.models = ModelInUse(self._settings, self)
        self.corrections = Corrections(self.draw_panel.canvas, self.models, self)
        self.correction_bar = CorrectionBar()
        self.prediction_view.add_row(self.correction_bar)
        self.test_set_view = TestSetView(self.models, self._settings)
        self.my_digits_view = MyDigitsView(self.corrections, self.models)

        drawing = QWidget()
        draw_columns = QHBoxLayout(drawing)
        draw_columns.setContentsMargins(0, 0, 0, 0)
        draw_columns.setSpacing(10)
        # The canvas takes what is left; the prediction column needs little width.
        draw_columns.addWidget(self.draw_panel, 1)
        draw_columns.addWidget(self.prediction_view, 0)
        self.views = QTabWidget()
        self.views.setObjectName("views")
        self.views.setDocumentMode(True)
        self.views.addTab(drawing, "Draw")
        self.views.addTab(self.test_set_view, "Test set")
        self.views.addTab(self.my_digits_view, "My digits")
        self.views.setTabToolTip(1, "Where the model in use goes wrong on the 10,000 MNIST test images")
        self.views.setTabToolTip(2, "The drawings you labelled with “It's a …”, for teaching")

        central = QWidget(self)
        columns = QHBoxLayout(central)
        columns.setContentsMargins(10, 6, 10, 6)
        columns.setSpacing(10)
        # The canvas keeps about three fifths of what the fixed-width Prediction column leaves.
        columns.addWidget(self.views, 4)
        columns.addWidget(self.training_panel, 2)
        self.setCentralWidget(central)
        self.resize(1340, 720)

        # The widgets tests, benchmarks and the menus reach most.
        self.canvas = self.draw_panel.canvas
        self.pen_slider = self.draw_panel.pen_slider
        self.undo_button = self.draw_panel.undo_button
        self.clear_button = self.draw_panel.clear_button
        self.bars = self.prediction_view.bars
        self.preview = self.prediction_view.preview
        self.prediction_label = self.prediction_view.prediction_label
        self.confidence_label = self.prediction_view.confidence_label
        self.model_label = self.prediction_view.model_label

        self.models.changed.connect(self._on_model_changed)
        self.models.failed.connect(self._on_model_failed)
        self.models.status.connect(self.statusBar().showMessage)
        self.models.devices_found.connect(self.training_panel.set_available_devices)

        self.training = TrainingController(self.training_panel, self.models, self.corrections, self._settings, self)
        self.training.status.connect(self.statusBar().showMessage)
        for part in (self.corrections, self.test_set_view, self.my_digits_view):
            part.status.connect(self.statusBar().showMessage)
        self.correction_bar.digit_given.connect(self.corrections.give)
        self.training.started.connect(self.training_started)
        self.training.ended.connect(self.training_ended)
        self.training_panel.defaults_applied.connect(self.statusBar().showMessage)

        for changed in (self.canvas.stroke_changed, self.canvas.stroke_finished, self.canvas.stroke_undone,
                        self.canvas.cleared, self.canvas.strokes_restored):
            changed.connect(self._predict_now)
        for changed in (self.canvas.stroke_started, self.canvas.stroke_undone, self.canvas.cleared,
                        self.canvas.strokes_restored):
            changed.connect(self._update_edit_actions)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action("&Open model…", "open_action", self.models.ask_and_open,
                                        QKeySequence.StandardKey.Open)
        self.save_action = self._action("&Save model…", "save_action", self.models.ask_and_save,
                                        QKeySequence.StandardKey.Save)
        self.revert_action = self._action("&Revert to shipped model", "revert_action", self.revert_to_shipped_model)
        self.quit_action = self._action("&Quit", "quit_action", self.close, QKeySequence.StandardKey.Quit)
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.revert_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action("&Undo stroke", "undo_action", self.canvas.undo, QKeySequence.StandardKey.Undo)
        self.clear_action = self._action("&Clear canvas", "clear_action", self.canvas.clear)
        self.clear_action.setShortcuts([QKeySequence(Qt.Key.Key_Escape), QKeySequence(QKeySequence.StandardKey.Delete)])
        self.undo_correction_action = self._action("Undo &correction", "undo_correction_action",
                                                   self.corrections.undo_last)
        self.undo_correction_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self.undo_correction_action.setToolTip("Take back the last “It's a …”: the drawing returns to the canvas")
        self.undo_correction_action.setEnabled(False)
        self.corrections.undo_available.connect(self.undo_correction_action.setEnabled)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.clear_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.undo_correction_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = self._action("&About digitpad", "about_action", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        about_qt_action = QAction("About &Qt", self)
        about_qt_action.setMenuRole(QAction.MenuRole.AboutQtRole)
        about_qt_action.triggered.connect(QApplication.aboutQt)
        help_menu.addAction(self.about_action)
        help_menu.addAction(about_qt_action)
        self._update_edit_actions()
        self._update_model_actions()

    def _action(self, text: str, name: str, slot, shortcut: QKeySequence.StandardKey | None = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        return action

    # ============================================================== settings

    def _restore_settings(self) -> None:
        geometry = self._settings.value(saved_settings.GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        self.draw_panel.set_pen_width(
            saved_settings.read_float(self._settings, saved_settings.PEN_WIDTH, DEFAULT_PEN_WIDTH, MIN_PEN_WIDTH, MAX_PEN_WIDTH)
        )
        self.training_panel.restore_settings(self._settings)

    def _save_settings(self) -> None:
        self._settings.setValue(saved_settings.GEOMETRY, self.saveGeometry())
        self._settings.setValue(saved_settings.PEN_WIDTH, self.canvas.pen_width())
        self.training_panel.save_settings(self._settings)
        self._settings.sync()

    # ================================================================ the model in use

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._auto_load and not self._load_started:
            self._load_started = True
            self._load_timer.start()

    @Slot()
    def start_loading_model(self) -> None:
        """Import torch and load the start-up model on a QThread (once)."""
        self._load_started = True
        if not self._closing:
            self.models.start_loading()

    def model(self) -> LoadedModel | None:
        """The model in use, or None while loading (or if none could be loaded)."""
        return self.models.model()

    def open_model(self, path: Path) -> bool:
        return self.models.open(path)

    def save_model(self, path: Path) -> bool:
        return self.models.save(path)

    @Slot()
    def revert_to_shipped_model(self) -> bool:
        return self.models.revert_to_shipped()

    def is_training(self) -> bool:
        return self.training.is_running()

    @Slot(object, bool)
    def _on_model_changed(self, model: LoadedModel, history: bool) -> None:
        if self._closing:
            return
        self.prediction_view.set_model_text(model.describe_lines(), str(model.path) if model.path else "")
        if history and not self.is_training():
            self.training_panel.metrics_plot.set_history(getattr(model.checkpoint, "history", None))
        self.training_panel.set_model_in_use(model.name, model.model_config)
        self._update_model_actions()
        self._predict_now()
        self.model_changed.emit(model.describe())

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        if self._closing:
            return
        self.prediction_view.set_model_text("Model in use: none. Train one, or open one from File › Open model.")
        self.show_prediction(None)
        self.model_failed.emit(message)

    def _update_model_actions(self) -> None:
        self.save_action.setEnabled(self.model() is not None)

    # ============================================================= predicting

    @Slot()
    def _predict_now(self) -> None:
        if self._closing:
            return
        if self.canvas.is_empty():
            self.show_prediction(None)
            return
        model = self.model()
        if model is None:
            self.prediction_view.show_pending(self.models.has_failed())
            self.prediction_updated.emit()
            return
        started = time.perf_counter()
        try:
            prediction = model.classifier.predict_strokes(self.canvas.strokes(include_current=True))
        except Exception as error:  # never let one bad drawing break the app
            log.exception("prediction failed")
            self.statusBar().showMessage(f"Could not classify this drawing: {error}")
            return
        self.show_prediction(prediction)
        # On a slow machine, space live predictions out so they take at most
        # 1/LIVE_PREDICTION_SHARE of the GUI thread and the ink never lags behind the pen.
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self.canvas.set_live_interval(LIVE_PREDICTION_SHARE * elapsed_ms)

    def show_prediction(self, prediction: Prediction | None) -> None:
        """Show ``prediction``, or the drawing hint for None."""
        if prediction is None:
            self.prediction_view.show_hint()
        else:
            self.prediction_view.show_prediction(prediction)
        self.prediction_updated.emit()

    @Slot()
    def _update_edit_actions(self) -> None:
        has_ink = not self.canvas.is_empty()
        self.correction_bar.set_available(has_ink)
        if hasattr(self, "undo_action"):
            self.undo_action.setEnabled(has_ink)

    # ================================================================ the rest

    @Slot(str)
    def _on_status_message_changed(self, message: str) -> None:
        # A long message is cut at the window's edge; hovering shows all of it.
        self.statusBar().setToolTip(message)

    @Slot()
    def show_about(self) -> QMessageBox:
        return about.show_about(self, self.model(), data_folder.current_folder(self._settings).path,
                                Path(self._settings.fileName()), self.training_panel.device_summary())

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self._save_settings()
            self._load_timer.stop()
            for box in self.findChildren(QMessageBox):
                box.close()
            # Join every thread: the trainer and the evaluation stop within a batch, the loader finishes its load.
            self.training.close()
            self.test_set_view.close_view()
            self.models.close()
        event.accept()
        super().closeEvent(event)
