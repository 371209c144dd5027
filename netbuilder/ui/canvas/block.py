"""A layer block on the canvas and its ports. Data flows top to bottom: inputs on top, output below.

A BlockItem is a view of one Node: it never edits the graph itself. Dragging from a port starts a
wire (the scene decides what to do with it); moving a block is committed by the scene on release.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QApplication, QGraphicsEllipseItem, QGraphicsItem

from ...core.graph import Node
from ...core.layers.spec import format_shape
from ...core.shapes import NodeShapes, format_count
from .. import style

WIDTH, HEIGHT = 196.0, 66.0
PORT_RADIUS = 5.5
GRID = 10.0


def settings_text(node: Node, name_of=lambda node_id: node_id) -> str:
    """How a block's training settings read on its face: frozen, shares conv1, init xavier, [generator]."""
    words = []
    if node.frozen:
        words.append("frozen")
    if node.shares is not None:
        words.append(f"shares {name_of(node.shares)}")
    if node.init != "default":
        words.append(f"init {node.init}")
    if node.group is not None:
        words.append(f"[{node.group}]")
    return ", ".join(words)


class PortItem(QGraphicsEllipseItem):
    def __init__(self, block: BlockItem, name: str, is_output: bool, x: float) -> None:
        r = PORT_RADIUS
        super().__init__(-r, -r, 2 * r, 2 * r, block)
        self.block, self.name, self.is_output = block, name, is_output
        self.setPos(x, HEIGHT / 2 if is_output else -HEIGHT / 2)
        self.setBrush(QBrush(QColor("white")))
        self.setPen(QPen(block.colour, 2))
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)
        self.setToolTip(f"{'output' if is_output else 'input'} '{name}': drag to another block's "
                        f"{'input' if is_output else 'output'} to wire them")

    def hoverEnterEvent(self, event) -> None:
        self.setBrush(QBrush(self.block.colour))

    def hoverLeaveEvent(self, event) -> None:
        self.setBrush(QBrush(QColor("white")))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.scene().begin_wire(self, event.scenePos())
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:
        self.scene().drag_wire(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:
        self.scene().end_wire(event.scenePos())


class BlockItem(QGraphicsItem):
    def __init__(self, node: Node, name_of=lambda node_id: node_id) -> None:
        super().__init__()
        self.name_of = name_of  # a block id -> its name (for "shares conv1")
        self.node_id = node.id
        self.wires: set = set()
        self.ports: dict[tuple[bool, str], PortItem] = {}
        self.info: NodeShapes | None = None
        self.colour = style.category_colour(node.spec.category)
        self.tint: QColor | None = None  # a colour a view lays over the block (training statistics), and its words
        self.tint_text = ""
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setZValue(1)
        self.setAcceptHoverEvents(True)
        self.refresh(node)
        self.setPos(*node.pos)

    # ----- what it shows

    def refresh(self, node: Node) -> None:
        """Follow the node's name, params and ports."""
        self.node = node
        self.summary = "  ·  ".join(filter(None, [node.spec.describe(node.params),
                                                  settings_text(node, self.name_of)]))
        wanted = [(False, name) for name in node.input_ports()] + [(True, name) for name in node.output_ports()]
        if list(self.ports) != wanted:
            self._rebuild_ports(wanted)
        self._update_tooltip()
        self.update()

    def _rebuild_ports(self, wanted: list[tuple[bool, str]]) -> None:
        """Ports follow the node (an Add given a third input): ports that stay keep their wires and
        move along the edge; the graph never removes a port that has a wire."""
        for key in [key for key in self.ports if key not in wanted]:
            port = self.ports.pop(key)
            if port.scene():
                port.scene().removeItem(port)
        for is_output in (False, True):
            names = [name for out, name in wanted if out == is_output]
            for i, name in enumerate(names):
                x = -WIDTH / 2 + WIDTH * (i + 1) / (len(names) + 1)
                port = self.ports.get((is_output, name)) or PortItem(self, name, is_output, x)
                port.setPos(x, HEIGHT / 2 if is_output else -HEIGHT / 2)
                self.ports[(is_output, name)] = port
        self.ports = {key: self.ports[key] for key in wanted}
        for wire in self.wires:
            wire.update_path()

    def set_info(self, info: NodeShapes | None) -> None:
        if info == self.info:
            return  # most blocks are untouched by an edit: skip the tooltip and the repaint
        self.info = info
        self._update_tooltip()
        self.update()

    def set_tint(self, colour: QColor | None, text: str = "") -> None:
        """Colour the block's face (None: plain again), with a short text in its corner (a value)."""
        if (colour, text) != (self.tint, self.tint_text):
            self.tint, self.tint_text = colour, text
            self.update()

    @property
    def error(self) -> str | None:
        return self.info.error if self.info else None

    def _update_tooltip(self) -> None:
        spec = self.node.spec
        lines = [f"<b>{html.escape(self.node.name)}</b> &nbsp;<i>{spec.type}</i>", html.escape(spec.help)]
        if self.info is not None:
            ins = ", ".join(format_shape(s) for s in self.info.inputs) or "-"
            lines.append(f"in: {ins} &nbsp; out: {format_shape(self.info.output)}")
            lines.append(f"{self.info.params:,} parameters, {format_count(self.info.macs)} MACs")
            if self.info.error:
                lines.append(f"<span style='color:{style.ERROR.name()}'>{html.escape(self.info.error)}</span>")
        self.setToolTip("<br>".join(lines))

    # ----- painting

    def boundingRect(self) -> QRectF:
        return QRectF(-WIDTH / 2 - 3, -HEIGHT / 2 - 3, WIDTH + 6, HEIGHT + 6)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = QRectF(-WIDTH / 2, -HEIGHT / 2, WIDTH, HEIGHT)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.error:
            border = QPen(style.ERROR, 2.2)
        elif self.isSelected():
            border = QPen(style.SELECTION, 2.2)
        else:
            border = QPen(style.BLOCK_BORDER, 1)
        painter.setPen(border)
        painter.setBrush(style.BLOCK_FILL if self.tint is None else self.tint)
        painter.drawRoundedRect(rect, 7, 7)
        stripe = QRectF(rect.left(), rect.top(), 6, rect.height())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(stripe.adjusted(1, 1, 0, -1), 3, 3)

        text_left, text_width = rect.left() + 14, WIDTH - 22
        bold = QFont(painter.font())
        bold.setPointSizeF(9.5)
        bold.setBold(True)
        small = QFont(painter.font())
        small.setPointSizeF(8.5)
        self._text(painter, bold, style.TEXT, QRectF(text_left, rect.top() + 7, text_width, 17), self.node.name)
        kind = f"{self.node.type}  ·  {self.summary}" if self.summary else self.node.type
        self._text(painter, small, style.TEXT_DIM, QRectF(text_left, rect.top() + 25, text_width, 15), kind)
        if self.error:
            shape, colour = "⚠ " + self.error, style.ERROR
        else:
            shape = "→ " + format_shape(self.info.output if self.info else None)
            colour = self.colour.darker(115)
        mono = QFont(small)
        mono.setFamily("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self._text(painter, mono, colour, QRectF(text_left, rect.top() + 43, text_width, 15), shape)
        if self.tint_text:
            painter.setFont(mono)
            painter.setPen(style.TEXT)
            painter.drawText(QRectF(rect.left(), rect.top() + 7, WIDTH - 8, 17),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.tint_text)

    @staticmethod
    def _text(painter: QPainter, font: QFont, colour: QColor, rect: QRectF, text: str) -> None:
        painter.setFont(font)
        painter.setPen(colour)
        elided = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width()))
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)

    # ----- moving

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and self._dragged_by_mouse():
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for wire in self.wires:
                wire.update_path()
        return super().itemChange(change, value)

    def _dragged_by_mouse(self) -> bool:
        scene = self.scene()
        return bool(scene is not None and scene.snap_to_grid
                    and QApplication.mouseButtons() & Qt.MouseButton.LeftButton)

    def port(self, is_output: bool, name: str) -> PortItem:
        return self.ports[(is_output, name)]
