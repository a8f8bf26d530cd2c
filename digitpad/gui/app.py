"""Start the app: the window is shown first; torch and the model load after, on a thread."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from digitpad import __version__, paths
from digitpad.gui import collector, settings, startup_trace

ICON_NAME = "icon.svg"


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
    icon = paths.resource_path(ICON_NAME)
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def _close_on_ctrl_c(window) -> QTimer:
    """Ctrl+C in the terminal closes the window properly (threads joined, settings saved).

    Python runs signal handlers only between bytecodes, so a slow timer gives it the chance.
    """
    try:
        signal.signal(signal.SIGINT, lambda *_: window.close())
    except ValueError:  # not the main thread: leave Ctrl+C alone
        pass
    ticker = QTimer(window)
    ticker.setObjectName("signal_ticker")
    ticker.start(250)
    ticker.timeout.connect(lambda: None)
    return ticker


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes; returns the exit status."""
    startup_trace.mark("app_main")
    # The imports and widgets make many objects; no collector passes meanwhile (see collector.py).
    with collector.paused_and_frozen():
        app = create_application(argv)
        from digitpad.gui.main_window import MainWindow

        window = MainWindow()
        window.show()
    startup_trace.mark("window_shown")
    if startup_trace.enabled():
        startup_trace.install(window)
    # MainWindow starts loading torch and the model once it has been shown.
    previous = signal.getsignal(signal.SIGINT)
    ticker = _close_on_ctrl_c(window)
    try:
        status = app.exec()
    finally:
        ticker.stop()
        if previous is not None:
            try:
                signal.signal(signal.SIGINT, previous)
            except ValueError:
                pass
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
