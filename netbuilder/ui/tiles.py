"""Widgets that show what a probe sees: tiles in a grid (feature maps, filters, saliency), bars (a vector, a
classifier's probabilities), and a pad to draw a digit on.

The tiles arrive as RGB arrays made off the GUI thread (core/probe_pictures.py); here they only become
QImages and are painted, scaled by whole factors so that each pixel of a map stays a crisp square.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from . import style

CAPTION = 14
GAP = 4


def to_qimage(tile) -> QImage:
    """An H x W x 3 uint8 array (a torch tensor or numpy array) as a QImage that owns its pixels."""
    pixels = np.ascontiguousarray(tile.numpy() if hasattr(tile, "numpy") else tile)
    h, w = pixels.shape[:2]
    return QImage(pixels.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class TileGrid(QWidget):
    """Tiles with a caption each, wrapped to the width; a grid with a meaning (rows x columns of filters) keeps
    its columns. Hovering over a tile shows its caption; `tile_size` is the size a tile is drawn at (about)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[QImage] = []
        self.captions: list[str] = []
        self.columns: int | None = None
        self.tile_size = 72
        self._font = QFont(self.font())
        self._font.setPointSizeF(7.5)
        self._metrics = QFontMetrics(self._font)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def show_tiles(self, tiles) -> None:
        self.images = [to_qimage(t) for t in tiles.images]
        self.captions = list(tiles.captions)
        self.columns = tiles.columns
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self.images, self.captions = [], []
        self.updateGeometry()
        self.update()

    def set_tile_size(self, size: int) -> None:
        self.tile_size = size
        self.updateGeometry()
        self.update()

    def _cell(self) -> tuple[int, int, int]:
        """(drawn width, drawn height, scale) of a tile: whole multiples of the largest one's pixels."""
        if not self.images:
            return 0, 0, 1
        h = max(i.height() for i in self.images)
        w = max(i.width() for i in self.images)
        target = self.tile_size if self.columns is None else max(6, self.tile_size // 4)
        scale = target / max(h, w)
        scale = max(1, math.floor(scale)) if scale >= 1 else scale
        return max(1, round(w * scale)), max(1, round(h * scale)), scale

    def _label(self, i: int) -> str:
        """What is written under a tile: its caption without the channel number (hovering shows it all)."""
        return self.captions[i].partition(": ")[2] or self.captions[i]

    def _layout(self, width: int) -> tuple[int, int, int, int]:
        """(columns, cell width, cell height, drawn tile height)."""
        w, h, _ = self._cell()
        captioned = any(self.captions)
        label_w = max((self._metrics.horizontalAdvance(self._label(i)) for i in range(len(self.captions))), default=0)
        cell_w = max(w, label_w + 2) if captioned and self.columns is None else w
        gap = 1 if self.columns else GAP
        columns = self.columns or max(1, (width + gap) // (cell_w + gap))
        return columns, cell_w + gap, h + (CAPTION if captioned else 0) + gap, h

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if not self.images:
            return 0
        columns, _, cell_h, _ = self._layout(width)
        return math.ceil(len(self.images) / columns) * cell_h

    def sizeHint(self) -> QSize:
        columns, cell_w, _, _ = self._layout(max(self.width(), 200))
        width = min(columns, len(self.images) or 1) * cell_w
        return QSize(width, self.heightForWidth(max(self.width(), width)))

    def minimumSizeHint(self) -> QSize:
        return QSize(60, self.heightForWidth(max(self.width(), 60)))

    def _rects(self):
        columns, cell_w, cell_h, _ = self._layout(self.width())
        w, h, _ = self._cell()
        for i in range(len(self.images)):
            r, c = divmod(i, columns)
            yield i, QRect(c * cell_w, r * cell_h, w, h)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.setFont(self._font)
        painter.setPen(style.TEXT_DIM)
        visible = event.rect()
        cell_w = self._layout(self.width())[1]
        for i, rect in self._rects():
            if not rect.adjusted(0, 0, 0, CAPTION).intersects(visible):
                continue
            painter.drawImage(rect, self.images[i])
            if self.captions[i] and self.columns is None:
                painter.drawText(QRect(rect.left(), rect.bottom() + 1, cell_w, CAPTION),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self._label(i))

    def tile_at(self, pos: QPoint) -> int | None:
        for i, rect in self._rects():
            if rect.contains(pos):
                return i
        return None

    def mouseMoveEvent(self, event) -> None:
        i = self.tile_at(event.position().toPoint())
        if i is None:
            QToolTip.hideText()
            return
        text = self.captions[i] or (f"output {i // self.columns}, input {i % self.columns}" if self.columns else "")
        if text:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)


class BarChart(QWidget):
    """Bars with a label each (a vector's values, a classifier's probabilities); one may be highlighted."""

    def __init__(self, height: int = 110) -> None:
        super().__init__()
        self.values: list[float] = []
        self.labels: list[str] = []
        self.highlight: int | None = None
        self.setMinimumHeight(height)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(height)
        self.setMouseTracking(True)

    def show_bars(self, bars) -> None:
        self.values, self.labels, self.highlight = list(bars.values), list(bars.labels), bars.highlight
        self.update()

    def clear(self) -> None:
        self.values, self.labels = [], []
        self.update()

    def _geometry(self) -> tuple[float, float, float, float, float]:
        n = max(1, len(self.values))
        bar_w = min(40.0, (self.width() - 8) / n)
        low = min(0.0, min(self.values, default=0.0))
        high = max(0.0, max(self.values, default=0.0))
        labelled = bar_w >= 12
        chart_h = self.height() - (16 if labelled else 4) - 14
        return bar_w, low, high, chart_h, labelled

    def paintEvent(self, event) -> None:
        if not self.values:
            return
        painter = QPainter(self)
        bar_w, low, high, chart_h, labelled = self._geometry()
        span = (high - low) or 1.0
        top = 14.0
        zero = top + chart_h * high / span
        font = QFont(self.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(QPen(QColor("#c0c4cc"), 1))
        painter.drawLine(QPointF(4, zero), QPointF(4 + bar_w * len(self.values), zero))
        for i, v in enumerate(self.values):
            x = 4 + i * bar_w
            y = top + chart_h * (high - v) / span
            colour = style.ERROR if i == self.highlight else style.SELECTION
            painter.fillRect(QRectF(x + (1 if bar_w > 3 else 0), min(y, zero), max(bar_w - 2, 1), abs(zero - y)), colour)
            if labelled:
                painter.setPen(style.TEXT_DIM)
                painter.drawText(QRectF(x, top + chart_h + 2, bar_w, 14), Qt.AlignmentFlag.AlignHCenter,
                                 self.labels[i])
                if bar_w >= 28:
                    painter.drawText(QRectF(x - 4, min(y, zero) - 13, bar_w + 8, 12), Qt.AlignmentFlag.AlignHCenter,
                                     f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}")

    def mouseMoveEvent(self, event) -> None:
        if not self.values:
            return
        bar_w = self._geometry()[0]
        i = int((event.position().x() - 4) // bar_w)
        if 0 <= i < len(self.values):
            QToolTip.showText(event.globalPosition().toPoint(), f"{self.labels[i]}: {self.values[i]:.4g}", self)


class DrawPad(QWidget):
    """Draw a digit with the mouse (white on black, as MNIST's are); on each release the drawing is sent as a
    28 x 28 array in 0..1, scaled to fit 20 x 20 and centred by its centre of mass, as MNIST's digits were."""

    drawn = Signal(object)  # numpy float32 28 x 28

    SIZE = 168

    def __init__(self) -> None:
        super().__init__()
        self.setFixedSize(self.SIZE, self.SIZE)
        self.canvas = QImage(self.SIZE, self.SIZE, QImage.Format.Format_Grayscale8)
        self.canvas.fill(0)
        self._last: QPointF | None = None
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit; right-click to clear")

    def clear(self) -> None:
        self.canvas.fill(0)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self.canvas)
        painter.setPen(QPen(QColor("#8f98a8"), 1))
        painter.drawRect(0, 0, self.SIZE - 1, self.SIZE - 1)

    def _stroke(self, to: QPointF) -> None:
        painter = QPainter(self.canvas)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("white"), self.SIZE / 11, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(self._last or to, to)
        painter.end()
        self._last = to
        self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.clear()
            self.drawn.emit(self.digit())
            return
        self._last = None
        self._stroke(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._stroke(event.position())

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self.drawn.emit(self.digit())

    def set_pixels(self, pixels: np.ndarray) -> None:
        """Show a drawing given as an array in 0..1 (tests, or a digit put back)."""
        grey = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
        image = QImage(grey.tobytes(), grey.shape[1], grey.shape[0], grey.shape[1], QImage.Format.Format_Grayscale8)
        self.canvas = image.scaled(self.SIZE, self.SIZE, Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation).convertToFormat(
            QImage.Format.Format_Grayscale8)
        self.update()

    def digit(self) -> np.ndarray:
        """The drawing as MNIST would have it: 28 x 28 in 0..1, the ink fitted to 20 x 20 and centred by mass."""
        pixels = _grey_array(self.canvas)
        ink = np.argwhere(pixels > 20)
        out = np.zeros((28, 28), np.float32)
        if not len(ink):
            return out
        (top, left), (bottom, right) = ink.min(0), ink.max(0) + 1
        crop = self.canvas.copy(QRect(int(left), int(top), int(right - left), int(bottom - top)))
        crop = crop.scaled(20, 20, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        small = _grey_array(crop).astype(np.float32) / 255
        h, w = small.shape
        mass = small.sum()
        cy, cx = (np.arange(h) @ small.sum(1)) / mass, (np.arange(w) @ small.sum(0)) / mass
        y0 = int(np.clip(round(14 - cy - 0.5), 0, 28 - h))
        x0 = int(np.clip(round(14 - cx - 0.5), 0, 28 - w))
        out[y0:y0 + h, x0:x0 + w] = small
        return out


def _grey_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    return np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)[:, :w].copy()


def gradient_bar(width: int, height: int, colours: list[tuple[int, int, int]]) -> QImage:
    """A horizontal colour bar through the given colours (a legend)."""
    image = QImage(width, height, QImage.Format.Format_RGB888)
    painter = QPainter(image)
    for x in range(width):
        t = x / max(width - 1, 1) * (len(colours) - 1)
        i = min(int(t), len(colours) - 2)
        f = t - i
        r, g, b = (round(colours[i][k] * (1 - f) + colours[i + 1][k] * f) for k in range(3))
        painter.setPen(QColor(r, g, b))
        painter.drawLine(x, 0, x, height)
    painter.end()
    return image
