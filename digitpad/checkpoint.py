"""Saving and loading trained models.

A checkpoint is one ``torch.save``d dict of plain values and tensors only: the
weights, the plain model config that rebuilds the network, the normalization,
the training curves and metrics, and version stamps. It is read with
``weights_only=True``, so nothing in a file can run code, and then checked by
rebuilding the model and loading the weights strictly.
"""

from __future__ import annotations

import errno
import io
import math
import os
import pickle
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from digitpad import __version__, paths
from digitpad.config import MNIST_MEAN, MNIST_STD, ConfigError, ModelConfig

FORMAT_VERSION = 1
_FORMAT_NAME = "digitpad-checkpoint"
_FILE_MODE = 0o644

_ZIP_SIGNATURE = b"PK\x03\x04"  # torch.save's default format is a zip archive
_FOREIGN_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"BM": "a BMP image",
    b"%PDF": "a PDF document",
}


class CheckpointError(Exception):
    """A model file cannot be saved or loaded; ``str(error)`` names the file and says why."""


@dataclass
class Checkpoint:
    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    history: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    train_config: dict | None = None
    name: str = ""
    normalization: dict = field(default_factory=lambda: {"mean": MNIST_MEAN, "std": MNIST_STD})
    format_version: int = FORMAT_VERSION
    digitpad_version: str = __version__
    created: str = ""
    # The second network, reading the pen's path (digitpad.stroke_reader); None for image-only models.
    stroke_reader: dict[str, torch.Tensor] | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def from_result(result, name: str) -> Checkpoint:
    """A checkpoint for a ``training.TrainingResult``."""
    return Checkpoint(
        model_config=result.model_config,
        state_dict=dict(result.state_dict),
        history=result.history,
        metrics={
            "test_accuracy": result.test_accuracy,
            "test_loss": result.test_loss,
            "training_seconds": result.elapsed,
            "stopped_early": result.stopped,
            "device": result.device,
            "processes": result.processes,
        },
        train_config=result.train_config.to_dict(),
        name=name,
        created=_now(),
    )


# --- saving ----------------------------------------------------------------------------------


def _plain(value: Any, where: str) -> Any:
    """``value`` as types a weights_only load accepts; numpy values become Python ones."""
    if value is None:
        return None
    for plain_type in (bool, int, float, str):  # also turns subclasses such as numpy.float64 into plain values
        if isinstance(value, plain_type):
            return plain_type(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {str(key): _plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, where) for item in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        return value.tolist()
    raise CheckpointError(f"cannot save {where}: values of type {type(value).__name__} are not allowed in a checkpoint")


def _payload(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "digitpad_version": __version__,
        "created": checkpoint.created or _now(),
        "name": str(checkpoint.name),
        "model_config": checkpoint.model_config.to_dict(),
        "normalization": {key: float(checkpoint.normalization[key]) for key in ("mean", "std")},
        "state_dict": {key: tensor.detach().cpu() for key, tensor in checkpoint.state_dict.items()},
        "history": _plain(checkpoint.history, "history"),
        "metrics": _plain(checkpoint.metrics, "metrics"),
        "train_config": _plain(checkpoint.train_config, "train_config"),
        **({} if checkpoint.stroke_reader is None else
           {"stroke_reader": {key: tensor.detach().cpu() for key, tensor in checkpoint.stroke_reader.items()}}),
    }


def save(checkpoint: Checkpoint, path: str | os.PathLike[str]) -> None:
    """Write ``checkpoint`` to ``path`` atomically.

    The data goes to a temporary file in the same folder, is flushed to disk,
    and only then replaces ``path``: a crash or a full disk mid-save leaves any
    previous file untouched.
    """
    path = Path(path).expanduser()
    payload = _payload(checkpoint)
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Serialized in memory first: torch.save turns a write error (a full disk) into a
        # RuntimeError about zip positions, while a plain write reports the OSError itself.
        serialized = io.BytesIO()
        torch.save(payload, serialized)
        handle, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        temporary = Path(temporary_name)
        with os.fdopen(handle, "wb") as stream:
            stream.write(serialized.getbuffer())
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else _FILE_MODE)
        os.replace(temporary, path)
        temporary = None
        _sync_folder(path.parent)
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, PermissionError):
            reason = f"{reason} (the folder {path.parent} is not writable)"
        raise CheckpointError(
            f"Could not save the model to {path}: {reason}. Any previous file there is unchanged."
        ) from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Persist the rename itself (POSIX); best effort elsewhere."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --- loading ---------------------------------------------------------------------------------


