"""The drawing surface: strokes painted into an image, kept as vectors.

Strokes are stored in coordinates relative to the canvas's centred square
(the shorter side is 1.0), so a resize re-renders the same digit at the new
size. The image is grayscale with white ink on black, MNIST's polarity, and
``paintEvent`` only copies it to the screen.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from digitpad.strokes import Stroke

# Pen width as a fraction of the canvas's shorter side. A digit drawn about
# 65 % as tall as the canvas then has strokes about 1/8 of its height thick,
# close to MNIST's 2-3 px strokes on a 20 px digit.
DEFAULT_PEN_WIDTH = 0.08
MIN_PEN_WIDTH = 0.02
MAX_PEN_WIDTH = 0.20

# How often a stroke in progress asks for a prediction (ms): once a frame at
# 60 Hz, so the bars move as smoothly as the ink. Predicting this often also
# keeps the classifier's code and weights in the CPU's caches, so the
# prediction at the stroke's release runs warm; it costs a little CPU while the
# pen is down, and nothing otherwise (tests/bench/RESULTS.md, "Figures behind the code's choices").
LIVE_PREDICTION_INTERVAL_MS = 16

# Moves shorter than this (device-independent px) add nothing visible.
_MIN_STEP = 0.75

INK = 255
PAPER = 0


def _mid(a: QPointF, b: QPointF) -> QPointF:
    return QPointF((a.x() + b.x()) / 2.0, (a.y() + b.y()) / 2.0)


def _dot(painter: QPainter, centre: QPointF) -> None:
    """A round dot as wide as the pen: filled directly, since a wide-pen drawPoint is slow."""
    radius = painter.pen().widthF() / 2.0
    path = QPainterPath()
    path.addEllipse(centre, radius, radius)
    painter.fillPath(path, painter.pen().color())


class DrawingCanvas(QWidget):
    """Freehand canvas: ``strokes()`` as drawn, ``to_array()`` as shown (white-on-black uint8 (H, W))."""

    stroke_started = Signal()
    # A stroke in progress changed (throttled to LIVE_PREDICTION_INTERVAL_MS).
    stroke_changed = Signal()
    stroke_finished = Signal()
    stroke_undone = Signal()
    cleared = Signal()
    # A digit key (0-9, top row or keypad) was pressed on the canvas: the digit.
    digit_pressed = Signal(int)
    # Strokes were put back (``restore``), e.g. when a correction is taken back.
    strokes_restored = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setAccessibleName("Drawing canvas")
        self.setAccessibleDescription("Draw a digit here with the mouse or a pen")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 240)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self._strokes: list[Stroke] = []
        self._current: Stroke | None = None
        self._pen_width = DEFAULT_PEN_WIDTH
        # Widget-space points of the stroke in progress, for incremental drawing.
        self._live: list[QPointF] = []
        self._painter: QPainter | None = None
        self._image = QImage()
        self._hint = "Draw a digit here"

        # Repeating while the ink keeps changing: a single shot restarted by each
        # move would tick later than once a frame.
        self._live_timer = QTimer(self)
        self._live_timer.setObjectName("live_prediction_timer")
        self._live_timer.setInterval(LIVE_PREDICTION_INTERVAL_MS)
        self._live_timer.timeout.connect(self._emit_live_change)
        self._changed_since_live = False

    # ----------------------------------------------------------------- public

    def sizeHint(self) -> QSize:
        return QSize(440, 440)

    def pen_width(self) -> float:
        return self._pen_width

    def set_pen_width(self, fraction: float) -> None:
        """Width for strokes drawn from now on, as a fraction of the shorter side."""
        self._pen_width = min(MAX_PEN_WIDTH, max(MIN_PEN_WIDTH, float(fraction)))

    def live_interval(self) -> int:
        return self._live_timer.interval()

    def set_live_interval(self, milliseconds: float) -> None:
        """Emit ``stroke_changed`` at most this often, but never more than once a frame."""
        interval = max(LIVE_PREDICTION_INTERVAL_MS, math.ceil(milliseconds))
        # Only on a change: a new interval restarts a running timer, delaying its next tick.
        if interval != self._live_timer.interval():
            self._live_timer.setInterval(interval)

    def stroke_count(self) -> int:
        return len(self._strokes)

    def is_empty(self) -> bool:
        return not self._strokes and self._current is None

    def is_drawing(self) -> bool:
        return self._current is not None

    def strokes(self, include_current: bool = False) -> list[Stroke]:
        """Copies of the finished strokes, and of the one in progress if asked (unit coordinates)."""
        strokes = self._strokes + [self._current] if include_current and self._current is not None else self._strokes
        return [Stroke(s.width, list(s.points)) for s in strokes]

    @Slot()
    def clear(self) -> None:
        was_empty = self.is_empty()
        self._end_stroke_painter()
        self._live_timer.stop()
        self._current = None
        self._live = []
        self._strokes.clear()
        self._render_all()
        self.update()
        if not was_empty:
            self.cleared.emit()

    def restore(self, strokes: list[Stroke]) -> None:
        """Show ``strokes`` (unit coordinates, as ``strokes()`` gives them) instead of what is drawn."""
        self._end_stroke_painter()
        self._live_timer.stop()
        self._current = None
        self._live = []
        self._strokes = [Stroke(s.width, list(s.points)) for s in strokes]
        self._render_all()
        self.update()
        self.strokes_restored.emit()

    @Slot()
    def undo(self) -> None:
        """Remove the last finished stroke (ignored while a stroke is drawn)."""
        if self._current is not None or not self._strokes:
            return
        self._strokes.pop()
        self._render_all()
        self.update()
        if self._strokes:
            self.stroke_undone.emit()
        else:
            self.cleared.emit()

    def to_array(self) -> np.ndarray:
        """The drawing as shown, uint8 (H, W) in device pixels: white (255) ink on black (0).

        The model is shown ``strokes()`` redrawn instead (see digitpad.strokes).
        """
        self._ensure_image()
        image = self._image
        height, width = image.height(), image.width()
        if height == 0 or width == 0:
            return np.zeros((0, 0), dtype=np.uint8)
        buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
        pixels = buffer.reshape(height, image.bytesPerLine())[:, :width]
        return pixels.copy()

    # ---------------------------------------------------------------- drawing

    def _side(self) -> float:
        return float(max(1, min(self.width(), self.height())))

    def _to_unit(self, p: QPointF) -> tuple[float, float]:
        side = self._side()
        return ((p.x() - self.width() / 2.0) / side, (p.y() - self.height() / 2.0) / side)

    def _to_widget(self, u: tuple[float, float]) -> QPointF:
        side = self._side()
        return QPointF(self.width() / 2.0 + u[0] * side, self.height() / 2.0 + u[1] * side)

    def _make_pen(self, width_fraction: float) -> QPen:
        pen = QPen(QColor(INK, INK, INK))
        pen.setWidthF(max(1.0, width_fraction * self._side()))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen

    def _new_image(self) -> QImage:
        ratio = self.devicePixelRatioF()
        image = QImage(
            max(1, round(self.width() * ratio)),
            max(1, round(self.height() * ratio)),
            QImage.Format.Format_Grayscale8,
        )
        image.setDevicePixelRatio(ratio)
        image.fill(PAPER)
        return image

    def _ensure_image(self) -> None:
        ratio = self.devicePixelRatioF()
        expected = QSize(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        if self._image.isNull() or self._image.size() != expected:
            self._render_all()

    def _begin_painter(self) -> QPainter:
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        return painter

    def _render_all(self) -> None:
        """Re-render every stroke into a fresh image (resize, undo, clear)."""
        restart = self._painter is not None
        self._end_stroke_painter()
        self._image = self._new_image()
        strokes = list(self._strokes)
        if self._current is not None:
            strokes.append(self._current)
        if strokes:
            painter = self._begin_painter()
            for stroke in strokes:
                # One setPen per stroke, never per segment (see module notes).
                painter.setPen(self._make_pen(stroke.width))
                self._paint_stroke(painter, [self._to_widget(u) for u in stroke.points], final=stroke is not self._current)
            painter.end()
        if self._current is not None:
            self._live = [self._to_widget(u) for u in self._current.points]
            if restart:
                self._start_stroke_painter()

    @staticmethod
    def _paint_stroke(painter: QPainter, pts: list[QPointF], final: bool) -> None:
        if not pts:
            return
        if len(pts) == 1:
            _dot(painter, pts[0])
            return
        # Quadratic curves through the midpoints smooth out the mouse's jitter.
        path = QPainterPath(pts[0])
        path.lineTo(_mid(pts[0], pts[1]))
        for i in range(1, len(pts) - 1):
            path.quadTo(pts[i], _mid(pts[i], pts[i + 1]))
        if final:
            path.lineTo(pts[-1])
        painter.drawPath(path)

    def _start_stroke_painter(self) -> None:
        # Kept open for the whole stroke so the pen is set once per stroke.
        self._painter = self._begin_painter()
        assert self._current is not None
        self._painter.setPen(self._make_pen(self._current.width))

    def _end_stroke_painter(self) -> None:
        if self._painter is not None:
            self._painter.end()
            self._painter = None

    def _dirty(self, *points: QPointF) -> None:
        assert self._current is not None
        margin = self._current.width * self._side() / 2.0 + 2.0
        xs = [p.x() for p in points]
        ys = [p.y() for p in points]
        rect = QRectF(min(xs) - margin, min(ys) - margin, max(xs) - min(xs) + 2 * margin, max(ys) - min(ys) + 2 * margin)
        self.update(rect.toAlignedRect())

    def _press(self, pos: QPointF) -> None:
        if self._current is not None:
            self._release(pos)
        self._ensure_image()
        if self.is_empty():
            # The hint text goes away: repaint it all, not just the pen's dirty rectangles.
            self.update()
        self._current = Stroke(self._pen_width, [self._to_unit(pos)])
        self._live = [QPointF(pos)]
        self._start_stroke_painter()
        assert self._painter is not None
        _dot(self._painter, pos)
        self._dirty(pos)
        self.stroke_started.emit()
        self._changed_since_live = True
        self._live_timer.start()

    def _move(self, pos: QPointF) -> None:
        if self._current is None or self._painter is None:
            return
        last = self._live[-1]
        if math.hypot(pos.x() - last.x(), pos.y() - last.y()) < _MIN_STEP:
            return
        self._live.append(QPointF(pos))
        self._current.points.append(self._to_unit(pos))
        pts = self._live
        segment = QPainterPath()
        if len(pts) == 2:
            segment.moveTo(pts[0])
            segment.lineTo(_mid(pts[0], pts[1]))
            dirty = (pts[0], pts[1])
        else:
            start = _mid(pts[-3], pts[-2])
            segment.moveTo(start)
            segment.quadTo(pts[-2], _mid(pts[-2], pts[-1]))
            dirty = (start, pts[-2], pts[-1])
        self._painter.drawPath(segment)
        self._dirty(*dirty)
        self._changed_since_live = True
        if not self._live_timer.isActive():
            self._live_timer.start()

    def _release(self, pos: QPointF) -> None:
        if self._current is None:
            return
        self._move(pos)
        if self._painter is not None and len(self._live) >= 2:
            tail = _mid(self._live[-2], self._live[-1])
            self._painter.drawLine(tail, self._live[-1])
            self._dirty(tail, self._live[-1])
        self._end_stroke_painter()
        self._live_timer.stop()
        self._strokes.append(self._current)
        self._current = None
        self._live = []
        self.stroke_finished.emit()

    @Slot()
    def _emit_live_change(self) -> None:
        if self._current is None or not self._changed_since_live:
            # The pen rests: nothing new to predict until it moves again.
            self._live_timer.stop()
            return
        self._changed_since_live = False
        self.stroke_changed.emit()

    # ----------------------------------------------------------------- events

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press(event.position())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._current is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._move(event.position())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._current is not None:
            self._release(event.position())
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QTabletEvent) -> None:
        # Pressure is ignored on purpose: MNIST strokes have an even width.
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self._press(event.position())
        elif kind == QTabletEvent.Type.TabletMove:
            if self._current is not None:
                self._move(event.position())
        elif kind == QTabletEvent.Type.TabletRelease:
            self._release(event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        digit = event.key() - Qt.Key.Key_0.value
        if 0 <= digit <= 9 and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.digit_pressed.emit(digit)
            event.accept()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._render_all()
        super().resizeEvent(event)

    def hideEvent(self, event) -> None:
        # A stroke cannot continue while hidden; finish it so nothing dangles.
        if self._current is not None and self._live:
            self._release(self._live[-1])
        super().hideEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        self._ensure_image()
        painter = QPainter(self)
        try:
            target = QRectF(event.rect())
            ratio = self._image.devicePixelRatio()
            source = QRectF(target.x() * ratio, target.y() * ratio, target.width() * ratio, target.height() * ratio)
            painter.drawImage(target, self._image, source)
            if self.is_empty():
                painter.setPen(QColor(130, 130, 130))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._hint)
        finally:
            painter.end()
