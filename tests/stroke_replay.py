"""Replay the MNIST test digits' pen strokes (../shared/strokes) as real mouse drags.

Shared by the benchmarks and the GUI soak tests. The strokes come in MNIST's
28x28 pixel frame; a person draws the digit where MNIST puts it in its frame,
so that frame is mapped onto the canvas's centred square.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
STROKES_DIR = REPO_ROOT.parent / "shared" / "strokes" / "mnist-stroke-sequences"
MNIST_FRAME = 28.0


def _load_npy_from_tar(path: Path) -> np.ndarray:
    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(".npy"))
        return np.load(io.BytesIO(archive.extractfile(member).read()))


def load_stroke_set(folder: Path = STROKES_DIR) -> tuple[np.ndarray, np.ndarray]:
    """(sequences (N, T, 4), labels (N,)); raises FileNotFoundError where the set is absent."""
    sequences = _load_npy_from_tar(folder / "test-padded-leading.tar.gz")
    labels = _load_npy_from_tar(folder / "test-labels.tar.gz").astype(np.int64)
    return sequences, labels


def strokes_of(sequence: np.ndarray) -> list[np.ndarray]:
    """One sample's strokes as (K, 2) arrays of (x, y) in MNIST pixels."""
    rows = sequence[np.abs(sequence).sum(axis=1) > 0]
    positions = np.cumsum(rows[:, :2], axis=0)
    strokes, current = [], []
    for position, row in zip(positions, rows):
        current.append(position)
        if row[2] == 1 or row[3] == 1:
            strokes.append(np.array(current))
            current = []
    if current:
        strokes.append(np.array(current))
    return strokes


def to_canvas_points(
    strokes: list[np.ndarray], width: int, height: int, rng: np.random.Generator | None = None
) -> list[list[tuple[float, float]]]:
    """Map MNIST's 28-pixel frame onto the canvas's centred square.

    With ``rng``, the digit is drawn as people draw: somewhere between 0.7x and
    1.3x that size, anywhere it fits on the canvas.
    """
    side = min(width, height)
    scale = side / MNIST_FRAME
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    target = np.array([width / 2, height / 2])
    if rng is not None:
        scale *= rng.uniform(0.7, 1.3)
        room = np.maximum(np.array([width, height]) / 2 - (high - low) * scale / 2 - 0.06 * side, 0)
        target = target + rng.uniform(-room, room)
    return [[tuple(target + (point - centre) * scale) for point in stroke] for stroke in strokes]


def distances_along(path: np.ndarray) -> np.ndarray:
    """How far along a (K, 2) path each of its points lies: 0 for the first, its length for the last."""
    return np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))))


def points_at(path: np.ndarray, along: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """(N, 2): the points at distances ``stops`` along ``path``, whose points lie at ``along``."""
    return np.column_stack([np.interp(stops, along, path[:, 0]), np.interp(stops, along, path[:, 1])])


def at_mouse_rate(points: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """The same path with a point every ``step`` pixels along it, as a mouse that reports often records it."""
    path = np.asarray(points, dtype=np.float64)
    if len(path) < 2:
        return list(points)
    along = distances_along(path)
    stops = np.linspace(0.0, along[-1], max(2, int(along[-1] / step) + 1))
    return [tuple(point) for point in points_at(path, along, stops)]


def redraw_at(span: int | None = None, pen: int | None = None) -> None:
    """Make ``digitpad.strokes`` redraw drawings ``span`` px across (its pen and step scaled with it), or
    with a ``pen`` px wide, for comparing redraws in one run; None keeps the app's."""
    from digitpad import strokes

    if span is not None:
        scale = span / strokes.REDRAW_SPAN_PX
        strokes.REDRAW_SPAN_PX = span
        strokes.REDRAW_PEN_PX = round(strokes.REDRAW_PEN_PX * scale)
        strokes.REDRAW_STEP_PX *= scale
    if pen is not None:
        strokes.REDRAW_PEN_PX = pen


def send_mouse_event(widget, kind, point: tuple[float, float], button, buttons) -> None:
    """One real QMouseEvent at ``point`` (widget coordinates), delivered to ``widget``."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(*point)
    event = QMouseEvent(kind, local, widget.mapToGlobal(local), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(widget, points: list[tuple[float, float]]) -> None:
    """Press, move with the left button held (QTest's moves carry no button), release."""
    from PySide6.QtCore import QEvent, Qt

    left, no_button = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send_mouse_event(widget, QEvent.Type.MouseButtonPress, points[0], left, left)
    for point in points[1:]:
        send_mouse_event(widget, QEvent.Type.MouseMove, point, no_button, left)
    send_mouse_event(widget, QEvent.Type.MouseButtonRelease, points[-1], left, no_button)


def draw_sample(
    canvas,
    sequence: np.ndarray,
    rng: np.random.Generator | None = None,
    transform: np.ndarray | None = None,
    mouse_step: float | None = None,
    tremor: tuple[float, np.random.Generator] | None = None,
) -> None:
    """Replay one sample; ``transform`` (2x2, x right and y down) first slants, turns or squashes it.

    ``mouse_step``: a point every this many pixels along each stroke, instead of
    the skeleton's points (one per MNIST pixel, 9 to 17 canvas pixels apart on a
    360 px canvas). ``tremor``: (pixels, generator), every point then moved at
    random by that much (the standard deviation), as an unsteady hand.
    """
    strokes = strokes_of(sequence)
    if transform is not None:
        strokes = [stroke @ np.asarray(transform).T for stroke in strokes]
    for stroke in to_canvas_points(strokes, canvas.width(), canvas.height(), rng):
        if mouse_step is not None:
            stroke = at_mouse_rate(stroke, mouse_step)
        if tremor is not None:
            pixels, shaky = tremor
            stroke = [tuple(point) for point in np.asarray(stroke) + shaky.normal(0.0, pixels, size=(len(stroke), 2))]
        drag(canvas, stroke)
