"""Message boxes that never block: the app keeps running behind them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def _open_box(parent: QWidget, icon: QMessageBox.Icon, name: str, title: str, text: str) -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName(name)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def show_error(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A window-modal warning, opened with ``open()`` so the event loop goes on."""
    return _open_box(parent, QMessageBox.Icon.Warning, "error_dialog", title, text)


def show_information(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A window-modal note (not an error), opened with ``open()`` so the event loop goes on."""
    return _open_box(parent, QMessageBox.Icon.Information, "information_dialog", title, text)
