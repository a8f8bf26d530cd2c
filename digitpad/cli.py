"""The ``digitpad`` command: the app by default, plus headless train, eval and predict.

train, eval and predict never import PySide6 or pyqtgraph: only ``gui`` does,
and only when it runs. Results go to stdout; progress bars, notes and errors go
to stderr. Every user error is one message and a non-zero exit status:
2 for a bad command line, 1 for anything else, 130 when stopped with Ctrl+C.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from digitpad import __version__
from digitpad.config import ARCHITECTURES, NUM_CLASSES, OPTIMIZERS, ConfigError, TrainConfig

if TYPE_CHECKING:  # torch is imported only by the commands that need it
    from digitpad.checkpoint import Checkpoint

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Larger images are shrunk before preprocessing: a digit needs nowhere near this
# many pixels, and a 10000x10000 photo would otherwise cost seconds and gigabytes.
_MAX_IMAGE_SIDE = 2048


class UsageError(Exception):
    """A bad command line; the message already names the command."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit; keep it to one line
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes separated by commas, like 512,256; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one size, like 512,256")
    return values


def _build_parser() -> _Parser:
    defaults = TrainConfig()
    parser = _Parser(
        prog="digitpad",
        description="Draw a digit and watch a neural network read it. Without a command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"digitpad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    commands.add_parser("gui", help="open the app (the default); Qt options may follow")

    train = commands.add_parser(
        "train", help="train a model on MNIST without the app",
        description="Train a model on MNIST. Without --out, the model is saved in digitpad's models folder "
        "and becomes the app's current model.",
    )
    cnn, mlp = TrainConfig.defaults_for("cnn"), TrainConfig.defaults_for("mlp")

    def per_arch(name: str, show=str) -> str:
        cnn_value, mlp_value = getattr(cnn, name), getattr(mlp, name)
        if cnn_value == mlp_value:
            return f"default {show(cnn_value)}"
        return f"default {show(cnn_value)} for the CNN, {show(mlp_value)} for the MLP"

    # Unset options (None) take the chosen architecture's defaults from TrainConfig.defaults_for.
    train.add_argument("--arch", choices=ARCHITECTURES,
                       help=f"network: the study note's MLP or the CNN (default {defaults.model.arch})")
    train.add_argument("--hidden", type=_int_list, metavar="SIZES",
                       help=f"MLP hidden layer sizes (default {','.join(map(str, defaults.model.hidden))})")
    train.add_argument("--channels", type=_int_list, metavar="C1,C2",
                       help=f"CNN channel counts (default {','.join(map(str, defaults.model.channels))})")
    train.add_argument("--dropout", type=float, help=f"dropout probability (default {defaults.model.dropout:g})")
    train.add_argument("--optimizer", choices=OPTIMIZERS,
                       help=f"optimizer ({per_arch('optimizer')}; sgd uses momentum)")
    train.add_argument("--lr", type=float, help=f"peak learning rate of the one-cycle schedule ({per_arch('lr', '{:g}'.format)})")
    train.add_argument("--batch-size", type=_positive_int, help=f"images per step ({per_arch('batch_size')})")
    train.add_argument("--epochs", type=_positive_int, help=f"passes over the training images ({per_arch('epochs')})")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction,
                       help="randomly rotate, scale, shear, shift, re-stroke and thicken or thin training images "
                       f"({per_arch('augment', lambda on: 'on' if on else 'off')})")
    train.add_argument("--non-digits", type=float, metavar="SHARE",
                       help="add random non-digit drawings (grids, spirals, scribbles...), SHARE of each batch, "
                       "trained towards no digit in particular, so the model is unsure of them (default 0: off)")
    train.add_argument("--from", dest="start_from", type=Path, metavar="PATH",
                       help="continue training this saved model (it keeps its architecture)")
    train.add_argument("--seed", type=int, default=defaults.seed, help=f"random seed (default {defaults.seed})")
    train.add_argument("--data-dir", type=Path, metavar="DIR", help="MNIST folder (default: $DIGITPAD_DATA_DIR "
                       "or digitpad's data folder; downloaded there if missing)")
    train.add_argument("--out", type=Path, metavar="PATH", help="where to save the model")

    evaluate = commands.add_parser("eval", help="measure a model's accuracy on the 10,000 MNIST test images")
    evaluate.add_argument("--checkpoint", type=Path, metavar="PATH",
                          help="model file (default: the app's current model)")
    evaluate.add_argument("--data-dir", type=Path, metavar="DIR", help="MNIST folder")

    predict = commands.add_parser("predict", help="classify image files")
    predict.add_argument("--checkpoint", type=Path, metavar="PATH",
                         help="model file (default: the app's current model)")
    predict.add_argument("--json", action="store_true", help="print one JSON array instead of text lines")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, GIF, ...)")
    return parser


