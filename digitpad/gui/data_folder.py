"""Which MNIST folder a run uses: the core decides (``paths.mnist_folder``); when
MNIST is not there, the person is asked to download it or to pick a folder that
already holds it, and the folder chosen is remembered in the settings.

The question is a window-modal but non-blocking QMessageBox (``open()``), so
the event loop, the canvas and any test keep running while it is up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from digitpad.gui import saved_settings
from digitpad.gui.messages import show_error

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
    box.setWindowTitle("MNIST is needed")
    box.setText("Training, teaching and the test set need the MNIST digits, and they are not on this computer yet.")
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


# A folder to train from: (folder, whether to download into it, a note for the status line).
Ready = Callable[[Path, bool, str], None]


def current_folder(settings: QSettings):
    """The MNIST folder the next run would use (a ``paths.MnistFolder``)."""
    from digitpad import paths

    return paths.mnist_folder(saved_settings.read_str(settings, saved_settings.DATA_DIR, ""))


def find_mnist(parent: QWidget, settings: QSettings, ready: Ready, declined: Callable[[str], None]) -> str:
    """Call ``ready`` with a folder that holds MNIST, or one to download it into.

    If MNIST is not there the person is asked first, and this returns a status line
    saying so ('' when ``ready`` was called at once); ``declined`` then gets the
    reason ('' or a few words) if they cancel.
    """
    from digitpad.data import holds_mnist

    folder = current_folder(settings)
    if folder.from_environment or holds_mnist(folder.path):
        ready(folder.path, False, folder.note)
        return ""

    def answered(answer: str) -> None:
        if answer == DOWNLOAD:
            settings.setValue(saved_settings.DATA_DIR, str(folder.path))
            ready(folder.path, True, "")
        elif answer == CHOOSE:
            chosen = choose_folder(parent, folder.path)
            if chosen is None:
                declined("no MNIST folder chosen.")
            elif not holds_mnist(chosen):
                show_error(
                    parent, "No MNIST there",
                    f"{chosen} does not hold MNIST. It needs train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may be .gz), directly or in MNIST/raw.",
                )
            else:
                settings.setValue(saved_settings.DATA_DIR, str(chosen))
                ready(chosen, False, "")
        else:
            declined("")

    ask_data_source(parent, folder.path, answered, note=folder.note)
    missing = f"MNIST is not in {folder.path}."
    return f"{folder.note} {missing}" if folder.note else missing
