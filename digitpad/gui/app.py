"""Start the app: the window is shown first; torch and the model load after, on a thread."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from digitpad import __version__
from digitpad.gui import settings


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName(settings.ORGANIZATION)
    app.setApplicationName(settings.APPLICATION)
    app.setApplicationDisplayName("digitpad")
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes; returns the exit status."""
    app = create_application(argv)
    from digitpad.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    # MainWindow starts loading torch and the model once it has been shown.
    status = app.exec()
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
