"""QSettings access that survives broken or foreign values.

The settings file is an INI in the user's config folder, so tests can point
``QSettings.setPath(IniFormat, UserScope, tmp)`` somewhere else.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "digitpad"
APPLICATION = "digitpad"

DATA_DIR = "data/dir"
LAST_MODEL_FOLDER = "models/last_folder"
GEOMETRY = "window/geometry"
PEN_WIDTH = "canvas/pen_width"
TRAINING_GROUP = "training"  # the Training group's own settings (QSettings.beginGroup)


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def read_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return value if isinstance(value, str) else default


def read_float(settings: QSettings, key: str, default: float, low: float, high: float) -> float:
    try:
        value = float(settings.value(key, default))
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


def read_int(settings: QSettings, key: str, default: int, low: int, high: int) -> int:
    try:
        value = int(float(settings.value(key, default)))
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int):
        return bool(value)
    return default
