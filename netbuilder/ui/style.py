"""Colours, fonts and resources shared by the widgets."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from ..core.base.files import shipped

RESOURCES = shipped("resources")  # icons and the style sheet (core/base/files.py says where they are)

CATEGORY_COLOURS = {
    "io": "#5b6472",
    "dense": "#2f6fde",
    "conv": "#0f8f85",
    "pool": "#2e9d4f",
    "norm": "#8a4fd6",
    "activation": "#e0702a",
    "shape": "#5f7388",
    "merge": "#cf3f84",
    "recurrent": "#b8860b",
    "attention": "#c0392b",
    "math": "#7a6a3a",
}
CANVAS = QColor("#f4f5f7")
GRID_MINOR = QColor("#e8eaee")
GRID_MAJOR = QColor("#dcdfe5")
BLOCK_FILL = QColor("#ffffff")
BLOCK_BORDER = QColor("#c9ced6")
TEXT = QColor("#1f2430")
TEXT_DIM = QColor("#6a7282")
SELECTION = QColor("#2f6fde")
ERROR = QColor("#d93025")
WIRE = QColor("#8f98a8")
WARNING = QColor("#c77c02")
INFO = QColor("#2f6fde")
SEVERITY_COLOURS = {"error": ERROR, "warning": WARNING, "info": INFO}
GROUP_FILL = QColor(47, 111, 222, 14)
GROUP_BORDER = QColor("#7a869c")
GROUP_TEXT = QColor("#3d4a61")


def category_colour(category: str) -> QColor:
    return QColor(CATEGORY_COLOURS.get(category, "#5b6472"))


def icon(name: str) -> QIcon:
    return QIcon(str(RESOURCES / "icons" / f"{name}.svg"))


def style_sheet() -> str:
    return (RESOURCES / "style.qss").read_text(encoding="utf-8")


def severity_icon(severity: str, size: int = 16) -> QIcon:
    """An error (a red disc), a warning (an amber triangle) or advice (a blue disc), drawn rather than taken from a
    font, which may not have the sign."""
    pixmap = QPixmap(size * 2, size * 2)  # drawn at twice the size: crisp on high-density screens
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(SEVERITY_COLOURS[severity])
    s = size * 2
    if severity == "warning":
        painter.drawPolygon([QPointF(s / 2, 2), QPointF(s - 2, s - 3), QPointF(2, s - 3)])
    else:
        painter.drawEllipse(QRectF(2, 2, s - 4, s - 4))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(s * 0.6))
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(QRectF(0, s * 0.08 if severity == "warning" else 0, s, s), Qt.AlignmentFlag.AlignCenter,
                     "i" if severity == "info" else "!")
    painter.end()
    pixmap.setDevicePixelRatio(2)
    return QIcon(pixmap)