HEADLESS_COMMANDS = ("train", "eval", "predict")


def run() -> NoReturn:
    """The ``digitpad`` command and ``python -m digitpad``: ``main()``, then exit."""
    headless = sys.argv[1:2] and sys.argv[1] in HEADLESS_COMMANDS
    status = main()
    # At exit Python runs full garbage collections over every object torch made
    # (about 200,000): 0.2 s of a one-epoch run. Frozen objects are skipped, as
    # in the app after its big loads; nothing is left unsaved by then.
    gc.freeze()
    if headless:
        _exit_once_flushed(status)
    sys.exit(status)


def _exit_once_flushed(status: int) -> NoReturn:
    """End a headless command as soon as everything it wrote is out.

    After the exit handlers, Python's normal exit frees every module and torch's
    C++ state object by object: 0.14 s of a one-epoch ``train``, for memory the
    OS takes back anyway. The command has closed its files by now (checkpoints
    are written and renamed atomically), so this runs the exit handlers (logging
    flushes, temporary folders are removed), flushes the standard streams and
    ends the process. With a thread still running, or a stream that cannot be
    flushed (a closed pipe), Python's normal exit handles it instead.
    """
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(status)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gui"]:  # the rest is Qt's (argparse would reject options like -platform)
        return _gui(argv[1:])
    try:
        args = _build_parser().parse_args(argv)
    except UsageError as error:
        _say(error)
        return EXIT_USAGE
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else EXIT_OK

    command = args.command or "gui"
    try:
        if command == "gui":
            return _gui([])
        if command == "train":
            return _train(args)
        if command == "eval":
            return _eval(args)
        return _predict(args)
    except UsageError as error:
        _say(error)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("digitpad: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `digitpad predict *.png | head`
        return EXIT_FAILED
    except Exception as error:
        message = _user_message(error)
        if message is None:
            raise
        _say(f"digitpad {command}: {message}")
        return EXIT_FAILED


def _user_message(error: Exception) -> str | None:
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


def _say(message: object) -> None:
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


def _download_progress(bar: ProgressBar):
    def report(done: int, total: int) -> None:
        detail = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        bar.show(done / total if total else 0.0, "downloading MNIST", detail, final=bool(total) and done >= total)
    return report


# --- Ctrl+C -------------------------------------------------------------------------------------


@contextmanager
def _stop_on_interrupt(message: str):
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


# --- gui --------------------------------------------------------------------------------------


def _gui(qt_args: list[str]) -> int:
    try:
        from digitpad.gui.app import main as app_main
    except ImportError as error:
        _say(f"digitpad: the app cannot start because a part of it is missing ({error}). "
             f"Reinstall with: pip install -e .   (train, eval and predict work without it)")
        return EXIT_FAILED
    # Qt reads its own options (e.g. -platform) from an argv that starts with the program name.
    return app_main([sys.argv[0] if sys.argv and sys.argv[0] else "digitpad", *qt_args])


# --- train ------------------------------------------------------------------------------------


def _train_config(args: argparse.Namespace, start_from: Checkpoint | None = None) -> TrainConfig:
    """The run's settings; continuing ``start_from`` (a Checkpoint) keeps its model."""
    model_options = dict(arch=args.arch, hidden=args.hidden, channels=args.channels, dropout=args.dropout)
    if start_from is not None:
        given = [f"--{name}" for name, value in model_options.items() if value is not None]
        if given:
            raise UsageError(f"digitpad train: --from keeps the saved model's architecture; drop {', '.join(given)}")
        model = start_from.model_config
        model_options = dict(arch=model.arch, hidden=model.hidden, channels=model.channels, dropout=model.dropout)
    arch = model_options.pop("arch") or TrainConfig().model.arch
    try:
        chosen = dict(**model_options, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                      epochs=args.epochs, augment=args.augment, seed=args.seed, non_digit_share=args.non_digits)
        return TrainConfig.defaults_for(arch, **{k: v for k, v in chosen.items() if v is not None})
    except ConfigError as error:
        raise UsageError(f"digitpad train: {error}") from None


def _check_output_path(out: Path) -> None:
    """Fail before training rather than after it."""
    if out.is_dir():
        raise UsageError(f"digitpad train: --out {out} is a folder; give a file name such as {out / 'model.pt'}")
    folder = next((parent for parent in [out.parent, *out.parent.parents] if parent.exists()), None)
    if folder is not None and not _writable(folder):
        raise UsageError(f"digitpad train: cannot write the model to {out}: {folder} is not writable")


def _check_models_folder() -> None:
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


def _train(args: argparse.Namespace) -> int:
    start_from = None
    if args.start_from is not None:
        from digitpad import checkpoint

        start_from = checkpoint.load(args.start_from)
    config = _train_config(args, start_from)
    out = args.out.expanduser().absolute() if args.out else None
    if out is not None:
        _check_output_path(out)
    else:
        _check_models_folder()

    import torch

    from digitpad import checkpoint, paths
    from digitpad.data import DownloadCancelled, load_mnist, validation_split
    from digitpad.training import BatchProgress, TrainingResult, ValidationResult, fit, training_threads

    torch.set_num_threads(training_threads(leave_core_for_gui=False))
    bar = ProgressBar()
    with _stop_on_interrupt("stopping after the current batch; the last complete model will be saved") as stop:
        try:
            data = load_mnist(args.data_dir, progress=_download_progress(bar), should_stop=stop.is_set)
        except DownloadCancelled as cancelled:
            bar.clear()
            _say(f"digitpad train: {cancelled}")
            return EXIT_INTERRUPTED
        train_index, validation_index = validation_split(len(data.train_images), config.validation_size, config.seed)
        _say(f"{'continuing' if start_from else 'training'} a {config.model.describe()} on {len(train_index)} images "
             f"({len(validation_index)} held out for validation, {len(data.test_images)} for the test) "
             f"from {data.source}")

        result = None
        # Continuing: its weights, and its curves to head the new run's.
        continuing = dict(initial_state=start_from.state_dict, initial_history=start_from.history) if start_from else {}
        for event in fit(config, data, should_stop=stop.is_set, **continuing):
            if isinstance(event, BatchProgress):
                bar.show(event.step / event.steps_per_epoch, f"epoch {event.epoch}/{event.epochs}",
                         f"loss {event.loss:.4f}  {event.elapsed:.0f}s", final=event.step == event.steps_per_epoch)
            elif isinstance(event, ValidationResult):
                bar.clear()
                print(f"epoch {event.epoch} validation: loss {event.loss:.4f}, accuracy {event.accuracy:.4f} "
                      f"({event.elapsed:.1f} s)", flush=True)
            elif isinstance(event, TrainingResult):
                result = event
        bar.clear()

    assert result is not None, "fit() always ends with a TrainingResult"
    if result.stopped and not result.history.get("train_step"):
        _say("digitpad train: stopped before the first training step; nothing was saved")
        return EXIT_INTERRUPTED

    target = out or paths.new_model_path()
    checkpoint.save(checkpoint.from_result(result, name=target.stem), target)
    recorded = True
    if out is None:
        try:
            paths.set_current_model(target)
            _say(f"saved the model to {target}; it is now the app's current model")
        except OSError as error:
            recorded = False
            _say(f"digitpad train: saved the model to {target}, but could not make it the app's current model "
                 f"({error.strerror or error})")
    else:
        _say(f"saved the model to {target}")
    if result.stopped:
        _say("training was stopped early: the saved model is the last complete one")
    print(f"test accuracy: {result.test_accuracy:.4f}", flush=True)
    return EXIT_INTERRUPTED if result.stopped else EXIT_OK if recorded else EXIT_FAILED


# --- eval -------------------------------------------------------------------------------------


def _load_model(args: argparse.Namespace) -> tuple[Checkpoint, Path]:
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
        _say(f"digitpad: {note}")
    return loaded, path


def _eval(args: argparse.Namespace) -> int:
    import torch
    import torch.nn.functional as F

    from digitpad.data import DownloadCancelled, load_mnist
    from digitpad.models import build_model

    loaded, path = _load_model(args)
    bar = ProgressBar()
    with _stop_on_interrupt("stopping") as stop:
        try:
            data = load_mnist(args.data_dir, progress=_download_progress(bar), should_stop=stop.is_set)
        except DownloadCancelled as cancelled:
            _say(f"digitpad eval: {cancelled}")
            return EXIT_INTERRUPTED

    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    model.eval()
    images, labels = data.test_images, data.test_labels
    total_loss = 0.0
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(images), 1000):
            log_probabilities = model(images[start:start + 1000])
            total_loss += F.nll_loss(log_probabilities, labels[start:start + 1000], reduction="sum").item()
            predictions.append(log_probabilities.argmax(dim=1))
    predicted = torch.cat(predictions)
    correct = predicted == labels

    print(f"model: {path} ({loaded.model_config.describe()})")
    print(f"test accuracy: {correct.float().mean().item():.4f}")
    print(f"test loss: {total_loss / len(labels):.4f}")
    print("per-digit accuracy:")
    for digit in range(NUM_CLASSES):
        of_digit = labels == digit
        count = int(of_digit.sum())
        right = int((correct & of_digit).sum())
        accuracy = f"{right / count:.4f}" if count else "  n/a "
        print(f"  {digit}: {accuracy}  ({right}/{count})")
    return EXIT_OK


