"""Where digitpad keeps its files: the user's data folder, models, MNIST, the
shipped resources and the pointer to the user's current model.

Nothing here ever uses the current directory: the app can be started from
anywhere. ``DIGITPAD_HOME`` replaces the per-user folder (tests use it to stay
out of the real one); ``DIGITPAD_DATA_DIR`` points at an MNIST folder.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import platformdirs

APP_NAME = "digitpad"
HOME_ENV = "DIGITPAD_HOME"
DATA_DIR_ENV = "DIGITPAD_DATA_DIR"
SHIPPED_MODEL_NAME = "model.pt"
_POINTER_NAME = "current-model.json"


def user_data_dir() -> Path:
    """The per-user folder for digitpad's data (not created here)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser().absolute()
    # appauthor=False: on Windows platformdirs would otherwise nest the folder
    # under an author folder of the same name (%LOCALAPPDATA%\digitpad\digitpad).
    return platformdirs.PlatformDirs(APP_NAME, appauthor=False).user_data_path


def broken_link(path: Path) -> str | None:
    """Why ``path``, which does not exist, is a symbolic link that cannot be followed; None otherwise.

    ``Path.exists()`` is simply False for these, as for a file that is not there.
    """
    try:
        os.stat(path)
    except OSError as error:
        looping = error.errno == errno.ELOOP
    else:
        return None
    is_link = path.is_symlink()
    if looping:
        where = "it is" if is_link else "a folder on its way is"
        return f"{where} a symbolic link that cannot be resolved (the links lead round in a loop)"
    if is_link:
        return f"it is a symbolic link to {os.readlink(path)}, which does not exist"
    return None


def default_data_dir() -> Path:
    """Where MNIST is looked for and downloaded to when no folder is given."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser().absolute()
    return user_data_dir() / "mnist"


def cache_dir() -> Path:
    """Derived files digitpad can always rebuild (e.g. MNIST as tensors)."""
    return user_data_dir() / "cache"


def models_dir() -> Path:
    return user_data_dir() / "models"


def my_digits_dir() -> Path:
    """The person's own drawings, one folder per digit (torchvision's ImageFolder layout)."""
    return user_data_dir() / "my-digits"


def resources_dir() -> Path:
    """The shipped ``resources/`` folder: package data ``digitpad.resources`` in
    a wheel, or the repository's top-level folder in a plain checkout."""
    try:
        located = resources.files("digitpad.resources")
    except ModuleNotFoundError:  # running from a checkout that was never installed
        located = None
    # From a wheel or a checkout this is a real folder; a zipped install is not supported.
    if isinstance(located, Path) and located.is_dir():
        return located
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> Path:
    """A file shipped in ``resources/`` (icons, the shipped model, ...)."""
    return resources_dir() / name


def shipped_model_path() -> Path:
    return resource_path(SHIPPED_MODEL_NAME)


def _pointer_file() -> Path:
    return user_data_dir() / _POINTER_NAME


def _pointed_model() -> Path | None:
    """The model the pointer file names, or None if there is no usable pointer."""
    try:
        data = json.loads(_pointer_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("path"), str) or not data["path"]:
        return None
    return Path(data["path"])


def current_model_path() -> Path:
    """The user's current model: the last one trained or opened, else the shipped one."""
    pointed = _pointed_model()
    if pointed is not None and pointed.is_file():
        return pointed
    return shipped_model_path()


def current_model_problem() -> str | None:
    """Why the user's chosen model cannot be used (it has gone, or its record is unreadable), or None."""
    pointer = _pointer_file()
    if not pointer.exists():
        return None
    pointed = _pointed_model()
    if pointed is None:
        return f"The record of your current model ({pointer}) is unreadable."
    if not pointed.is_file():
        return f"Your current model {pointed} no longer exists."
    return None


def set_current_model(path: str | os.PathLike[str]) -> None:
    """Make ``path`` the user's current model (the pointer is replaced atomically)."""
    pointer = _pointer_file()
    pointer.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"path": str(Path(path).expanduser().absolute())}, indent=2) + "\n"
    handle, temporary = tempfile.mkstemp(dir=pointer.parent, prefix=f".{_POINTER_NAME}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, pointer)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def new_model_path(prefix: str = "trained") -> Path:
    """A fresh, unused file name in models_dir() (the folder is created)."""
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}"
    candidate = folder / f"{stem}.pt"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.pt"
        number += 1
    return candidate


@dataclass(frozen=True)
class MnistFolder:
    """Where to look for MNIST, and why there."""

    path: Path
    # Given by DIGITPAD_DATA_DIR: used as it is, and never downloaded into unasked.
    from_environment: bool = False
    # '' or a sentence saying that the folder used before has gone.
    note: str = ""


def mnist_folder(remembered: str | os.PathLike[str] | None = None) -> MnistFolder:
    """The MNIST folder to use: the environment's, else ``remembered`` (the one used
    last), else the default. A remembered folder that has gone is never offered as a
    download target: the default is, with a note saying so."""
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return MnistFolder(Path(from_env).expanduser().absolute(), from_environment=True)
    default = default_data_dir()
    if not remembered:
        return MnistFolder(default)
    folder = Path(remembered)
    if folder.is_dir() or folder == default:
        return MnistFolder(folder)
    # Deleted, or on a drive that is not connected.
    return MnistFolder(default, note=(
        f"The MNIST folder used before, {folder}, is not there any more "
        "(deleted, moved, or on a drive that is not connected)."
    ))
