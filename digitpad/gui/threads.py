"""One worker on its own QThread, started and ended the same way everywhere.

The worker is a QObject with a ``run`` slot that does the work, emits signals
and ends by quitting its thread's event loop; a ``stop`` method, if it has one,
asks it to end early (a flag it checks; the thread is never terminated), and
an ``abandon`` method, if it has one, asks it to end without finishing up.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot


class WorkerThread(QObject):
    """Runs ``worker.run`` on a new QThread named ``name``; lives on the thread that made it (the GUI's)."""

    # The thread has really ended (``QThread.finished`` comes just before that).
    ended = Signal()

    def __init__(self, worker: QObject, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._thread = QThread()
        self._thread.setObjectName(name)
        worker.moveToThread(self._thread)
        self._thread.started.connect(worker.run)
        # A slot of this object: queued onto the GUI thread, never run on the worker's.
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def stop(self) -> None:
        """Ask the worker to end early, if it can."""
        stop = getattr(self.worker, "stop", None)
        if stop is not None:
            stop()

    def stop_and_join(self) -> None:
        """``stop`` (``abandon``, for a worker that can drop what a stop still finishes), then ``join``:
        how a window's part ends its run when it closes."""
        abandon = getattr(self.worker, "abandon", None)
        if abandon is not None:
            abandon()
        else:
            self.stop()
        self.join()

    def join(self) -> None:
        """Wait until the thread has ended (after ``stop``, within a batch; a loader finishes its load)."""
        self._thread.quit()
        self._thread.wait()

    @Slot()
    def _on_thread_finished(self) -> None:
        self._thread.wait()
        self.ended.emit()