# --- predict ----------------------------------------------------------------------------------


class ImageReadError(Exception):
    """An image file that cannot be classified; the message says why."""


def read_image(path: Path):
    """An image file as a numpy array preprocess accepts: (H, W) or (H, W, 3|4), first frame only."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise ImageReadError("no such file")
    if path.is_dir():
        raise ImageReadError("it is a folder, not an image")
    try:
        if path.stat().st_size == 0:
            raise ImageReadError("the file is empty")
        with warnings.catch_warnings():
            # Pillow warns about large images; sizes up to its hard limit are shrunk below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft(None, (_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE))  # JPEG decodes at reduced size
                image.load()
                frame = ImageOps.exif_transpose(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError:
        raise ImageReadError("the image is too large to read safely") from None
    except UnidentifiedImageError:
        raise ImageReadError("it is not an image file digitpad can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"the image is damaged or cannot be read ({error})") from None

    if frame.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit images: scale to [0, 1] here; converting to 8-bit in Pillow clips them.
        pixels = np.asarray(frame, dtype=np.float32)
        top = 65535.0 if pixels.max(initial=0) <= 65535 else float(pixels.max())
        return _shrink_array(pixels / top)
    if frame.mode == "F":
        pixels = np.asarray(frame, dtype=np.float32)
        return _shrink_array(pixels / 255.0 if pixels.max(initial=0) > 1.0 else pixels)
    has_alpha = frame.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in frame.info
    frame = frame.convert("RGBA" if has_alpha else ("L" if frame.mode in ("1", "L") else "RGB"))
    if max(frame.size) > _MAX_IMAGE_SIDE:
        frame.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE), Image.Resampling.BOX)
    return np.asarray(frame)


def _shrink_array(pixels):
    import numpy as np
    from PIL import Image

    if max(pixels.shape) <= _MAX_IMAGE_SIDE:
        return pixels
    image = Image.fromarray(pixels.astype(np.float32), mode="F")
    image.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE), Image.Resampling.BOX)
    return np.asarray(image)


def _predict(args: argparse.Namespace) -> int:
    from digitpad.inference import Classifier

    loaded, _ = _load_model(args)
    classifier = Classifier.from_checkpoint(loaded)
    results: list[dict] = []
    for name in args.images:
        try:
            prediction = classifier.predict(read_image(Path(name)))
            if prediction is None:
                raise ImageReadError("no digit: the image is blank (no ink found)")
        except ImageReadError as error:
            results.append({"path": name, "error": str(error)})
            if not args.json:
                _say(f"digitpad predict: {name}: {error}")
            continue
        results.append({
            "path": name,
            "digit": int(prediction.digit),
            "confidence": round(float(prediction.confidence), 6),
            "probabilities": [round(float(p), 6) for p in prediction.probabilities],
            "unsure": bool(prediction.unsure),
        })
        if not args.json:
            print(f"{name} {int(prediction.digit)} {float(prediction.confidence):.4f}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return EXIT_FAILED if any("error" in result for result in results) else EXIT_OK
