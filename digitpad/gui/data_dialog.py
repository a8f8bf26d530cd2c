"""Asking where MNIST is: download it, or pick a folder that already holds it.

The question is a window-modal but non-blocking QMessageBox (``open()``), so
the event loop, the canvas and any test keep running while it is up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

DOWNLOAD = "download"
CHOOSE = "choose"
CANCEL = "cancel"

MNIST_SIZE_TEXT = "about 11 MB"


def choose_folder(parent: QWidget, start: Path) -> Path | None:
    """A native folder picker; tests replace this function."""
    folder = QFileDialog.getExistingDirectory(parent, "Choose the folder that holds MNIST", str(start))
    return Path(folder) if folder else None


def ask_data_source(parent: QWidget, folder: Path, answered: Callable[[str], None], note: str = "") -> QMessageBox:
    """Ask whether to download MNIST into ``folder`` or choose another folder.

    ``note``, if given, comes first (e.g. that the folder used before has gone).
    ``answered`` gets DOWNLOAD, CHOOSE or CANCEL once the user picks.
    """
    box = QMessageBox(parent)
    box.setObjectName("data_dialog")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("MNIST is needed for training")
    box.setText("Training needs the MNIST digits, and they are not on this computer yet.")
    box.setInformativeText(
        (f"{note}\n\n" if note else "")
        + f"digitpad can download them ({MNIST_SIZE_TEXT}) into\n{folder}\n\n"
        "or use a folder that already holds them (the four .gz files, or torchvision's MNIST/raw layout)."
    )
    download = box.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
    download.setObjectName("download_button")
    choose = box.addButton("Choose folder…", QMessageBox.ButtonRole.ActionRole)
    choose.setObjectName("choose_folder_button")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(download)
    box.setEscapeButton(cancel)

    def finish() -> None:
        clicked = box.clickedButton()
        answer = DOWNLOAD if clicked is download else CHOOSE if clicked is choose else CANCEL
        box.deleteLater()
        answered(answer)

    box.finished.connect(finish)
    box.open()
    return box
