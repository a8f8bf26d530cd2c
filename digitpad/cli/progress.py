"""Progress on stderr with tqdm: a live bar on a terminal, an occasional plain line in a pipe or a log."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

if TYPE_CHECKING:
    from digitpad.training import BatchProgress

# A log gets a line this often (s); a terminal redraws its bar 10 times a second.
LOG_INTERVAL_S = 10.0
TERMINAL_INTERVAL_S = 0.1


class _LogLines(tqdm):
    """A tqdm bar that writes whole lines, and only when the count moved: no carriage returns to
    redraw a line, no spaces to blank it, so a log file or ``2>&1 | tee`` stays readable."""

    monitor_interval = 0  # no monitor thread: lines come at most every LOG_INTERVAL_S anyway

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "" or self.n == getattr(self, "_last_line_n", None):  # a blanking, or nothing new
            return False
        self._last_line_n = self.n
        self.fp.write((msg or str(self)) + "\n")
        self.fp.flush()
        return True

    def clear(self, nolock: bool = False) -> None:
        pass  # a written line stays

    def close(self) -> None:
        if not self.disable:
            self.display()  # the last count, on its own line; tqdm would add an empty one after it
            self.leave = False
        super().close()


def new_bar(description: str, total: float | None, stream: TextIO | None = None, **options) -> tqdm:
    stream = stream or sys.stderr
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    kind = tqdm if terminal else _LogLines
    return kind(desc=description, total=total, file=stream, dynamic_ncols=terminal, ascii=None if terminal else True,
                mininterval=TERMINAL_INTERVAL_S if terminal else LOG_INTERVAL_S, **options)


@contextmanager
def download_bar(stream: TextIO | None = None):
    """A progress callback for ``load_mnist``: a bar appears only if something is downloaded."""
    bar = None

    def report(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = new_bar("downloading MNIST", total or None, stream, unit="B", unit_scale=True)
        bar.total = total or None
        bar.update(done - bar.n)

    try:
        yield report
    finally:
        if bar is not None:
            bar.close()


class EpochBars:
    """One bar per epoch, fed with training's BatchProgress events; results print between them."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._bar: tqdm | None = None
        self._epoch = 0
        self._last_event = 0.0

    def show(self, progress: BatchProgress) -> None:
        now = time.time()  # tqdm's own clock
        if self._bar is None or progress.epoch != self._epoch:
            self.close()
            self._epoch = progress.epoch
            self._bar = new_bar(f"epoch {progress.epoch}/{progress.epochs}", progress.steps_per_epoch, self._stream,
                                unit="batch")
            # Events come every few batches: date the bar from the epoch's start (the previous event, or
            # the start of training), so its rate and times are right.
            self._bar.start_t = self._last_event or now - progress.elapsed
        self._last_event = now
        self._bar.set_postfix_str(f"loss {progress.loss:.4f}", refresh=False)
        self._bar.update(progress.step - self._bar.n)
        if progress.step >= progress.steps_per_epoch:
            self.close()  # its last line stays above the epoch's validation

    def print(self, line: str) -> None:
        """``line`` on stdout, without tearing a bar that is being drawn on the same terminal."""
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()
        self._last_event = time.time()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> EpochBars:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
