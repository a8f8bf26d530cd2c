"""Help › About digitpad: the version, where digitpad keeps its files (links open
them) and what it runs on."""

from __future__ import annotations

import html
import platform
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from digitpad import __version__
from digitpad.gui.model_loader import LoadedModel


def _place(path: Path) -> str:
    """The path as a link to its folder (a file's own link would open it in some other app)."""
    text = html.escape(str(path))
    try:
        if not path.exists():
            return f"{text} (not created yet)"
        folder = path if path.is_dir() else path.parent
    except OSError as error:  # e.g. a folder on the way that this user may not read
        return f"{text} ({html.escape(error.strerror or str(error))})"
    return f'<a href="{QUrl.fromLocalFile(str(folder)).toString()}">{text}</a>'


def versions() -> str:
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


def show_about(parent: QWidget, model: LoadedModel | None, mnist_folder: Path, settings_file: Path,
               training_device: str) -> QMessageBox:
    """Open the About box (non-blocking) and return it."""
    from digitpad import paths

    if model is None:
        model_text = "none loaded yet"
    elif model.path is None:
        model_text = f"{html.escape(model.name)} (not saved)"
    else:
        model_text = f"{html.escape(model.name)}: {_place(model.path)}"
    rows = [
        ("Model in use", model_text),
        ("Your models", _place(paths.models_dir())),
        ("MNIST", _place(mnist_folder)),
        ("Settings", _place(settings_file)),
        ("Training device", html.escape(training_device)),
    ]
    table = "".join(f"<tr><td><b>{name}</b>&nbsp;&nbsp;</td><td>{value}</td></tr>" for name, value in rows)
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About digitpad", "", QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("about_dialog")
    if not parent.windowIcon().isNull():
        box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.setText(
        f"<h3>digitpad {__version__}</h3>"
        "<p>Draw a digit and watch a neural network read it.<br>"
        "Train that network on MNIST and watch it learn.</p>"
        f"<table>{table}</table>"
        f"<p style='color: gray;'>{html.escape(versions())}</p>"
    )
    box.open()
    return box
