"""Pictures of samples: a grid of thumbnails with captions (dataset preview, test predictions), a scatter plot
for 2-D point datasets, and what a generator or an autoencoder makes (scaled to the room it is given)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.data import Dataset
from . import style

THUMB = 56
CAPTION = 16
CLASS_COLOURS = ["#2f6fde", "#e0702a", "#2e9d4f", "#cf3f84", "#8a4fd6", "#0f8f85", "#b8860b", "#5b6472",
                 "#d93025", "#5f7388"]


def to_image(sample: torch.Tensor) -> QImage | None:
    """A C x H x W (C = 1 or 3) tensor as an image, its values stretched to 0..255; None if not an image."""
    if sample.dim() != 3 or sample.shape[0] not in (1, 3):
        return None
    x = sample.detach().float().cpu()
    x = (x - x.min()) / (x.max() - x.min()).clamp_min(1e-8)
    pixels = (x * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    h, w, c = pixels.shape
    if c == 1:
        image = QImage(pixels.tobytes(), w, h, w, QImage.Format.Format_Grayscale8)
    else:
        image = QImage(pixels.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: the numpy buffer goes away


class SampleGrid(QWidget):
    """Thumbnails with a caption each; a caption marked wrong is drawn in red."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[QPixmap | None, str, bool]] = []
        self.setMinimumHeight(THUMB + CAPTION + 8)

    def show_samples(self, samples: list[tuple[torch.Tensor, str, bool]]) -> None:
        """samples: (tensor, caption, wrong)."""
        self.items = []
        for tensor, caption, wrong in samples:
            image = to_image(tensor)
            pixmap = QPixmap.fromImage(image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.FastTransformation)) if image else None
            self.items.append((pixmap, caption, wrong))
        self.updateGeometry()
        self.update()

    def _columns(self) -> int:
        return max(1, self.width() // (THUMB + 10))

    def sizeHint(self) -> QSize:
        rows = max(1, -(-len(self.items) // self._columns()))
        return QSize(8 * (THUMB + 10), rows * (THUMB + CAPTION + 8))

    def heightForWidth(self, width: int) -> int:
        return max(1, -(-len(self.items) // max(1, width // (THUMB + 10)))) * (THUMB + CAPTION + 8)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        font = painter.font()
        font.setPointSizeF(7.5)
        painter.setFont(font)
        columns = self._columns()
        for i, (pixmap, caption, wrong) in enumerate(self.items):
            x, y = (i % columns) * (THUMB + 10) + 4, (i // columns) * (THUMB + CAPTION + 8) + 4
            if pixmap is not None:
                painter.drawPixmap(x + (THUMB - pixmap.width()) // 2, y, pixmap)
            painter.setPen(style.ERROR if wrong else style.TEXT)
            painter.drawText(QRectF(x - 4, y + THUMB + 1, THUMB + 8, CAPTION), Qt.AlignmentFlag.AlignCenter, caption)
        painter.end()


class ScaledPicture(QWidget):
    """A picture drawn as large as its room allows, keeping its proportions (pixels stay crisp squares when it is
    enlarged). It asks for no room of its own: a large picture never makes the window grow."""

    def __init__(self) -> None:
        super().__init__()
        self.image: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self.update()

    def sizeHint(self) -> QSize:
        return self.image.size() if self.image is not None else QSize(160, 120)

    def minimumSizeHint(self) -> QSize:
        return QSize(32, 32)

    def drawn_rect(self) -> QRect:
        """Where the picture is drawn, in the widget."""
        if self.image is None or self.image.isNull():
            return QRect()
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect((self.width() - size.width()) // 2, (self.height() - size.height()) // 2, size.width(),
                     size.height())

    def paintEvent(self, event) -> None:
        if self.image is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                              self.drawn_rect().width() < self.image.width())  # enlarged: crisp pixels
        painter.drawImage(self.drawn_rect(), self.image)
        painter.end()


class MadeSamples(QWidget):
    """What the network makes while it trains (generated samples, reconstructions), with its caption, its legend
    and the epoch it was made at."""

    HINT = "A generator's samples, or an autoencoder's reconstructions, appear here while it trains."

    def __init__(self) -> None:
        super().__init__()
        self.picture = ScaledPicture()
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.hint = QLabel(self.HINT)
        self.hint.setObjectName("help")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)
        layout.addWidget(self.hint, 1)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        self.clear()

    def clear(self) -> None:
        """Nothing made yet (another network, or a new run)."""
        self.picture.set_image(None)
        self.picture.hide()
        self.caption.setText("")
        self.hint.show()

    def show_picture(self, image: QImage, caption: str, legend=(), epoch: tuple[int, int] | None = None) -> None:
        """legend: (words, colour) pairs; epoch: (epoch, of epochs)."""
        self.picture.set_image(image)
        self.picture.show()
        self.hint.hide()
        words = caption.split(" (")[0] if legend else caption  # the legend says what the colours are
        when = f" after epoch {epoch[0]} of {epoch[1]}" if epoch else ""
        keys = "".join(f"&nbsp;&nbsp;<span style='color:{colour}'>●</span>&nbsp;{name}" for name, colour in legend)
        self.caption.setText(f"{words}{when}{keys}")

    def show_saved(self, image: QImage, caption: str) -> None:
        """A picture shown before, with its caption as it was written then (a run read back from its folder)."""
        self.picture.set_image(image)
        self.picture.show()
        self.hint.hide()
        self.caption.setText(caption)


def label_of(dataset: Dataset, value: torch.Tensor) -> str:
    if dataset.classes is not None:
        if value.numel() > 1:  # a sequence of classes (tokens)
            names = [dataset.classes[int(v)] for v in value.reshape(-1)[:8]]
            return " ".join(names) + (" …" if value.numel() > 8 else "")
        return dataset.classes[int(value)]
    return ", ".join(f"{float(v):.3g}" for v in value.reshape(-1)[:3])


def preview_items(dataset: Dataset, count: int = 24) -> list[tuple[torch.Tensor, str, bool]]:
    """A few samples of every class, in turn, with their labels."""
    if dataset.classes is None:
        index = torch.arange(min(count, len(dataset)))
    else:
        per_class = [torch.nonzero(dataset.y == c).flatten()[:count] for c in range(dataset.num_classes)]
        order = [int(ids[i]) for i in range(count) for ids in per_class if i < len(ids)]
        index = torch.tensor(order[:count], dtype=torch.long)
    return [(dataset.x[i], label_of(dataset, dataset.y[i]), False) for i in index.tolist()]


def scatter(dataset: Dataset) -> pg.PlotWidget:
    """2-D points coloured by class."""
    widget = pg.PlotWidget()
    widget.setAspectLocked(True)
    points = dataset.x.numpy()
    for c in range(max(dataset.num_classes, 1)):
        mask = (dataset.y.numpy() == c) if dataset.classes else np.ones(len(points), bool)
        colour = QColor(CLASS_COLOURS[c % len(CLASS_COLOURS)])
        widget.plot(points[mask, 0], points[mask, 1], pen=None, symbol="o", symbolSize=4,
                    symbolBrush=colour, symbolPen=None,
                    name=dataset.classes[c] if dataset.classes else None)
    return widget
