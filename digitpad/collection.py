"""The person's own collection of drawings, for teaching the model their handwriting.

It lives in ``paths.my_digits_dir()`` in torchvision's ``ImageFolder`` layout:
``<root>/<digit>/<id>.png`` is the 28x28 model input (8-bit grayscale, white
ink on black, like MNIST), and ``<id>.json`` beside it holds the strokes as
vectors (``digitpad.strokes.Stroke``: points in units of the canvas's shorter
side, x right, y down, and each stroke's pen width), the answer the model gave,
its confidence, the model, the time and a format version.

Both files are written atomically, the JSON first and the PNG last, so a PNG
never appears without its JSON. A drawing is its PNG: a JSON without one
(left by a crash) and hidden temporary files are ignored, and a folder of
PNGs made by hand (no JSON at all) is a collection too, without strokes.
"""

from __future__ import annotations

import io
import json
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from digitpad import atomic, paths
from digitpad.config import IMAGE_SIDE, NUM_CLASSES
from digitpad.image_files import ImageReadError, is_image_file, read_image
from digitpad.preprocess import to_mnist_image
from digitpad.strokes import Stroke

FORMAT_NAME = "digitpad-drawing"
FORMAT_VERSION = 1
_ID_TIME_FORMAT = "%Y%m%d-%H%M%S-%f"


class CollectionError(Exception):
    """A drawing could not be saved or removed; the message is for the person, and nothing collected was lost."""


@dataclass(frozen=True)
class Drawing:
    """One drawing of the collection. ``strokes`` is None for a drawing that is only a PNG."""

    id: str  # unique, sorts by time, safe in file names
    digit: int  # what it really is: the folder it is in
    image_path: Path
    strokes: list[Stroke] | None = field(hash=False, repr=False)
    answer: int | None  # what the model said when it was collected
    confidence: float | None
    model: str  # the name of that model
    created: str  # ISO 8601, UTC
    _pixels: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def meta_path(self) -> Path:
        return self.image_path.with_suffix(".json")

    def image(self) -> np.ndarray:
        """The model input (28, 28) float32, ink 1 on paper 0.

        A 28x28 8-bit image with light ink on dark (what ``Collection.add``
        writes, and MNIST's own format) is taken as it is; any other image goes
        through ``digitpad predict``'s preprocessing. Raises ImageReadError when
        the file cannot be read or holds no ink.
        """
        if self._pixels is None:
            object.__setattr__(self, "_pixels", _read_model_input(self.image_path))
        return self._pixels.copy()


def _read_model_input(path: Path) -> np.ndarray:
    pixels = read_image(path)
    if pixels.shape == (IMAGE_SIDE, IMAGE_SIDE) and pixels.dtype == np.uint8 and np.median(pixels) < 128:
        return pixels.astype(np.float32) / 255.0
    image = to_mnist_image(pixels)
    if image is None:
        raise ImageReadError("no digit: the image is blank (no ink found)")
    return image


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


