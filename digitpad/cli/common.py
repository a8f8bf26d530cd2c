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

from digitpad.config import DEVICES, ConfigError, parse_sizes

if TYPE_CHECKING:  # torch is imported only by the commands that need it
    from digitpad.checkpoint import Checkpoint
    from digitpad.cli.progress import EpochBars

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# An option's value that stands for the drawings collected in the app (paths.my_digits_dir()),
# found when the command runs: DIGITPAD_HOME may move it.
YOUR_COLLECTION = Path("<your collection>")


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


def add_device_option(parser: argparse.ArgumentParser, what: str = "train") -> None:
    """--device, the same for every command: args.device is one of config.DEVICES (digitpad.devices.resolve it)."""
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help=f"where to {what}: auto (default) takes a CUDA GPU if there is one, then Apple's GPU "
                        "(mps), else the CPU")


def user_message(error: Exception) -> str | None:
    """The message for an error a user can act on; None for a bug (which keeps its traceback)."""
    from digitpad.checkpoint import CheckpointError
    from digitpad.collection import CollectionError
    from digitpad.data import DataError
    from digitpad.devices import DeviceError
    from digitpad.distributed import DistributedError, failure
    from digitpad.image_files import ImageFolderError
    from digitpad.teaching import NotEnoughDrawings

    if isinstance(error, (DataError, CheckpointError, ConfigError, DeviceError, DistributedError, ImageFolderError,
                          CollectionError, NotEnoughDrawings)):
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


# --- what train and teach share --------------------------------------------------------------


def checked_out(args: argparse.Namespace, command: str) -> Path | None:
    """--out as an absolute path (None without it), checked before any training so it fails first."""
    out = args.out.expanduser().absolute() if args.out else None
    if out is not None:
        check_output_path(out, command)
    else:
        check_models_folder()
    return out


def load_training_data(args: argparse.Namespace, stop: threading.Event, command: str):
    """MNIST from --data-dir (downloaded with a progress bar if missing); None when Ctrl+C cancelled the download."""
    from digitpad.cli.progress import download_bar
    from digitpad.data import DownloadCancelled, load_mnist

    try:
        with download_bar() as report:
            return load_mnist(args.data_dir, progress=report, should_stop=stop.is_set)
    except DownloadCancelled as cancelled:
        say(f"digitpad {command}: {cancelled}")
        return None


def check_output_path(out: Path, command: str) -> None:
    """Fail before training rather than after it."""
    if out.is_dir():
        raise UsageError(f"digitpad {command}: --out {out} is a folder; give a file name such as {out / 'model.pt'}")
    folder = next((parent for parent in [out.parent, *out.parent.parents] if parent.exists()), None)
    if folder is not None and not _writable(folder):
        raise UsageError(f"digitpad {command}: cannot write the model to {out}: {folder} is not writable")


def check_models_folder() -> None:
    """Without --out the model goes into the models folder: fail before training, not after it."""
    from digitpad import paths
    from digitpad.checkpoint import CheckpointError

    folder = paths.models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(
            f"cannot save models in {folder} ({error.strerror or error}); pass --out PATH to save elsewhere"
        ) from None
    if not _writable(folder):
        raise CheckpointError(f"cannot save models in {folder}: it is not writable; pass --out PATH to save elsewhere")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def show_progress(bars: EpochBars, event, validation: str = "validation") -> None:
    """A training event on the progress bars; a validation as one line on stdout."""
    from digitpad.training import BatchProgress, ValidationResult

    if isinstance(event, BatchProgress):
        bars.show(event)
    elif isinstance(event, ValidationResult):
        bars.print(f"epoch {event.epoch} {validation}: loss {event.loss:.4f}, accuracy {event.accuracy:.4f} "
                   f"({event.elapsed:.1f} s)")


def report_kept(kept, result, out: Path | None, command: str, activity: str) -> int | None:
    """Say where ``runs.keep_result`` put a run. Returns the exit status when nothing usable was saved, else None."""
    if kept.learned_nothing:
        say(f"digitpad {command}: stopped before the first {activity} step; nothing was saved")
        return EXIT_INTERRUPTED
    if not kept.saved:
        say(f"digitpad {command}: {kept.save_problem}")
        return EXIT_FAILED
    if out is not None:
        say(f"saved the model to {kept.path}")
    elif kept.recorded:
        say(f"saved the model to {kept.path}; it is now the app's current model")
    elif kept.adopted:
        say(f"digitpad {command}: saved the model to {kept.path}, but could not make it the app's current model "
            f"({kept.record_problem})")
    else:
        why = "it was stopped early" if result.stopped else "it tests worse on MNIST than the model in use"
        say(f"saved the model to {kept.path}; {why}, so the model in use stays current")
    if result.stopped:
        say(f"{activity} was stopped early: the saved model is the last complete one")
    return None


def exit_status(kept, result, out: Path | None) -> int:
    return EXIT_INTERRUPTED if result.stopped else EXIT_OK if kept.recorded or out is not None else EXIT_FAILED