def _problem(path: Path, text: str) -> CheckpointError:
    return CheckpointError(f"Cannot open the model {path}: {text}.")


def _read_file(path: Path) -> Any:
    if not path.exists():
        raise _problem(path, paths.broken_link(path) or "the file does not exist")
    if path.is_dir():
        raise _problem(path, "it is a folder, not a model file")
    try:
        with open(path, "rb") as stream:
            start = stream.read(8)
    except OSError as error:
        raise _problem(path, f"the file cannot be read ({error.strerror or error})") from None
    if not start:
        raise _problem(path, "the file is empty")
    for signature, kind in _FOREIGN_SIGNATURES.items():
        if start.startswith(signature):
            raise _problem(path, f"it is {kind}, not a digitpad model")
    if start.startswith(_ZIP_SIGNATURE):
        _check_zip_checksums(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. pickle protocol notes; the outcome is all that matters
            return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        if "Unsupported global" in str(error) or "GLOBAL" in str(error):
            raise _problem(
                path,
                "it contains Python objects that could run code when loaded, which digitpad refuses to do "
                "(nothing in it was run); it is not a digitpad model",
            ) from None
        raise _problem(path, "it is not a PyTorch model file (or it is corrupted)") from None
    except EOFError:
        raise _problem(path, "the file is truncated") from None
    except MemoryError:
        raise _problem(path, "it is too large to load") from None
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EPERM, errno.EIO):
            raise _problem(path, f"the file cannot be read ({error.strerror})") from None
        raise _problem(path, "the file is truncated or corrupted") from None
    except Exception as error:  # torch reports damaged archives as RuntimeError, and the unpickler others
        text = str(error)
        if "central directory" in text or "zip archive" in text or "corrupted" in text:
            raise _problem(path, "the file is truncated or corrupted") from None
        raise _problem(path, "it is not a PyTorch model file (or it is corrupted)") from None


def _check_zip_checksums(path: Path) -> None:
    """torch.load does not check the archive's CRCs, so a flipped bit in the weights would load silently."""
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.CRC == 0 and member.file_size:  # written without checksums: nothing to compare
                    continue
                with archive.open(member) as stream:
                    while stream.read(1 << 20):
                        pass
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError):
        raise _problem(path, "the file is truncated or corrupted") from None
    except OSError as error:
        raise _problem(path, f"the file cannot be read ({error.strerror or error})") from None


def _looks_like_state_dict(payload: Any) -> bool:
    return isinstance(payload, dict) and bool(payload) and all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in payload.items()
    )