class Collection:
    """The drawings in ``root`` (default ``paths.my_digits_dir()``), one folder per digit.

    After ``drawings()``, ``problems`` lists what could not be read (one line each).
    """

    def __init__(self, root: Path | None = None):
        self.root = Path(root).expanduser() if root is not None else paths.my_digits_dir()
        self.problems: list[str] = []
        self._last_moment: datetime | None = None

    def folder(self, digit: int) -> Path:
        return self.root / str(digit)

    # --- adding and removing ------------------------------------------------------------

    def add(self, digit: int, model_input: np.ndarray, strokes: list[Stroke] | None = None,
            answer: int | None = None, confidence: float | None = None, model: str = "") -> Drawing:
        """Keep a drawing as ``digit``: ``model_input`` is the (28, 28) image in [0, 1] the model was shown.

        Raises CollectionError (with the reason, e.g. a full disk) when it cannot
        be written; the collection is then as it was.
        """
        if not (isinstance(digit, (int, np.integer)) and 0 <= int(digit) < NUM_CLASSES):
            raise ValueError(f"a drawing's digit is 0 to 9, not {digit!r}")
        digit = int(digit)
        pixels = np.asarray(model_input, dtype=np.float32)
        if pixels.shape != (IMAGE_SIDE, IMAGE_SIDE) or not np.isfinite(pixels).all():
            raise ValueError(f"a drawing is a finite {IMAGE_SIDE}x{IMAGE_SIDE} image, not {pixels.shape}")
        stored = np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)

        folder = self.folder(digit)
        moment = self._next_moment()
        drawing_id = self._new_id(folder, moment)
        drawing = Drawing(
            id=drawing_id, digit=digit, image_path=folder / f"{drawing_id}.png", strokes=_as_stored(strokes),
            answer=None if answer is None else int(answer),
            confidence=None if confidence is None else float(confidence),
            model=str(model), created=_timestamp(moment),
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(drawing.meta_path, _meta_bytes(drawing))
            try:
                atomic.write_bytes(drawing.image_path, _png_bytes(stored))
            except BaseException:
                drawing.meta_path.unlink(missing_ok=True)
                raise
        except OSError as error:
            raise CollectionError(
                f"Could not save the drawing in {folder}: {_reason(error)}. The drawings already collected are "
                "unchanged."
            ) from None
        object.__setattr__(drawing, "_pixels", stored.astype(np.float32) / 255.0)
        return drawing

    def remove(self, drawing: Drawing) -> None:
        """Delete a drawing (its PNG first, so it leaves the collection at once, then its JSON)."""
        try:
            drawing.image_path.unlink(missing_ok=True)
            drawing.meta_path.unlink(missing_ok=True)
        except OSError as error:
            raise CollectionError(f"Could not delete the drawing {drawing.image_path}: {_reason(error)}.") from None

    def _next_moment(self) -> datetime:
        """Now, but always after the last drawing added here, so ids sort in the order of adding."""
        moment = _now()
        if self._last_moment is not None and moment <= self._last_moment:
            moment = self._last_moment + timedelta(microseconds=1)
        self._last_moment = moment
        return moment

    @staticmethod
    def _new_id(folder: Path, moment: datetime) -> str:
        while True:
            candidate = f"{moment:{_ID_TIME_FORMAT}}-{secrets.token_hex(3)}"
            if not (folder / f"{candidate}.png").exists() and not (folder / f"{candidate}.json").exists():
                return candidate

    # --- reading ------------------------------------------------------------------------

    def _image_files(self, digit: int, problems: list[str]) -> list[Path]:
        try:
            entries = sorted(self.folder(digit).iterdir())
        except FileNotFoundError:
            return []
        except OSError as error:
            problems.append(f"{self.folder(digit)}: cannot be read ({_reason(error)})")
            return []
        return [entry for entry in entries if is_image_file(entry) and entry.is_file()]

    def counts(self) -> list[int]:
        """How many drawings each digit's folder holds (its image files: quick, nothing is decoded;
        ``drawings`` may then skip one it cannot read)."""
        return [len(self._image_files(digit, [])) for digit in range(NUM_CLASSES)]

    def drawings(self, digit: int | None = None) -> list[Drawing]:
        """The drawings (of ``digit``, or all), oldest first. Never raises: what cannot be read is
        skipped and listed in ``problems``."""
        self.problems = []
        found = []
        for each in range(NUM_CLASSES) if digit is None else [int(digit)]:
            for path in self._image_files(each, self.problems):
                drawing = self._read(each, path)
                if drawing is not None:
                    found.append(drawing)
        found.sort(key=lambda drawing: (drawing.created, drawing.id))
        return found

    def _read(self, digit: int, path: Path) -> Drawing | None:
        try:
            pixels = _read_model_input(path)
        except ImageReadError as error:
            self.problems.append(f"{path}: {error}; skipped")
            return None
        meta = _read_meta(path.with_suffix(".json"))
        if isinstance(meta, str):
            self.problems.append(f"{path.with_suffix('.json')}: {meta}; the drawing is used without its strokes")
        known = meta if isinstance(meta, dict) else {}
        drawing = Drawing(
            id=path.stem, digit=digit, image_path=path, strokes=known.get("strokes"), answer=known.get("answer"),
            confidence=known.get("confidence"), model=known.get("model", ""),
            created=known.get("created") or _file_time(path),
        )
        object.__setattr__(drawing, "_pixels", pixels)
        return drawing


# --- the files ------------------------------------------------------------------------------


def _reason(error: OSError) -> str:
    return str(error.strerror or error)


def _as_stored(strokes: list[Stroke] | None) -> list[Stroke] | None:
    """A copy of the strokes as the JSON keeps them (to a hundred-thousandth of the canvas: far below a pixel)."""
    if strokes is None:
        return None
    return [Stroke(round(float(stroke.width), 6), [(round(float(x), 5), round(float(y), 5)) for x, y in stroke.points])
            for stroke in strokes]


def _png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _meta_bytes(drawing: Drawing) -> bytes:
    strokes = None if drawing.strokes is None else [
        {"width": stroke.width, "points": [[x, y] for x, y in stroke.points]}
        for stroke in drawing.strokes
    ]
    meta = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "id": drawing.id, "digit": drawing.digit,
        "answer": drawing.answer, "confidence": drawing.confidence, "model": drawing.model,
        "created": drawing.created, "strokes": strokes,
    }
    return (json.dumps(meta, separators=(",", ":")) + "\n").encode("utf-8")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _parse_strokes(value: object) -> list[Stroke] | None:
    if not isinstance(value, list):
        raise ValueError
    strokes = []
    for item in value:
        width = _number(item.get("width")) if isinstance(item, dict) else None
        points = item.get("points") if isinstance(item, dict) else None
        if width is None or width <= 0 or not isinstance(points, list):
            raise ValueError
        pairs = [(_number(p[0]), _number(p[1])) for p in points if isinstance(p, list) and len(p) == 2]
        if len(pairs) != len(points) or any(x is None or y is None for x, y in pairs):
            raise ValueError
        strokes.append(Stroke(width, pairs))
    return strokes


