"""A wire from an output port to an input port, labelled with the shape of the tensor it carries."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from ...core.model.graph import Edge
from .. import style
from .block import HEIGHT, VERY_FAR, WIDTH, PortItem, level_of_detail


def wire_path(start: QPointF, end: QPointF, detour_x: float | None = None) -> QPainterPath:
    """A smooth vertical S from an output port (below a block) to an input port (above another);
    with detour_x, it runs down at that x instead, around blocks in the way (a skip connection)."""
    path = QPainterPath(start)
    if detour_x is None:
        bend = max(30.0, abs(end.y() - start.y()) / 2, abs(end.x() - start.x()) / 4)
        path.cubicTo(start + QPointF(0, bend), end - QPointF(0, bend), end)
        return path
    path.cubicTo(start + QPointF(0, 30), QPointF(detour_x, start.y() + 10), QPointF(detour_x, start.y() + 50))
    path.lineTo(detour_x, end.y() - 50)
    path.cubicTo(QPointF(detour_x, end.y() - 10), end - QPointF(0, 30), end)
    return path


LABEL_SPOTS = (0.5, 0.38, 0.62, 0.26, 0.74, 0.15, 0.85)  # where along a wire its label may sit, best first


class WireLabel(QGraphicsItem):
    """The tensor shape on a wire, in a small pill. It is an item of its own, drawn above the blocks, and sits
    on a stretch of its wire that no block covers."""

    def __init__(self, wire: WireItem) -> None:
        super().__init__()
        self.wire = wire
        self.text = ""
        self.font = QFont()
        self.font.setPointSizeF(7.5)
        self.rect = QRectF()
        self.setZValue(2.5)
        self.setVisible(False)

    def set_text(self, text: str) -> None:
        if text == self.text:
            return
        self.prepareGeometryChange()
        self.text = text
        width = QFontMetricsF(self.font).horizontalAdvance(text) + 10
        self.rect = QRectF(-width / 2, -8, width, 16)
        self.setVisible(bool(text) and self.wire.isVisible())

    def boundingRect(self) -> QRectF:
        return self.rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if level_of_detail(painter) < VERY_FAR:
            return  # too small to read: the names beside the blocks say more
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#d5d9e0"), 1))
        painter.setBrush(QColor("#ffffff"))
        painter.drawRoundedRect(self.boundingRect(), 7, 7)
        painter.setFont(self.font)
        painter.setPen(style.TEXT_DIM)
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, self.text)


class WireItem(QGraphicsPathItem):
    def __init__(self, edge: Edge, source: PortItem, target: PortItem) -> None:
        super().__init__()
        self.edge, self.source, self.target = edge, source, target
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        self.label = WireLabel(self)
        source.block.wires.add(self)
        target.block.wires.add(self)
        self.update_path()

    def detach(self) -> None:
        self.source.block.wires.discard(self)
        self.target.block.wires.discard(self)
        if self.label.scene() is not None:
            self.label.scene().removeItem(self.label)

    def update_path(self) -> None:
        scene = self.scene()
        ends = scene.wire_ends(self) if scene is not None else (self.source.scenePos(), self.target.scenePos())
        self.setVisible(ends is not None)
        if ends is None:  # both ends inside the same collapsed group
            self.label.setVisible(False)
            return
        start, end = ends
        path = wire_path(start, end, self._detour(start, end))
        self.setPath(path)
        self._place_label(path)

    def _place_label(self, path: QPainterPath) -> None:
        spot = self._label_spot(path)
        self.label.setVisible(bool(self.label.text) and spot is not None)
        if spot is not None:
            self.label.setPos(spot)

    def _label_spot(self, path: QPainterPath) -> QPointF | None:
        """The first spot along the wire where the label covers no block and no group's title; else the middle,
        unless that is on a group's title: then None (no label: the shape is written on the block it leaves)."""
        scene = self.scene()
        if scene is None:
            return path.pointAtPercent(0.5)
        for t in LABEL_SPOTS:
            point = path.pointAtPercent(t)
            area = self.label.rect.translated(point) if not self.label.rect.isEmpty() else QRectF(point, point)
            if not scene.blocks_in(area) and not scene.headers_in(area):
                return point
        point = path.pointAtPercent(0.5)
        area = self.label.rect.translated(point) if not self.label.rect.isEmpty() else QRectF(point, point)
        return None if scene.headers_in(area) else point

    def _detour(self, start: QPointF, end: QPointF) -> float | None:
        """Where to run a wire that would pass behind other blocks: right of them; None if the way is clear."""
        scene = self.scene()
        if scene is None or end.y() - start.y() < 2 * HEIGHT or abs(end.x() - start.x()) > WIDTH:
            return None
        strip = QRectF(min(start.x(), end.x()) - 4, start.y() + 12, abs(end.x() - start.x()) + 8,
                       end.y() - start.y() - 24)
        ends = (self.source.block, self.target.block)
        blocks = [item for item in scene.blocks_in(strip) if item not in ends]
        if not blocks:
            return None
        return max(block.sceneBoundingRect().right() for block in blocks) + 18

    def set_shape_text(self, text: str) -> None:
        if text != self.label.text:
            self.label.set_text(text)
            if self.scene() is not None and self.isVisible():
                self._place_label(self.path())

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self.path())

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = style.SELECTION if self.isSelected() else style.WIRE
        painter.setPen(QPen(colour, 2.4 if self.isSelected() else 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
