"""What every command shares: exit statuses, one-line errors, progress on stderr, Ctrl+C, the model to use."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from digitpad.config import DEVICES, ConfigError

if TYPE_CHECKING:  # torch is imported only by the commands that need it
    from digitpad.checkpoint import Checkpoint

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A bad command line; the message already names the command."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit; keep it to one line
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes separated by commas, like 512,256; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one size, like 512,256")
    return values



def add_device_option(parser: argparse.ArgumentParser, what: str = "train") -> None:
    """--device, the same for every command: args.device is one of config.DEVICES (digitpad.devices.resolve it)."""
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help=f"where to {what}: auto (default) takes a CUDA GPU if there is one, then Apple's GPU "
                        "(mps), else the CPU")


def user_message(error: Exception) -> str | None:
    """The message for an error a user can act on; None for a bug (which keeps its traceback)."""
    from digitpad.checkpoint import CheckpointError
    from digitpad.data import DataError
    from digitpad.devices import DeviceError
    from digitpad.distributed import DistributedError, failure

    if isinstance(error, (DataError, CheckpointError, ConfigError, DeviceError, DistributedError)):
        return str(error)
    lost_contact = failure(error)
    if lost_contact is not None:
        return str(lost_contact)
    if isinstance(error, MemoryError):
        return "out of memory"
    if isinstance(error, OSError):
        return f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    return None


def say(message: object) -> None:
    print(message, file=sys.stderr, flush=True)


# --- progress ---------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on a terminal; on a pipe or log, an occasional plain line."""

    def __init__(self, stream: TextIO | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self._interval = 0.1 if self.is_terminal else 10.0
        self._last_shown = -math.inf
        self._open_line = 0

    def show(self, fraction: float, label: str, detail: str = "", final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last_shown < self._interval:
            return
        self._last_shown = now
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(fraction * self.width)
        line = f"{label} [{'#' * filled}{'-' * (self.width - filled)}] {fraction:4.0%} {detail}".rstrip()
        if self.is_terminal:
            self.stream.write("\r" + line.ljust(self._open_line))
            self._open_line = len(line)
            if final:
                self.stream.write("\n")
                self._open_line = 0
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Blank an unfinished terminal line so other output starts on a clean line."""
        if self._open_line:
            self.stream.write("\r" + " " * self._open_line + "\r")
            self.stream.flush()
            self._open_line = 0


def download_progress(bar: ProgressBar):
    def report(done: int, total: int) -> None:
        detail = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        bar.show(done / total if total else 0.0, "downloading MNIST", detail, final=bool(total) and done >= total)
    return report


# --- Ctrl+C -------------------------------------------------------------------------------------


@contextmanager
def stop_on_interrupt(message: str | None):
    """The first Ctrl+C sets the returned event (a cooperative stop); a second one aborts.

    ``message`` (None: nothing) is said on the first."""
    stop = threading.Event()

    def on_interrupt(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if message is None:
            return
        # os.write, not print: a handler that prints can collide with a print it interrupted.
        try:
            os.write(sys.stderr.fileno(), f"\n{message} (press Ctrl+C again to quit at once)\n".encode())
        except (OSError, ValueError, AttributeError):  # stderr replaced, e.g. by a test's capture
            pass

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: Ctrl+C keeps its default meaning
        previous = None
    try:
        yield stop
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)



def load_model(args: argparse.Namespace) -> tuple[Checkpoint, Path]:
    """--checkpoint, else the app's current model, chosen as the app does (saying so when the
    user's own model cannot be used and the shipped one is used instead)."""
    from digitpad import checkpoint

    if args.checkpoint is not None:
        path = args.checkpoint.expanduser()
        return checkpoint.load(path), path
    try:
        loaded, path, notes = checkpoint.load_current_model()
    except checkpoint.CheckpointError as error:
        raise checkpoint.CheckpointError(f"{error} Train one with 'digitpad train' or pass --checkpoint PATH.") from None
    for note in notes:
        say(f"digitpad: {note}")
    return loaded, path