def strokes_beside(image_path: Path) -> list[Stroke] | str | None:
    """The strokes kept in the JSON beside a drawing's image: None when it kept none (or has no JSON),
    a string saying why they cannot be used when the JSON is unusable or its strokes hold no point."""
    meta = _read_meta(Path(image_path).with_suffix(".json"))
    if isinstance(meta, str):
        return meta
    strokes = None if meta is None else meta["strokes"]
    if strokes is not None and not any(stroke.points for stroke in strokes):
        return "its strokes hold no point"
    return strokes


def _read_meta(path: Path) -> dict | str | None:
    """A drawing's details as Drawing fields; None without a JSON; a string saying why it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return f"unreadable ({error})"
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        return "not a digitpad drawing's details"
    if not isinstance(data.get("format_version"), int) or data["format_version"] > FORMAT_VERSION:
        return "written by a newer digitpad"
    try:
        strokes = None if data.get("strokes") is None else _parse_strokes(data["strokes"])
    except ValueError:
        return "its strokes are malformed"
    answer = data.get("answer")
    confidence = _number(data.get("confidence"))
    created = data.get("created")
    return {
        "strokes": strokes,
        "answer": answer if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < 10 else None,
        "confidence": confidence if confidence is not None and 0.0 <= confidence <= 1.0 else None,
        "model": data["model"] if isinstance(data.get("model"), str) else "",
        "created": created if isinstance(created, str) else None,
    }


def _file_time(path: Path) -> str:
    """When a file was last written, as a drawing's time (for drawings that are only an image)."""
    try:
        return _timestamp(datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
    except OSError:
        return ""
