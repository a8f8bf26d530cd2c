"""A register of the app's QThreads, kept by the tests, not by the app.

``track()`` makes ``digitpad.gui.threads`` build every thread from a subclass
that registers itself, so a test (or a benchmark) can check that none is left
running.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QThread

_threads: weakref.WeakSet[QThread] = weakref.WeakSet()


class TrackedThread(QThread):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _threads.add(self)


def track() -> None:
    """From now on, every thread the app starts is registered (idempotent)."""
    from digitpad.gui import threads

    threads.QThread = TrackedThread


def new_thread(name: str) -> QThread:
    thread = TrackedThread()
    thread.setObjectName(name)
    return thread


def running_threads() -> list[QThread]:
    return [thread for thread in list(_threads) if thread.isRunning()]
