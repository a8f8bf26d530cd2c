"""What every command shares: exit statuses, one-line errors, Ctrl+C, the model to use (progress bars: ``progress``)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from digitpad.config import ConfigError, parse_sizes

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


def sizes_option(what: str, example: str):
    """An argparse type for layer sizes, read by ``config.parse_sizes`` as the app reads them."""

    def parse(text: str) -> tuple[int, ...]:
        try:
            return parse_sizes(text, what, example)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def user_message(error: Exception) -> str | None:
    """The message for an error a user can act on; None for a bug (which keeps its traceback)."""
    from digitpad.checkpoint import CheckpointError
    from digitpad.data import DataError

    if isinstance(error, (DataError, CheckpointError, ConfigError)):
        return str(error)
    if isinstance(error, MemoryError):
        return "out of memory"
    if isinstance(error, OSError):
        return f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    return None


def say(message: object) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Ctrl+C -------------------------------------------------------------------------------------


@contextmanager
def stop_on_interrupt(message: str):
    """The first Ctrl+C sets the returned event (a cooperative stop); a second one aborts."""
    stop = threading.Event()

    def on_interrupt(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
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
