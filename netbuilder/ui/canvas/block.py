"""A layer block on the canvas and its ports. Data flows top to bottom: inputs on top, output below.

A BlockItem is a view of one Node: it never edits the graph itself. Dragging from a port starts a
wire (the scene decides what to do with it); moving a block is committed by the scene on release.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsSimpleTextItem,
    QStyleOptionGraphicsItem,
)

from ...core.checks.shapes import NodeShapes, format_count
from ...core.layers.spec import format_shape
from ...core.model.graph import Node
from .. import style

WIDTH, HEIGHT = 196.0, 66.0
PORT_RADIUS = 5.5
GRID = 10.0
FAR = 0.5  # below this zoom a block shows only its name, drawn large enough to read
FAR_NAME_ROOM = "inception4a_b1"  # the name length that a block seen from far has room for
VERY_FAR = 0.25  # below this, only its box: the view writes the names beside the boxes, in screen pixels
# how a block differs in runs compared (runs.graph_diff): an outline and a badge of this colour and sign
MARKS = {"added": (QColor("#1e9e4a"), "+"), "changed": (QColor("#e08a00"), "~"), "rewired": (QColor("#8a4fd6"), "⇄")}


def level_of_detail(painter: QPainter) -> float:
    """How large the scene is drawn: 1 at actual size, 0.25 when zoomed far out."""
    return QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())


def draw_name_far(painter: QPainter, rect: QRectF, name: str, lod: float) -> None:
    """A name alone in a box seen from far: as large as the box allows, up to 9.5 points on screen."""
    font = QFont(painter.font())
    font.setBold(True)
    font.setPointSizeF(9.5 / max(lod, 0.05))
    width = QFontMetrics(font).horizontalAdvance(FAR_NAME_ROOM)  # one size for every block: longer names elide
    if width > rect.width():
        font.setPointSizeF(max(4.0, font.pointSizeF() * rect.width() / width))
    draw_text(painter, font, style.TEXT, rect, name, Qt.AlignmentFlag.AlignHCenter)


def draw_text(painter: QPainter, font: QFont, colour: QColor, rect: QRectF, text: str,
              align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft) -> None:
    """One line of text in a rectangle, elided to fit."""
    painter.setFont(font)
    painter.setPen(colour)
    elided = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width()))
    painter.drawText(rect, align | Qt.AlignmentFlag.AlignVCenter, elided)


def settings_text(node: Node, name_of=lambda node_id: node_id) -> str:
    """How a block's training settings read on its face: frozen, shares conv1, init xavier."""
    words = []
    if node.frozen:
        words.append("frozen")
    if node.shares is not None:
        words.append(f"shares {name_of(node.shares)}")
    if node.init != "default":
        words.append(f"init {node.init}")
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
        self.findings: list = []  # core.analysis Findings about this block (warnings and advice; errors are in info)
        self.colour = style.category_colour(node.spec.category)
        self.tint: QColor | None = None  # a colour a view lays over the block (training statistics), and its words
        self.tint_text = ""
        self.mark: tuple[str, str] | None = None  # (kind, what changed) while runs are compared (compare_view)
        self.group_name: str | None = None  # the group it is drawn in: its name is written without the group's
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

    def set_group_name(self, name: str | None) -> None:
        if name != self.group_name:
            self.group_name = name
            self.update()

    @property
    def shown_name(self) -> str:
        """The block's name as written on it: inside a group named like its start, the rest (inception4a_b1_conv in
        group inception4a: b1_conv); the tooltip and the inspector give the whole name."""
        name = self.node.name
        for prefix in dict.fromkeys((self.group_name, (self.group_name or "").replace(".", "_"))):
            if prefix and len(name) > len(prefix) + 1 and name.startswith(prefix) and name[len(prefix)] in "_.-/":
                return name[len(prefix) + 1:]  # layer1.1's layer1_1_conv1: conv1
        return name

    def set_info(self, info: NodeShapes | None) -> bool:
        """Show what shape inference says of the block; True when that changed."""
        if info == self.info:
            return False  # most blocks are untouched by an edit: skip the tooltip and the repaint
        self.info = info
        self._update_tooltip()
        self.update()
        return True

    def set_findings(self, findings: list) -> None:
        if [f.line for f in findings] == [f.line for f in self.findings]:
            return
        self.findings = findings
        self._update_tooltip()
        self.update()

    def set_tint(self, colour: QColor | None, text: str = "") -> None:
        """Colour the block's face (None: plain again), with a short text in its corner (a value)."""
        if (colour, text) != (self.tint, self.tint_text):
            self.tint, self.tint_text = colour, text
            self.update()

    def set_mark(self, kind: str | None, words: str = "") -> None:
        """Mark the block as added, changed or re-wired between runs compared (None: unmarked), `words` (what
        changed, with the old values) in its tooltip."""
        mark = (kind, words) if kind in MARKS else None
        if mark != self.mark:
            self.mark = mark
            self._update_tooltip()
            self._label_mark()
            self.update()

    def _label_mark(self) -> None:
        """What changed, written beside the block in the mark's colour (the whole of it in the tooltip)."""
        label = getattr(self, "_mark_label", None)
        if self.mark is None:
            if label is not None:
                label.hide()
            return
        if label is None:
            label = self._mark_label = QGraphicsSimpleTextItem(self)
            font = QFont(label.font())
            font.setPointSizeF(8.5)
            font.setBold(True)
            label.setFont(font)
            label.setPos(WIDTH / 2 + 8, -HEIGHT / 2 + 4)
        kind, words = self.mark
        text = "new" if kind == "added" else words.split(": ", 1)[-1].replace(" -> ", " → ")
        label.setText(text if len(text) <= 48 else text[:47] + "…")
        label.setBrush(MARKS[kind][0])
        label.show()

    @property
    def error(self) -> str | None:
        return self.info.error if self.info else None

    @property
    def advice(self) -> list:
        """The analysis' findings that the red outline does not already show."""
        return [f for f in self.findings if f.code != "shape"]

    def _update_tooltip(self) -> None:
        spec = self.node.spec
        lines = [f"<b>{html.escape(self.node.name)}</b> &nbsp;<i>{spec.type}</i>", html.escape(spec.help)]
        if self.info is not None:
            ins = ", ".join(format_shape(s) for s in self.info.inputs) or "-"
            outs = ", ".join(format_shape(self.info.outputs.get(p)) for p in self.node.output_ports()) \
                if len(self.node.output_ports()) > 1 else format_shape(self.info.output)
            lines.append(f"in: {ins} &nbsp; out: {outs}")
            lines.append(f"{self.info.params:,} parameters, {format_count(self.info.macs)} MACs")
            if self.info.error:
                lines.append(f"<span style='color:{style.ERROR.name()}'>{html.escape(self.info.error)}</span>")
        for finding in self.advice:
            colour = style.SEVERITY_COLOURS[finding.severity].name()
            fix = f" <i>(fix: {html.escape(finding.fix.label)})</i>" if finding.fix else ""
            lines.append(f"<span style='color:{colour}'>{html.escape(finding.message)}</span>{fix}")
        if self.mark is not None:
            kind, words = self.mark
            lines.append(f"<span style='color:{MARKS[kind][0].name()}'><b>{kind} between the runs compared</b>"
                         f"{': ' + html.escape(words) if words else ''}</span>")
        lines.append("<span style='color:#6a7282'>F1: help on this layer · right-click: more</span>")
        self.setToolTip("<br>".join(lines))

    # ----- painting

    def boundingRect(self) -> QRectF:
        return QRectF(-WIDTH / 2 - 3, -HEIGHT / 2 - 3, WIDTH + 6, HEIGHT + 6)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = QRectF(-WIDTH / 2, -HEIGHT / 2, WIDTH, HEIGHT)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if level_of_detail(painter) < VERY_FAR:  # a box in its category's colour; the view writes its name
            fill = QColor(style.ERROR if self.error else self.colour)
            fill.setAlpha(255 if self.isSelected() else 150)
            painter.setPen(QPen(style.SELECTION, 6) if self.isSelected() else Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(rect, 7, 7)
            return
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

        advice = self.advice
        if advice:
            self._paint_badge(painter, rect, advice)
        if self.mark is not None:
            self._paint_mark(painter, rect)
        text_left, text_width = rect.left() + 14, WIDTH - 22 - (14 if advice else 0)
        bold = QFont(painter.font())
        bold.setBold(True)
        lod = level_of_detail(painter)
        if lod < VERY_FAR:
            return  # the view writes the name beside the box
        if lod < FAR:
            draw_name_far(painter, rect.adjusted(12, 2, -8, -2), self.shown_name, lod)
            return
        bold.setPointSizeF(9.5)
        small = QFont(painter.font())
        small.setPointSizeF(8.5)
        self._text(painter, bold, style.TEXT, QRectF(text_left, rect.top() + 7, text_width, 17), self.shown_name)
        kind = f"{self.node.type}  ·  {self.summary}" if self.summary else self.node.type
        self._text(painter, small, style.TEXT_DIM, QRectF(text_left, rect.top() + 25, text_width, 15), kind)
        if self.error:
            shape, colour = "⚠ " + self.error, style.ERROR
        else:
            ports = self.node.output_ports()
            if self.info is not None and len(ports) > 1:
                shape = "→ " + ", ".join(format_shape(self.info.outputs.get(p)) for p in ports)
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
        draw_text(painter, font, colour, rect, text)

    def _paint_mark(self, painter: QPainter, rect: QRectF) -> None:
        """A thick outline in the mark's colour and its sign in a disc on the top left corner (within the block's
        bounds, so that nothing about its size changes)."""
        colour, sign = MARKS[self.mark[0]]
        painter.setPen(QPen(colour, 3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(-1, -1, 1, 1), 8, 8)
        centre = QPointF(rect.left() + 5, rect.top() + 5)
        painter.setPen(QPen(QColor("white"), 1.2))
        painter.setBrush(colour)
        painter.drawEllipse(centre, 7.5, 7.5)
        font = QFont(painter.font())
        font.setPointSizeF(8.5)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(centre.x() - 8, centre.y() - 8, 16, 16), Qt.AlignmentFlag.AlignCenter, sign)

    @staticmethod
    def _paint_badge(painter: QPainter, rect: QRectF, advice: list) -> None:
        """A small sign in the top right corner: a triangle for a warning, a circle for advice."""
        worst = "warning" if any(f.severity == "warning" for f in advice) else "info"
        centre = QPointF(rect.right() - 13, rect.top() + 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.SEVERITY_COLOURS[worst])
        if worst == "warning":
            painter.drawPolygon([centre + QPointF(0, -7), centre + QPointF(7.5, 6), centre + QPointF(-7.5, 6)])
            mark = "!"
        else:
            painter.drawEllipse(centre, 7, 7)
            mark = "i"
        font = QFont(painter.font())
        font.setPointSizeF(7.5)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(centre.x() - 6, centre.y() - 6 + (1.5 if worst == "warning" else 0), 12, 12),
                         Qt.AlignmentFlag.AlignCenter, mark)

    # ----- moving

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and self._dragged_by_mouse():
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            scene = self.scene()
            if scene is not None:
                scene.blocks_changed()
            if scene is not None and scene.moving_by_edit:
                scene.mark_stale([self.node_id])  # once the edit is done
            else:
                for wire in self.wires:
                    wire.update_path()
        return super().itemChange(change, value)

    def _dragged_by_mouse(self) -> bool:
        scene = self.scene()
        return bool(scene is not None and scene.snap_to_grid
                    and QApplication.mouseButtons() & Qt.MouseButton.LeftButton)

    def port(self, is_output: bool, name: str) -> PortItem:
        return self.ports[(is_output, name)]
