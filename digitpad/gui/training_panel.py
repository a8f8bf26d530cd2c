"""The Training group: the settings that make a TrainConfig, Train, Teach and Stop, the progress bar and the curves.

It holds no training logic: MainWindow runs the training and tells the panel
what happens (``set_training``, ``show_batch_progress``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from digitpad.config import DEVICES, ConfigError, ModelConfig, TrainConfig, parse_sizes
from digitpad.gui import saved_settings
from digitpad.gui.saved_settings import read_bool, read_float, read_int, read_str
from digitpad.gui.plots import MetricsPlot

if TYPE_CHECKING:
    from digitpad.training import BatchProgress

# Learning rates offered by the arrow keys: 1-2-5 steps, any value can be typed.
_LR_STEPS = [m * 10.0**e for e in range(-5, 1) for m in (1, 2, 5) if m * 10.0**e <= 1.0]


class LearningRateSpinBox(QDoubleSpinBox):
    """Steps through 1-2-5 values, since learning rates live on a log scale."""

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if steps > 0:
            bigger = [v for v in _LR_STEPS if v > value * 1.0001]
            target = bigger[min(steps, len(bigger)) - 1] if bigger else self.maximum()
        else:
            smaller = [v for v in _LR_STEPS if v < value * 0.9999]
            target = smaller[-min(-steps, len(smaller))] if smaller else self.minimum()
        self.setValue(target)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"


class LabelledProgressBar(QProgressBar):
    """A progress bar that keeps its text while busy (range 0..0), where QProgressBar drops it.

    The busy phases (loading MNIST, testing a stopped model) are the ones where
    the words say most.
    """

    def text(self) -> str:
        if self.minimum() == 0 and self.maximum() == 0:
            return self.format()
        return super().text()


# How the Training group names each of config.DEVICES.
DEVICE_NAMES = {"auto": "Auto", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple GPU (MPS)"}


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class TrainingPanel(QGroupBox):
    """How to train, the Train and Stop buttons, the progress bar and the live curves."""

    # A network picked by the user brought its own settings: a line saying which.
    defaults_applied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Training", parent)
        # The model in use, which "Continue" trains further: its name and its architecture.
        self._model_name = ""
        self._model_config: ModelConfig | None = None
        self._training = False
        layout = QVBoxLayout(self)
        defaults = TrainConfig()

        start = QHBoxLayout()
        self.fresh_radio = QRadioButton("Start a new model")
        self.fresh_radio.setObjectName("fresh_radio")
        self.fresh_radio.setToolTip("Train a new network with the settings below, from random weights")
        self.continue_radio = QRadioButton("Continue the model in use")
        self.continue_radio.setObjectName("continue_radio")
        self.continue_radio.setToolTip("Keep training the model in use, with its architecture")
        self.fresh_radio.setChecked(True)
        self._start_group = QButtonGroup(self)
        self._start_group.addButton(self.fresh_radio)
        self._start_group.addButton(self.continue_radio)
        self.continue_radio.toggled.connect(self._update_arch_controls)
        start.addWidget(self.fresh_radio)
        start.addWidget(self.continue_radio)
        start.addStretch(1)
        layout.addLayout(start)

        form_row = QHBoxLayout()
        left = QFormLayout()
        right = QFormLayout()
        for form in (left, right):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.arch_combo = QComboBox()
        self.arch_combo.setObjectName("arch_combo")
        self.arch_combo.addItem("CNN", "cnn")
        self.arch_combo.addItem("Deep CNN", "vgg")
        self.arch_combo.addItem("MLP", "mlp")
        self.arch_combo.setToolTip("CNN: two convolution layers (the default, quickest to train).\n"
                                   "Deep CNN: four smaller convolution layers, as the shipped model;\n"
                                   "1.7 times the work, reads drawn digits best.\n"
                                   "MLP: the study note's fully connected network.")
        self.arch_combo.currentIndexChanged.connect(self._update_arch_controls)
        self.arch_combo.activated.connect(self._apply_arch_defaults)
        self.hidden_edit = QLineEdit(",".join(str(h) for h in defaults.model.hidden))
        self.hidden_edit.setObjectName("hidden_edit")
        self.hidden_edit.setToolTip("The MLP's hidden layer sizes, comma separated (each 1–8192)")
        self.hidden_edit.setPlaceholderText("512,256")
        self.dropout_spin = QDoubleSpinBox()
        self.dropout_spin.setObjectName("dropout_spin")
        self.dropout_spin.setRange(0.0, 0.9)
        self.dropout_spin.setSingleStep(0.05)
        self.dropout_spin.setDecimals(2)
        self.dropout_spin.setValue(defaults.model.dropout)
        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("optimizer_combo")
        self.optimizer_combo.addItem("Adam", "adam")
        self.optimizer_combo.addItem("SGD (momentum)", "sgd")
        left.addRow("Network", self.arch_combo)
        left.addRow("Hidden sizes", self.hidden_edit)
        left.addRow("Dropout", self.dropout_spin)
        left.addRow("Optimizer", self.optimizer_combo)

        self.lr_spin = LearningRateSpinBox()
        self.lr_spin.setObjectName("lr_spin")
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.00001, 1.0)
        self.lr_spin.setValue(defaults.lr)
        self.lr_spin.setToolTip("Peak learning rate (arrows step 1-2-5)")
        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batch_size_spin")
        self.batch_spin.setRange(8, 4096)
        self.batch_spin.setValue(defaults.batch_size)
        self.batch_spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochs_spin")
        self.epochs_spin.setRange(1, 100)
        self.epochs_spin.setValue(defaults.epochs)
        self.augment_check = QCheckBox()
        self.augment_check.setObjectName("augment_check")
        self.augment_check.setToolTip("Randomly distort training digits so the model copes with hand drawing, "
                                      "and flag some 1s, cross some 7s and slash some 0s as many people write them")
        self.augment_check.setChecked(defaults.augment)
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("device_combo")
        for choice in DEVICES:
            self.device_combo.addItem(DEVICE_NAMES[choice], choice)
        self.device_combo.setCurrentIndex(self.device_combo.findData(defaults.device))
        self.device_combo.setToolTip("Where to train: Auto takes a CUDA GPU if there is one, then Apple's GPU, "
                                     "else the CPU")
        # The devices this machine has, once the model loader has looked (set_available_devices).
        self._available_devices: tuple[str, ...] | None = None
        right.addRow("Learning rate", self.lr_spin)
        right.addRow("Batch size", self.batch_spin)
        right.addRow("Epochs", self.epochs_spin)
        right.addRow("Augment", self.augment_check)
        right.addRow("Device", self.device_combo)
        form_row.addLayout(left, 1)
        form_row.addSpacing(8)
        form_row.addLayout(right, 1)
        layout.addLayout(form_row)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("train_button")
        self.train_button.setToolTip("Train on MNIST with these settings")
        self.train_button.setDefault(False)
        self.teach_button = QPushButton("Teach")
        self.teach_button.setObjectName("teach_button")
        self.teach_button.setToolTip("Fine-tune the model in use on your drawings in My digits, mixed with MNIST")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.setToolTip("Stop after the current batch and keep what was learned")
        self.train_progress = LabelledProgressBar()
        self.train_progress.setObjectName("train_progress")
        self.train_progress.setAccessibleName("Training progress")
        self.train_progress.setToolTip("Epoch, batch within the epoch, and the time left")
        self.train_progress.setTextVisible(True)
        self.reset_progress("Not training")
        self.train_progress.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.teach_button)
        buttons.addWidget(self.stop_button)
        layout.addLayout(buttons)
        # A row of its own: its texts ("Epoch 2/3 · 180/430 · 0:41 left") need the panel's width.
        layout.addWidget(self.train_progress)

        self.metrics_plot = MetricsPlot(self)
        self.metrics_plot.setMinimumHeight(220)
        layout.addWidget(self.metrics_plot, 1)

        self.set_training(False)

    # ================================================================ state

    def set_model_in_use(self, name: str, model_config: ModelConfig) -> None:
        self._model_name, self._model_config = name, model_config
        self._update_arch_controls()

    def set_training(self, training: bool) -> None:
        """Lock the settings while a run trains; Stop only then."""
        self._training = training
        self.train_button.setEnabled(not training)
        self.teach_button.setEnabled(not training)
        self.stop_button.setEnabled(training)
        self.fresh_radio.setEnabled(not training)
        for widget in (self.optimizer_combo, self.lr_spin, self.batch_spin, self.epochs_spin, self.augment_check,
                       self.device_combo):
            widget.setEnabled(not training)
        self._update_arch_controls()

    def continuing(self) -> bool:
        """Whether Train goes on with the model in use rather than a new one."""
        return self.continue_radio.isChecked()

    @Slot()
    def _update_arch_controls(self) -> None:
        continuing = self.continuing()
        self.continue_radio.setEnabled(self._model_config is not None and not self._training)
        if continuing and self._model_config is not None:
            self.continue_radio.setText(f"Continue the model in use ({self._model_name})")
        else:
            self.continue_radio.setText("Continue the model in use")
        idle = not self._training
        self.arch_combo.setEnabled(idle and not continuing)
        is_mlp = self.arch_combo.currentData() == "mlp"
        self.hidden_edit.setEnabled(idle and not continuing and is_mlp)
        self.dropout_spin.setEnabled(idle and not continuing)

    @Slot(object)
    def set_available_devices(self, available: tuple[str, ...]) -> None:
        """The devices this machine can train on (devices.available(), looked up off the GUI thread):
        Auto names the one it takes, and the others are marked."""
        self._available_devices = tuple(available)
        items = self.device_combo.model()  # a QStandardItemModel: its items can be disabled
        for index in range(self.device_combo.count()):
            choice = self.device_combo.itemData(index)
            if choice == "auto":
                text = f"Auto ({DEVICE_NAMES[available[0]]})"
            else:
                text = DEVICE_NAMES[choice] + ("" if choice in available else " (not on this machine)")
            self.device_combo.setItemText(index, text)
            items.item(index).setEnabled(choice == "auto" or choice in available)

    def device_summary(self) -> str:
        """The training device, for the About box: e.g. "Auto: CPU (no GPU found)" or "CUDA GPU"."""
        choice = self.device_combo.currentData()
        available = self._available_devices
        if available is None:
            return f"{DEVICE_NAMES[choice]} (the devices are looked up once the model has loaded)"
        if choice == "auto":
            found = [DEVICE_NAMES[name] for name in available if name != "cpu"]
            return f"Auto: {DEVICE_NAMES[available[0]]}" + ("" if found else " (no GPU found)")
        return DEVICE_NAMES[choice] + ("" if choice in available else " (not on this machine: training will fail)")

    @Slot(int)
    def _apply_arch_defaults(self, _index: int) -> None:
        """A network picked by the user brings its own best settings (config.ARCH_TRAINING_DEFAULTS)."""
        defaults = TrainConfig.defaults_for(self.arch_combo.currentData())
        self.lr_spin.setValue(defaults.lr)
        self.batch_spin.setValue(defaults.batch_size)
        self.augment_check.setChecked(defaults.augment)
        self.defaults_applied.emit(
            f"{self.arch_combo.currentText()} defaults: learning rate {defaults.lr:g}, batch size {defaults.batch_size}, "
            f"augmentation {'on' if defaults.augment else 'off'}."
        )

    def build_train_config(self) -> TrainConfig:
        """The panel's settings as a TrainConfig; raises ConfigError with a readable message."""
        if self.continuing():
            if self._model_config is None:
                raise ConfigError("there is no model in use to continue; choose “Start a new model”")
            model_config = self._model_config
        else:
            arch = self.arch_combo.currentData()
            hidden = parse_sizes(self.hidden_edit.text()) if arch == "mlp" else TrainConfig().model.hidden
            model_config = ModelConfig(arch=arch, hidden=hidden, dropout=self.dropout_spin.value())
        return TrainConfig.defaults_for(model_config.arch).with_changes(
            model=model_config,
            optimizer=self.optimizer_combo.currentData(),
            lr=self.lr_spin.value(),
            batch_size=self.batch_spin.value(),
            epochs=self.epochs_spin.value(),
            augment=self.augment_check.isChecked(),
            device=self.device_combo.currentData(),
        )

    # ============================================================= settings

    def restore_settings(self, settings: QSettings) -> None:
        settings.beginGroup(saved_settings.TRAINING_GROUP)
        try:
            self._read_settings(settings)
        finally:
            settings.endGroup()

    def _read_settings(self, group: QSettings) -> None:
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData(read_str(group, "arch", "cnn"))))
        hidden = read_str(group, "hidden", self.hidden_edit.text())
        try:
            ModelConfig(arch="mlp", hidden=parse_sizes(hidden))
            self.hidden_edit.setText(hidden)
        except (ConfigError, ValueError):
            pass
        self.dropout_spin.setValue(read_float(group, "dropout", self.dropout_spin.value(), 0.0, 0.9))
        optimizer_index = self.optimizer_combo.findData(read_str(group, "optimizer", "adam"))
        self.optimizer_combo.setCurrentIndex(max(0, optimizer_index))
        self.lr_spin.setValue(read_float(group, "lr", self.lr_spin.value(), 1e-5, 1.0))
        self.batch_spin.setValue(read_int(group, "batch_size", self.batch_spin.value(), 8, 4096))
        self.epochs_spin.setValue(read_int(group, "epochs", self.epochs_spin.value(), 1, 100))
        self.augment_check.setChecked(read_bool(group, "augment", self.augment_check.isChecked()))
        device_index = self.device_combo.findData(read_str(group, "device", "auto"))
        self.device_combo.setCurrentIndex(max(0, device_index))
        if read_bool(group, "continue", False):
            self.continue_radio.setChecked(True)

    def save_settings(self, settings: QSettings) -> None:
        settings.beginGroup(saved_settings.TRAINING_GROUP)
        try:
            settings.setValue("arch", self.arch_combo.currentData())
            settings.setValue("hidden", self.hidden_edit.text())
            settings.setValue("dropout", self.dropout_spin.value())
            settings.setValue("optimizer", self.optimizer_combo.currentData())
            settings.setValue("lr", self.lr_spin.value())
            settings.setValue("batch_size", self.batch_spin.value())
            settings.setValue("epochs", self.epochs_spin.value())
            settings.setValue("augment", self.augment_check.isChecked())
            settings.setValue("device", self.device_combo.currentData())
            settings.setValue("continue", self.continue_radio.isChecked())
        finally:
            settings.endGroup()

    # ============================================================= progress

    def show_busy(self, text: str) -> None:
        """The progress bar's busy animation, with ``text`` on it (see LabelledProgressBar)."""
        self.train_progress.setRange(0, 0)
        self.train_progress.setFormat(text)

    def reset_progress(self, text: str) -> None:
        self.train_progress.setRange(0, 1)
        self.train_progress.setValue(0)
        self.train_progress.setFormat(text)

    def is_busy(self) -> bool:
        return self.train_progress.maximum() == 0

    def show_download(self, done: int, total: int) -> None:
        """Bytes of MNIST downloaded so far, of ``total`` (0: unknown)."""
        if total > 0:
            self.train_progress.setRange(0, 1000)
            self.train_progress.setValue(min(1000, int(1000 * done / total)))
            self.train_progress.setFormat(f"Downloading MNIST: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.show_busy(f"Downloading MNIST: {done / 1e6:.1f} MB")

    def show_batch_progress(self, progress: BatchProgress, points: list, stopping: bool) -> None:
        """The curves take the new points; the bar shows the epoch, the batch and the time left.

        While ``stopping`` the bar keeps saying so: a late batch must not say otherwise.
        """
        self.metrics_plot.set_run_length(progress.steps_per_epoch, progress.epochs)
        if points:
            steps, losses = zip(*points)
            self.metrics_plot.add_train_points(steps, losses)
        if stopping:
            return
        total = max(1, progress.total_steps)
        self.train_progress.setRange(0, total)
        self.train_progress.setValue(min(total, progress.global_step))
        if progress.global_step >= total:
            # fit() measures the model on the test set after the last batch.
            self.train_progress.setFormat("Testing the trained model…")
            return
        left = progress.elapsed / max(1, progress.global_step) * (total - progress.global_step)
        self.train_progress.setFormat(
            f"Epoch {progress.epoch}/{progress.epochs} · {progress.step}/{progress.steps_per_epoch} · "
            f"{_format_duration(left)} left"
        )

    def show_finished(self) -> None:
        """A full bar: the run is over (its text says how it ended)."""
        self.train_progress.setRange(0, 1)
        self.train_progress.setValue(1)

    def set_progress_text(self, text: str) -> None:
        self.train_progress.setFormat(text)
