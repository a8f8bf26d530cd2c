"""Every QThread the app starts goes through here, so tests can check none is left running."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QThread

_threads: weakref.WeakSet[QThread] = weakref.WeakSet()


def new_thread(name: str) -> QThread:
    thread = QThread()
    thread.setObjectName(name)
    _threads.add(thread)
    return thread


def running_threads() -> list[QThread]:
    return [thread for thread in list(_threads) if thread.isRunning()]