def _expect(path: Path, payload: dict, key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    value = payload.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        raise _problem(path, f"its '{key}' entry is missing or malformed")
    return value


def load(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and check a checkpoint; any problem raises CheckpointError with a user-facing message."""
    path = Path(path).expanduser()
    payload = _read_file(path)

    if _looks_like_state_dict(payload):
        raise _problem(
            path, "it holds bare network weights (a state_dict) without the description digitpad needs to rebuild "
            "the network; it is not a digitpad model"
        )
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT_NAME:
        raise _problem(path, "it is a PyTorch file but not a digitpad model")
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _problem(path, "its format version is missing or malformed")
    if version > FORMAT_VERSION:
        raise _problem(
            path, f"it was saved by a newer digitpad (model format {version}; this digitpad {__version__} reads "
            f"format {FORMAT_VERSION}). Update digitpad to open it"
        )

    config_dict = _expect(path, payload, "model_config", dict)
    try:
        model_config = ModelConfig.from_dict(config_dict)
    except (ConfigError, TypeError, ValueError) as error:
        raise _problem(path, f"its model description is invalid ({error})") from None

    normalization = _expect(path, payload, "normalization", dict)
    mean, std = normalization.get("mean"), normalization.get("std")
    if not all(isinstance(value, (int, float)) for value in (mean, std)):
        raise _problem(path, "its 'normalization' entry is missing or malformed")
    if not (math.isclose(mean, MNIST_MEAN, abs_tol=1e-6) and math.isclose(std, MNIST_STD, abs_tol=1e-6)):
        raise _problem(
            path, f"it expects inputs normalized with mean {mean} and std {std}, but digitpad uses "
            f"{MNIST_MEAN} and {MNIST_STD}"
        )

    state_dict = _expect(path, payload, "state_dict", dict)
    if not _looks_like_state_dict(state_dict):
        raise _problem(path, "its weights are missing or malformed")
    _check_weights(path, model_config, state_dict)

    stroke_reader = _expect(path, payload, "stroke_reader", dict, optional=True)
    if stroke_reader is not None:
        _check_stroke_reader(path, stroke_reader)

    history = _expect(path, payload, "history", dict, optional=True) or {}
    metrics = _expect(path, payload, "metrics", dict, optional=True) or {}
    train_config = _expect(path, payload, "train_config", dict, optional=True)
    name = payload.get("name") if isinstance(payload.get("name"), str) else ""
    return Checkpoint(
        model_config=model_config,
        state_dict=state_dict,
        history=history,
        metrics=metrics,
        train_config=train_config,
        name=name or path.stem,
        normalization={"mean": float(mean), "std": float(std)},
        format_version=version,
        digitpad_version=str(payload.get("digitpad_version", "")),
        created=str(payload.get("created", "")),
        stroke_reader=stroke_reader,
    )


def _check_weights(path: Path, model_config: ModelConfig, state_dict: dict[str, torch.Tensor]) -> None:
    """The weights must fit the network the config describes, exactly, and be finite."""
    from digitpad.models import build_model

    model = build_model(model_config)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    wrong_shape = [
        f"{key} is {tuple(state_dict[key].shape)}, expected {tuple(expected[key].shape)}"
        for key in expected
        if key in state_dict and state_dict[key].shape != expected[key].shape
    ]
    if missing or unexpected or wrong_shape:
        details = []
        if missing:
            details.append(f"missing {_few(missing)}")
        if unexpected:
            details.append(f"unexpected {_few(unexpected)}")
        if wrong_shape:
            details.append(_few(wrong_shape))
        raise _problem(path, f"its weights do not fit a {model_config.describe()} ({'; '.join(details)})")
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError, ValueError) as error:
        raise _problem(path, f"its weights do not fit a {model_config.describe()} ({_first_line(error)})") from None
    _check_finite(path, state_dict, "its weights")


def _check_stroke_reader(path: Path, state_dict: dict) -> None:
    """A stroke reader's weights must fit ``StrokeReader`` exactly and be finite."""
    from digitpad.stroke_reader import StrokeReader

    if not _looks_like_state_dict(state_dict):
        raise _problem(path, "its stroke reader's weights are missing or malformed")
    try:
        StrokeReader().load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError, ValueError) as error:
        raise _problem(path, "its stroke reader's weights do not fit this digitpad's stroke reader "
                       f"({_first_line(error)})") from None
    _check_finite(path, state_dict, "its stroke reader's weights")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _check_finite(path: Path, state_dict: dict[str, torch.Tensor], whose: str) -> None:
    for key, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise _problem(path, f"{whose} contain NaN or infinite values ({key})")


def _few(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def load_current_model() -> tuple[Checkpoint, Path, list[str]]:
    """The user's current model (``paths.current_model_path``), else the shipped one.

    Returns the checkpoint, its file and notes saying why the user's own model is not
    the one in use. When neither can be used, raises CheckpointError naming both problems.
    """
    user_problem = paths.current_model_problem()
    current, shipped = paths.current_model_path(), paths.shipped_model_path()
    if current != shipped:
        try:
            return load(current), current, []
        except CheckpointError as error:
            user_problem = f"Your current model could not be used. {error}"
    try:
        loaded = load(shipped)
    except CheckpointError as error:
        # The user's problem is why the shipped model was needed: dropping it would hide the real cause.
        shipped_problem = f"No shipped model is available{' either' if user_problem else ''}. {error}"
        raise CheckpointError(f"{user_problem} {shipped_problem}" if user_problem else shipped_problem) from None
    notes = [f"{user_problem} Using the shipped model instead."] if user_problem else []
    return loaded, shipped, notes
