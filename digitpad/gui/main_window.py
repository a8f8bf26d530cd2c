"""The main window: canvas, prediction, training panel, menus.

It wires widgets to the core and holds no ML logic. torch is imported only
after the window is shown: the start-up model loads on a QThread, and the
core's modules are imported inside the methods that need them.
"""

from __future__ import annotations

import html
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QSize, Qt, QTimer, QUrl, Signal, Slot, qVersion
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QKeySequence,
    QPalette,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from digitpad import __version__
from digitpad.config import ConfigError, TrainConfig
from digitpad.gui import data_dialog
from digitpad.gui import settings as keys
from digitpad.gui.canvas import DEFAULT_PEN_WIDTH, MAX_PEN_WIDTH, MIN_PEN_WIDTH, DrawingCanvas
from digitpad.gui.model_loader import (
    LoadedModel,
    ModelLoader,
    load_model_file,
    model_from_checkpoint,
    pin_torch_threads,
)
from digitpad.gui.plots import HIGHLIGHT_COLOR, UNSURE_COLOR, ProbabilityBars, card_colors
from digitpad.gui.threads import new_thread
from digitpad.gui.training_panel import TrainingPanel
from digitpad.gui.worker import TrainingWorker
from digitpad.paths import DATA_DIR_ENV

log = logging.getLogger(__name__)

PREVIEW_SCALE = 5  # the 28x28 model input, shown nearest-neighbour at 140x140
ANSWER_WIDTH = 136  # the predicted digit and the confidence text under it
DIGIT_HEIGHT = 100
HINT = "Draw a digit"
MODEL_FILTER = "digitpad models (*.pt);;All files (*)"
# Live predictions while drawing get at most half of the GUI thread.
LIVE_PREDICTION_SHARE = 2

