"""Start the app: the window is shown first; torch and the model load after, on a thread."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QtMsgType, Qt, QTimer, qInstallMessageHandler
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from digitpad import __version__, paths
from digitpad.gui import collector, display_check, saved_settings, startup_trace

ICON_NAME = "icon.svg"


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        with _window_system_failure_exits_cleanly():
            app = QApplication(_qt_argv(argv))
    app.setOrganizationName(saved_settings.ORGANIZATION)
    app.setApplicationName(saved_settings.APPLICATION)
    app.setApplicationDisplayName("digitpad")
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    icon = paths.resource_path(ICON_NAME)
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def _qt_argv(argv: Sequence[str] | None) -> list[str]:
    return list(argv) if argv is not None else sys.argv[:1]


def window_problem(argv: Sequence[str] | None = None) -> str | None:
    """Why Qt could not open a window here (one paragraph), or None; see display_check."""
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    return display_check.window_problem(_qt_argv(argv), os.environ, plugins)


@contextmanager
def _window_system_failure_exits_cleanly() -> Iterator[None]:
    """If Qt's window system fails to start after all, say so and exit 1 instead of Qt's abort.

    Qt reports that failure as a fatal message and then aborts the process;
    its handler is the last moment to end it cleanly. Qt's other messages from
    start-up are printed as usual, once it is over.
    """
    held: list[str] = []

    def handler(kind, context, message: str) -> None:
        if kind == QtMsgType.QtFatalMsg:
            sys.stderr.write(display_check.describe_qt_failure(held, message) + "\n")
            sys.stderr.flush()
            os._exit(1)
        category = context.category if context is not None else None
        held.append(f"{category}: {message}" if category and category != "default" else message)

    previous = qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)
        for message in held:
            print(message, file=sys.stderr)


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
    if QApplication.instance() is None:
        # Qt aborts the process when it cannot open a window; find out first, and say why.
        problem = window_problem(argv)
        if problem:
            display_check.release_probes()
            print(problem, file=sys.stderr)
            return 1
        startup_trace.mark("window_checked")
    # The imports and widgets make many objects; no collector passes meanwhile (see collector.py).
    with collector.paused_and_frozen():
        try:
            app = create_application(argv)
        finally:
            display_check.release_probes()
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