class SquareFrame(QWidget):
    """Keeps the canvas square, with its tool row right under it, centred as one block."""

    SPACING = 6

    def __init__(self, canvas: QWidget, footer: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._footer = footer
        canvas.setParent(self)
        footer.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _footer_height(self) -> int:
        return self._footer.sizeHint().height()

    def sizeHint(self) -> QSize:
        hint = self._canvas.sizeHint()
        return QSize(hint.width(), hint.height() + self.SPACING + self._footer_height())

    def minimumSizeHint(self) -> QSize:
        minimum = self._canvas.minimumSize()
        width = max(minimum.width(), self._footer.minimumSizeHint().width())
        return QSize(width, minimum.height() + self.SPACING + self._footer_height())

    def resizeEvent(self, event) -> None:
        footer_height = self._footer_height()
        side = max(1, min(self.width(), self.height() - footer_height - self.SPACING))
        left = (self.width() - side) // 2
        top = max(0, (self.height() - side - self.SPACING - footer_height) // 2)
        self._canvas.setGeometry(left, top, side, side)
        self._footer.setGeometry(left, top + side + self.SPACING, side, footer_height)
        super().resizeEvent(event)


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

    _answer_card: QWidget | None = None

    def __init__(self, parent: QWidget | None = None, *, load_model: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowTitle("digitpad")
        self._settings = keys.app_settings()
        self._model: LoadedModel | None = None
        self._model_failed = False
        self._loader_thread = None
        self._loader: ModelLoader | None = None
        self._train_thread = None
        self._worker: TrainingWorker | None = None
        self._batches_seen = False  # this run has trained at least one batch
        self._stopping = False  # Stop was pressed for this run
        self._closing = False
        self._auto_load = load_model
        self._load_started = False
        self._prediction_style: tuple[bool, str] | None = None
        self._blank_preview = np.zeros((28 * PREVIEW_SCALE, 28 * PREVIEW_SCALE), dtype=np.uint8)

        self._build_ui()
        self._build_menus()
        self._restore_settings()
        self._show_prediction(None)
        self.statusBar().messageChanged.connect(self._on_status_message_changed)
        self.statusBar().showMessage("Loading the model…")

        # Start-up loading waits for the first show, so the window paints first.
        self._load_timer = QTimer(self)
        self._load_timer.setObjectName("model_load_timer")
        self._load_timer.setSingleShot(True)
        self._load_timer.setInterval(0)
        self._load_timer.timeout.connect(self.start_loading_model)

    # ================================================================ layout

    def _build_ui(self) -> None:
        central = QWidget(self)
        columns = QHBoxLayout(central)
        columns.setContentsMargins(10, 10, 10, 6)
        columns.setSpacing(10)
        # The canvas takes what is left; the prediction column needs little width.
        columns.addWidget(self._build_draw_group(), 3)
        prediction = self._build_prediction_group()
        prediction.setFixedWidth(310)
        columns.addWidget(prediction, 0)
        self.training_panel = TrainingPanel()
        self.training_panel.setMinimumWidth(420)
        self.training_panel.train_button.clicked.connect(self.start_training)
        self.training_panel.stop_button.clicked.connect(self.stop_training)
        self.training_panel.defaults_applied.connect(self.statusBar().showMessage)
        columns.addWidget(self.training_panel, 2)
        self.setCentralWidget(central)
        self.resize(1340, 700)

    def _build_draw_group(self) -> QGroupBox:
        group = QGroupBox("Draw")
        layout = QVBoxLayout(group)
        self.canvas = DrawingCanvas()

        footer = QWidget()
        tools = QHBoxLayout(footer)
        tools.setContentsMargins(0, 0, 0, 0)
        pen_label = QLabel("Pen")
        self.pen_slider = QSlider(Qt.Orientation.Horizontal)
        self.pen_slider.setObjectName("pen_width")
        self.pen_slider.setAccessibleName("Pen width")
        self.pen_slider.setRange(round(MIN_PEN_WIDTH * 1000), round(MAX_PEN_WIDTH * 1000))
        self.pen_slider.setValue(round(DEFAULT_PEN_WIDTH * 1000))
        # Room to pick a width even in the smallest window: the draw column grows rather than the slider shrinking away.
        self.pen_slider.setMinimumWidth(90)
        self.pen_slider.setToolTip("Pen width for new strokes (the model sees every stroke with the same pen)")
        self.pen_slider.valueChanged.connect(self._on_pen_width_changed)
        pen_label.setBuddy(self.pen_slider)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("undo_button")
        self.undo_button.setToolTip("Remove the last stroke (Ctrl+Z)")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clear_button")
        self.clear_button.setToolTip("Clear the canvas (Esc or Delete)")
        tools.addWidget(pen_label)
        tools.addWidget(self.pen_slider, 1)
        tools.addSpacing(12)
        tools.addWidget(self.undo_button)
        tools.addWidget(self.clear_button)
        layout.addWidget(SquareFrame(self.canvas, footer, group), 1)

        self.undo_button.clicked.connect(self.canvas.undo)
        self.clear_button.clicked.connect(self.canvas.clear)
        self.canvas.stroke_changed.connect(self._predict_now)
        self.canvas.stroke_finished.connect(self._predict_now)
        self.canvas.stroke_undone.connect(self._predict_now)
        self.canvas.cleared.connect(self._predict_now)
        # Enabled as a stroke starts, not when it ends: the buttons' repaint then
        # stays out of the way of the finished stroke's prediction.
        self.canvas.stroke_started.connect(self._update_edit_buttons)
        self.canvas.stroke_undone.connect(self._update_edit_buttons)
        self.canvas.cleared.connect(self._update_edit_buttons)
        return group

    def _build_prediction_group(self) -> QGroupBox:
        group = QGroupBox("Prediction")
        layout = QVBoxLayout(group)
        layout.setSpacing(8)

        top = QHBoxLayout()
        preview_box = QVBoxLayout()
        self.preview = QLabel()
        self.preview.setObjectName("model_input_preview")
        self.preview.setAccessibleName("The 28 by 28 image the model sees")
        self.preview.setFixedSize(28 * PREVIEW_SCALE, 28 * PREVIEW_SCALE)
        self.preview.setFrameShape(QFrame.Shape.Box)
        self.preview.setToolTip(
            "What the model sees: your strokes redrawn with one even pen, cropped, scaled and centred like MNIST (28×28)"
        )
        preview_caption = QLabel("model input, 28×28")
        preview_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        preview_caption.setStyleSheet("color: gray;")
        preview_box.addWidget(self.preview)
        preview_box.addWidget(preview_caption)
        preview_box.addStretch(1)
        top.addLayout(preview_box)

        answer = QVBoxLayout()
        answer.setSpacing(0)
        self.prediction_label = QLabel()
        self.prediction_label.setObjectName("prediction")
        self.prediction_label.setAccessibleName("Predicted digit")
        self.prediction_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confidence_label = QLabel()
        self.confidence_label.setObjectName("confidence")
        self.confidence_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confidence_label.setWordWrap(True)
        confidence_font = QFont()
        confidence_font.setPointSize(12)
        self.confidence_label.setFont(confidence_font)
        # Fixed sizes: a QLabel whose size may change has the window lay itself
        # out again after every new text, on the way to painting the bars.
        self.prediction_label.setFixedSize(ANSWER_WIDTH, DIGIT_HEIGHT)
        self.confidence_label.setFixedSize(ANSWER_WIDTH, QFontMetrics(confidence_font).lineSpacing() * 2 + 2)
        answer.addStretch(1)
        answer.addWidget(self.prediction_label)
        answer.addWidget(self.confidence_label)
        answer.addStretch(1)
        top.addLayout(answer, 1)
        # An opaque card, like the bars' panel below it: a new answer then
        # repaints the card alone, not the group box's frame behind it (half a
        # millisecond a stroke).
        self._answer_card = QWidget()
        self._answer_card.setObjectName("answer_card")
        self._answer_card.setAutoFillBackground(True)
        top.setContentsMargins(0, 0, 0, 0)
        self._answer_card.setLayout(top)
        layout.addWidget(self._answer_card)
        self._paint_answer_card()

        self.bars = ProbabilityBars(group)
        self.bars.setMinimumHeight(200)
        layout.addWidget(self.bars, 1)

        self.model_label = QLabel("Model in use: loading…")
        self.model_label.setObjectName("model_label")
        self.model_label.setWordWrap(True)
        # Three lines: name, architecture, accuracy (see LoadedModel.describe_lines).
        self.model_label.setMinimumHeight(self.model_label.fontMetrics().lineSpacing() * 3 + 4)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.model_label)
        return group

    def _paint_answer_card(self) -> None:
        # The card's own paper and text, like the bars' card below it: the
        # theme's text colour could be unreadable on it.
        colors = card_colors(self.palette())
        palette = self._answer_card.palette()
        palette.setColor(QPalette.ColorRole.Window, colors.background)
        palette.setColor(QPalette.ColorRole.WindowText, colors.foreground)
        self._answer_card.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._answer_card is not None:  # None: still being built
            self._paint_answer_card()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open model…", self)
        self.open_action.setObjectName("open_action")
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self._on_open_triggered)
        self.save_action = QAction("&Save model…", self)
        self.save_action.setObjectName("save_action")
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self._on_save_triggered)
        self.revert_action = QAction("&Revert to shipped model", self)
        self.revert_action.setObjectName("revert_action")
        self.revert_action.triggered.connect(self.revert_to_shipped_model)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setObjectName("quit_action")
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.revert_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = QAction("&Undo stroke", self)
        self.undo_action.setObjectName("undo_action")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.triggered.connect(self.canvas.undo)
        self.clear_action = QAction("&Clear canvas", self)
        self.clear_action.setObjectName("clear_action")
        self.clear_action.setShortcuts([QKeySequence(Qt.Key.Key_Escape), QKeySequence(QKeySequence.StandardKey.Delete)])
        self.clear_action.triggered.connect(self.canvas.clear)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.clear_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About digitpad", self)
        self.about_action.setObjectName("about_action")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        about_qt_action = QAction("About &Qt", self)
        about_qt_action.setMenuRole(QAction.MenuRole.AboutQtRole)
        about_qt_action.triggered.connect(QApplication.aboutQt)
        help_menu.addAction(self.about_action)
        help_menu.addAction(about_qt_action)
        self._update_edit_buttons()
        self._update_model_actions()

    # ============================================================== settings

    def _restore_settings(self) -> None:
        s = self._settings
        geometry = s.value(keys.GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        pen = keys.read_float(s, keys.PEN_WIDTH, DEFAULT_PEN_WIDTH, MIN_PEN_WIDTH, MAX_PEN_WIDTH)
        self.pen_slider.setValue(round(pen * 1000))
        self.canvas.set_pen_width(pen)
        self.training_panel.restore_settings(s)

    def _save_settings(self) -> None:
        s = self._settings
        s.setValue(keys.GEOMETRY, self.saveGeometry())
        s.setValue(keys.PEN_WIDTH, self.canvas.pen_width())
        self.training_panel.save_settings(s)
        s.sync()

    # ========================================================== model loading

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._auto_load and not self._load_started:
            self._load_started = True
            self._load_timer.start()

    @Slot()
    def start_loading_model(self) -> None:
        """Import torch and load the start-up model on a QThread (once)."""
        self._load_started = True
        if self._closing or self._loader_thread is not None or self._model is not None:
            return
        self._loader = ModelLoader()
        self._loader_thread = new_thread("digitpad-model-loader")
        self._loader.moveToThread(self._loader_thread)
        self._loader_thread.started.connect(self._loader.run)
        self._loader.loaded.connect(self._on_model_loaded)
        self._loader.failed.connect(self._on_model_failed)
        self._loader_thread.finished.connect(self._on_loader_thread_finished)
        self._loader_thread.start()

    def model(self) -> LoadedModel | None:
        """The model in use, or None while loading (or if none could be loaded)."""
        return self._model

    def is_training(self) -> bool:
        return self._train_thread is not None

    @Slot(str)
    def _on_status_message_changed(self, message: str) -> None:
        # A long message is cut at the window's edge; hovering shows all of it.
        self.statusBar().setToolTip(message)

    @Slot(object, object)
    def _on_model_loaded(self, model: LoadedModel, notes: list[str]) -> None:
        if self._closing:
            return
        # The user may have opened a model while the start-up one loaded.
        if self._model is None:
            self.statusBar().showMessage(" ".join(notes) if notes else "Ready. Draw a digit.")
            self._use_model(model, history=True)

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        if self._closing:
            return
        self._model_failed = True
        self.model_label.setText("Model in use: none. Train one, or open one from File › Open model.")
        self.statusBar().showMessage(message)
        self._show_prediction(None)
        self.model_failed.emit(message)

    @Slot()
    def _on_loader_thread_finished(self) -> None:
        if self._loader_thread is not None:
            self._loader_thread.wait()
        self._loader_thread = None
        self._loader = None

    def _use_model(self, model: LoadedModel, history: bool) -> None:
        # Predictions run on this thread: one image, one intra-op thread.
        pin_torch_threads(1)
        self._model = model
        self._model_failed = False
        self.model_label.setText(model.describe_lines())
        self.model_label.setToolTip(str(model.path) if model.path else "")
        if history and not self.is_training():
            self.training_panel.metrics_plot.set_history(getattr(model.checkpoint, "history", None))
        self.training_panel.set_model_in_use(model.name, model.model_config)
        self._update_model_actions()
        self._predict_now()
        self.model_changed.emit(model.describe())

    # ============================================================= predicting

    @Slot()
    def _predict_now(self) -> None:
        if self._closing:
            return
        if self.canvas.is_empty():
            self._show_prediction(None)
            return
        if self._model is None:
            self._show_pending()
            return
        started = time.perf_counter()
        try:
            prediction = self._model.classifier.predict_strokes(self.canvas.strokes(include_current=True))
        except Exception as error:  # never let one bad drawing break the app
            log.exception("prediction failed")
            self.statusBar().showMessage(f"Could not classify this drawing: {error}")
            return
        self._show_prediction(prediction)
        # On a slow machine, space live predictions out so they take at most
        # 1/LIVE_PREDICTION_SHARE of the GUI thread and the ink never lags behind the pen.
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self.canvas.set_live_interval(LIVE_PREDICTION_SHARE * elapsed_ms)

    def _set_prediction_text(self, text: str, big: bool, color: str = "") -> None:
        # A new font or colour only when they change. The colour goes through the
        # palette: a style sheet would re-polish the label each time.
        if self._prediction_style != (big, color):
            self._prediction_style = (big, color)
            font = QFont()
            font.setPointSize(64 if big else 16)
            font.setBold(big)
            self.prediction_label.setFont(font)
            palette = self.prediction_label.palette()
            palette.setColor(QPalette.ColorRole.WindowText, QColor(color or "gray"))
            self.prediction_label.setPalette(palette)
        self.prediction_label.setText(text)

    def _show_pending(self) -> None:
        waiting = "No model loaded" if self._model_failed else "Loading the model…"
        self._set_prediction_text("", big=False)
        self.confidence_label.setText(waiting)
        self._set_preview(None)
        self.bars.set_probabilities(None)
        self.prediction_updated.emit()

    def _show_prediction(self, prediction: Any) -> None:
        if prediction is None:
            self._set_prediction_text(HINT, big=False)
            self.confidence_label.setText("")
            self._set_preview(None)
            self.bars.set_probabilities(None)
            self.prediction_updated.emit()
            return
        digit = int(prediction.digit)
        probabilities = np.asarray(prediction.probabilities, dtype=float)
        if prediction.unsure:
            runner_up = prediction.runner_up
            self._set_prediction_text(f"{digit}?", big=True, color=UNSURE_COLOR.name())
            self.confidence_label.setText(
                f"unsure: {prediction.confidence * 100:.0f} %\nmaybe {runner_up} ({probabilities[runner_up] * 100:.0f} %)"
            )
        else:
            self._set_prediction_text(str(digit), big=True, color=HIGHLIGHT_COLOR.name())
            self.confidence_label.setText(f"{prediction.confidence * 100:.1f} % sure")
        self._set_preview(getattr(prediction, "model_input", None))
        self.bars.set_probabilities(probabilities, highlight=digit, unsure=bool(prediction.unsure))
        self.prediction_updated.emit()

    def _set_preview(self, image: np.ndarray | None) -> None:
        if image is None:
            pixels = self._blank_preview
        else:
            small = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5
            # Nearest-neighbour enlargement, so each model pixel stays a crisp square.
            pixels = small.astype(np.uint8).repeat(PREVIEW_SCALE, axis=0).repeat(PREVIEW_SCALE, axis=1)
        height, width = pixels.shape
        qimage = QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8)
        self.preview.setPixmap(QPixmap.fromImage(qimage))

    # ================================================================ editing

    @Slot(int)
    def _on_pen_width_changed(self, value: int) -> None:
        self.canvas.set_pen_width(value / 1000.0)

    @Slot()
    def _update_edit_buttons(self) -> None:
        has_ink = not self.canvas.is_empty()
        self.undo_button.setEnabled(has_ink)
        self.clear_button.setEnabled(has_ink)
        if hasattr(self, "undo_action"):
            self.undo_action.setEnabled(has_ink)

    # =============================================================== training

    @Slot()
    def start_training(self) -> None:
        """What the Train button does: check settings and data, then train on a QThread."""
        if self.is_training() or self._closing:
            return
        try:
            config = self.training_panel.build_train_config()
        except ConfigError as error:
            self._show_error("Check the training settings", f"The training settings are not valid: {error}.")
            return
        self._save_settings()

        folder, note = self._data_dir()
        # A folder given in the environment is used as it is, never downloaded into unasked.
        if os.environ.get(DATA_DIR_ENV) or self._has_mnist(folder):
            self._launch_worker(config, folder, download=False, note=note)
            return
        self.training_panel.train_button.setEnabled(False)
        missing = f"MNIST is not in {folder}."
        self.statusBar().showMessage(f"{note} {missing}" if note else missing)
        data_dialog.ask_data_source(
            self, folder, lambda answer: self._on_data_answer(answer, config, folder), note=note
        )

    def _data_dir(self) -> tuple[Path, str]:
        """The MNIST folder to look in: the environment's, else the remembered one, else the default;
        plus a note ('' if none) saying that the remembered folder has gone."""
        from digitpad import paths

        from_env = os.environ.get(DATA_DIR_ENV)
        if from_env:
            return Path(from_env).expanduser(), ""
        default = paths.default_data_dir()
        remembered = keys.read_str(self._settings, keys.DATA_DIR, "")
        if not remembered:
            return default, ""
        folder = Path(remembered)
        if folder.is_dir() or folder == default:
            return folder, ""
        # Deleted, or on a drive that is not connected: never offer to download into a path that is not there.
        return default, (
            f"The MNIST folder used before, {folder}, is not there any more "
            "(deleted, moved, or on a drive that is not connected)."
        )

    @staticmethod
    def _has_mnist(folder: Path) -> bool:
        from digitpad.data import locate_mnist

        try:
            return folder.is_dir() and locate_mnist(folder) is not None
        except OSError:
            return False

    def _on_data_answer(self, answer: str, config: TrainConfig, folder: Path) -> None:
        if self._closing:
            return
        self.training_panel.train_button.setEnabled(not self.is_training())
        if answer == data_dialog.DOWNLOAD:
            self._settings.setValue(keys.DATA_DIR, str(folder))
            self._launch_worker(config, folder, download=True)
        elif answer == data_dialog.CHOOSE:
            chosen = data_dialog.choose_folder(self, folder)
            if chosen is None:
                self.statusBar().showMessage("Training cancelled: no MNIST folder chosen.")
                return
            if not self._has_mnist(chosen):
                self._show_error(
                    "No MNIST there",
                    f"{chosen} does not hold MNIST. It needs train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may be .gz), directly or in MNIST/raw.",
                )
                return
            self._settings.setValue(keys.DATA_DIR, str(chosen))
            self._launch_worker(config, chosen, download=False)
        else:
            self.statusBar().showMessage("Training cancelled.")

    def _launch_worker(self, config: TrainConfig, folder: Path, download: bool, note: str = "") -> None:
        initial_state = initial_history = None
        if self.training_panel.continuing() and self._model is not None:
            initial_state = self._model.copy_of_weights()
            initial_history = getattr(self._model.checkpoint, "history", None)
        worker = TrainingWorker(config, folder, download=download, initial_state=initial_state,
                                initial_history=initial_history)
        thread = new_thread("digitpad-training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.data_progressed.connect(self._on_data_progressed)
        worker.data_loaded.connect(self._on_data_loaded)
        worker.batch_progressed.connect(self._on_batch_progressed)
        worker.validated.connect(self._on_validated)
        worker.finished.connect(self._on_training_finished)
        worker.cancelled.connect(self._on_training_cancelled)
        worker.data_failed.connect(self._on_data_failed)
        worker.failed.connect(self._on_training_failed)
        thread.finished.connect(self._on_training_thread_finished)
        self._worker, self._train_thread = worker, thread

        self._batches_seen = self._stopping = False
        self.training_panel.metrics_plot.reset()
        self.training_panel.set_training(True)
        self.training_panel.show_busy("Downloading MNIST…" if download else "Loading MNIST…")
        what = "Continuing" if initial_state is not None else "Training a new"
        starting = f"{what} {config.model.describe()} for {config.epochs} epoch(s)…"
        self.statusBar().showMessage(f"{note} Using MNIST from {folder}. {starting}" if note else starting)
        thread.start()
        self.training_started.emit()

    @Slot()
    def stop_training(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._stopping = True
            self.training_panel.stop_button.setEnabled(False)
            if not self._batches_seen:
                self.statusBar().showMessage("Stopping…")
                return
            # fit() measures the stopped model on the 10,000 test digits: a few seconds.
            self.training_panel.show_busy("Stopping: testing the model so far…")
            self.statusBar().showMessage("Stopping after this batch, then testing the model trained so far…")

    @Slot(int, int)
    def _on_data_progressed(self, done: int, total: int) -> None:
        self.training_panel.show_download(done, total)

    @Slot(int, int)
    def _on_data_loaded(self, train_count: int, test_count: int) -> None:
        self.training_panel.show_busy("Starting…")
        self.statusBar().showMessage(f"Training on {train_count:,} MNIST digits; testing on {test_count:,}.")

    @Slot(object, object)
    def _on_batch_progressed(self, progress: Any, points: list) -> None:
        if self._closing:
            return
        self._batches_seen = True
        self.training_panel.show_batch_progress(progress, points, stopping=self._stopping)

    @Slot(object)
    def _on_validated(self, result: Any) -> None:
        if self._closing:
            return
        self.training_panel.metrics_plot.add_validation(result.global_step, result.loss, result.accuracy)
        if self._stopping:
            return
        self.statusBar().showMessage(
            f"Epoch {result.epoch}: validation accuracy {result.accuracy * 100:.2f} %, loss {result.loss:.4f}"
        )

    @Slot(object)
    def _on_training_finished(self, result: Any) -> None:
        if self._closing:
            return
        from digitpad.runs import keep_result

        self.training_panel.show_finished()
        self.training_panel.metrics_plot.set_history(result.history)
        current = self._model.test_accuracy if self._model is not None else None
        try:
            kept = keep_result(result, current_accuracy=current)
        except Exception as error:
            log.exception("could not use the trained model")
            self._show_error("Training finished, but…", f"The trained model could not be used: {error}")
            return
        if kept.learned_nothing:
            self.training_panel.set_progress_text("Stopped")
            self.statusBar().showMessage("Training stopped before the first batch; the model in use is unchanged.")
            return
        if not kept.saved:
            # What was learned stays usable all the same, and File › Save can keep it.
            self._show_error("Could not save the trained model",
                             f"{kept.save_problem} The trained model is still usable: File › Save model can save it elsewhere.")
        accuracy = f"{result.test_accuracy * 100:.2f} %"
        if not kept.adopted:
            # A run cut short must not silently replace a better model.
            self.training_panel.set_progress_text(f"Stopped · {accuracy}")
            where = f"saved as {kept.path}" if kept.saved else "not saved"
            self.statusBar().showMessage(
                f"Stopped. The partly trained model ({accuracy}) is less accurate than the one in use "
                f"({current * 100:.2f} %), so the model in use stays; the new one was {where}."
            )
            return
        self._use_model(model_from_checkpoint(kept.checkpoint, kept.path), history=False)
        note = f" It could not be recorded for the next start ({kept.record_problem})." if kept.record_problem else ""
        self.training_panel.set_progress_text(("Stopped" if result.stopped else "Done") + f" · test accuracy {accuracy}")
        verb = "Stopped early; the partly trained" if result.stopped else "Training finished. The new"
        self.statusBar().showMessage(f"{verb} model is now in use: test accuracy {accuracy}.{note}")

    def _remember_current_model(self, path: Path) -> str:
        """Record ``path`` as the model for the next start; '' or a note saying why that failed."""
        from digitpad import paths

        try:
            paths.set_current_model(path)
        except OSError as error:
            log.warning("could not record the current model %s: %s", path, error)
            return f" It could not be recorded for the next start ({error.strerror or error})."
        return ""

    @Slot()
    def _on_training_cancelled(self) -> None:
        if self._closing:
            return
        self.training_panel.reset_progress("Cancelled")
        self.statusBar().showMessage("Training cancelled before it began; the model in use is unchanged.")

    @Slot(str)
    def _on_data_failed(self, message: str) -> None:
        if self._closing:
            return
        self.training_panel.reset_progress("No data")
        self._show_error("MNIST could not be loaded", message)
        self.statusBar().showMessage("Training did not start: MNIST could not be loaded.")

    @Slot(str)
    def _on_training_failed(self, message: str) -> None:
        if self._closing:
            return
        self.training_panel.reset_progress("Failed")
        self._show_error("Training failed", message)
        self.statusBar().showMessage("Training failed; the model in use is unchanged.")

    @Slot()
    def _on_training_thread_finished(self) -> None:
        thread = self._train_thread
        if thread is not None:
            # `finished` is emitted just before the thread really ends.
            thread.wait()
        self._train_thread = None
        self._worker = None
        if self._closing:
            return
        if self.training_panel.is_busy():
            self.training_panel.reset_progress("Not training")
        self.training_panel.set_training(False)
        self.training_ended.emit()

    # ================================================================= models

    def _update_model_actions(self) -> None:
        self.save_action.setEnabled(self._model is not None)

    def _model_folder(self) -> str:
        from digitpad import paths

        remembered = keys.read_str(self._settings, keys.LAST_MODEL_FOLDER, "")
        if remembered and Path(remembered).is_dir():
            return remembered
        return str(paths.models_dir())

    @Slot()
    def _on_open_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self._model_folder(), MODEL_FILTER)
        if path:
            self.open_model(Path(path))

    @Slot()
    def _on_save_triggered(self) -> None:
        if self._model is None:
            return
        suggested = str(Path(self._model_folder()) / f"{self._model.name}.pt")
        path, _ = QFileDialog.getSaveFileName(self, "Save model", suggested, MODEL_FILTER)
        if path:
            self.save_model(Path(path))

    def open_model(self, path: Path) -> bool:
        """Use the model in ``path``; a bad file shows its problem and changes nothing."""
        from digitpad.checkpoint import CheckpointError

        try:
            model = load_model_file(path)
        except CheckpointError as error:
            self._show_error("Could not open the model", str(error))
            return False
        except Exception as error:  # anything unforeseen must still leave the app usable
            log.exception("opening %s failed", path)
            self._show_error("Could not open the model", f"{path} could not be opened: {error}")
            return False
        self._settings.setValue(keys.LAST_MODEL_FOLDER, str(Path(path).parent))
        self._use_model(model, history=True)
        self.statusBar().showMessage(f"Opened {path}.{self._remember_current_model(path)}")
        return True

    def save_model(self, path: Path) -> bool:
        from digitpad import checkpoint

        if self._model is None:
            return False
        if path.suffix == "":
            path = path.with_suffix(".pt")
        try:
            checkpoint.save(self._model.checkpoint, path)
        except checkpoint.CheckpointError as error:
            self._show_error("Could not save the model", str(error))
            return False
        self._settings.setValue(keys.LAST_MODEL_FOLDER, str(path.parent))
        self.statusBar().showMessage(f"Saved the model to {path}.")
        return True

    @Slot()
    def revert_to_shipped_model(self) -> bool:
        from digitpad import paths
        from digitpad.checkpoint import CheckpointError

        shipped = paths.shipped_model_path()
        try:
            model = load_model_file(shipped)
        except CheckpointError as error:
            self._show_error("Could not load the shipped model", str(error))
            return False
        self._use_model(model, history=True)
        self.statusBar().showMessage(f"Using the shipped model again.{self._remember_current_model(shipped)}")
        return True

    # ================================================================ dialogs

    @Slot()
    def show_about(self) -> QMessageBox:
        """Help › About: the version, where digitpad keeps its files (links open them) and what it runs on."""
        from digitpad import paths

        def place(path: Path) -> str:
            """The path as a link to its folder (a file's own link would open it in some other app)."""
            text = html.escape(str(path))
            try:
                if not path.exists():
                    return f"{text} (not created yet)"
                folder = path if path.is_dir() else path.parent
            except OSError as error:  # e.g. a folder on the way that this user may not read
                return f"{text} ({html.escape(error.strerror or str(error))})"
            return f'<a href="{QUrl.fromLocalFile(str(folder)).toString()}">{text}</a>'

        if self._model is None:
            model = "none loaded yet"
        elif self._model.path is None:
            model = f"{html.escape(self._model.name)} (not saved)"
        else:
            model = f"{html.escape(self._model.name)}: {place(self._model.path)}"
        rows = [
            ("Model in use", model),
            ("Your models", place(paths.models_dir())),
            ("MNIST", place(self._data_dir()[0])),
            ("Settings", place(Path(self._settings.fileName()))),
        ]
        table = "".join(f"<tr><td><b>{name}</b>&nbsp;&nbsp;</td><td>{value}</td></tr>" for name, value in rows)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About digitpad", "", QMessageBox.StandardButton.Ok, self)
        box.setObjectName("about_dialog")
        if not self.windowIcon().isNull():
            box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        box.setText(
            f"<h3>digitpad {__version__}</h3>"
            "<p>Draw a digit and watch a neural network read it.<br>"
            "Train that network on MNIST and watch it learn.</p>"
            f"<table>{table}</table>"
            f"<p style='color: gray;'>{html.escape(_versions())}</p>"
        )
        box.open()
        return box

    def _show_error(self, title: str, text: str) -> QMessageBox:
        """A window-modal, non-blocking message; the app keeps running behind it."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("error_dialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    # ================================================================ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self._save_settings()
            self._load_timer.stop()
            for box in self.findChildren(QMessageBox):
                box.close()
            if self._worker is not None:
                self._worker.stop()
            # Join every thread: the trainer stops within a batch, the loader finishes its load.
            for thread in (self._train_thread, self._loader_thread):
                if thread is not None:
                    thread.quit()
                    thread.wait()
            self._train_thread = self._worker = None
            self._loader_thread = self._loader = None
        event.accept()
        super().closeEvent(event)


def _versions() -> str:
    """What the app runs on, read from the installed packages' metadata: torch itself is not imported for this."""
    from importlib import metadata

    found = [f"Python {platform.python_version()}", f"Qt {qVersion()}"]
    for package, name in [("PySide6", "PySide6"), ("torch", "PyTorch"), ("torchvision", "torchvision"),
                          ("numpy", "numpy"), ("pyqtgraph", "pyqtgraph")]:
        try:
            found.append(f"{name} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)

