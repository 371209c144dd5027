"""A group on the canvas: a named frame around its blocks, or, collapsed, one box that stands for them.

Collapsed, the box shows the group's name, its block and parameter counts and the shapes that enter and
leave it; the wires that cross its border end on its top (inputs) and start from its bottom (outputs). A
GroupItem is a view of one Group: dragging it moves its blocks (one command, on release, by the scene);
double-clicking it collapses or expands it (a command too).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from ...core.checks.shapes import format_count
from ...core.layers.spec import format_shape
from ...core.model.graph import Group
from ...core.model.groups import GroupPorts
from .. import style
from .block import FAR, GRID, PORT_RADIUS, VERY_FAR, draw_name_far, draw_text, level_of_detail

MARGIN, BOTTOM = 6.0, 10.0  # the frame's sides and bottom (side by side groups of a laid out graph do not meet)
HEADER, HEADER_GAP = 20.0, 6.0  # the title strip above the first row, and its distance to the blocks' inputs
BOX_WIDTH, BOX_HEIGHT = 236.0, 78.0
TEXT_PAD = 7.0  # room kept between the header's texts and the wires that cross it


class GroupItem(QGraphicsItem):
    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group_id = group.id
        self.group = group
        self.members: list[str] = []  # the blocks it held when last shown (to show those that leave it again)
        self.ports = GroupPorts([], [])
        self.sources: list[tuple[str, str]] = []  # outside (block, port) feeding it, one input anchor each
        self.exits: list[tuple[str, str]] = []  # inside (block, port) leaving it, one output anchor each
        self.params = 0
        self.shapes_in: list[str] = []
        self.shapes_out: list[str] = []
        self._rect = QRectF()
        self._drag_from: QPointF | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    @property
    def collapsed(self) -> bool:
        return self.group.collapsed

    # ----- geometry, from the blocks

    def refresh(self, group: Group, blocks: dict, ports: GroupPorts, report) -> None:
        """Follow the group (name, blocks, collapsed), its blocks' places (as drawn) and the shapes around it."""
        self.prepareGeometryChange()
        self.group = group
        self.ports = ports
        self.sources, self.exits = ports.sources(), ports.exits()
        if report is not None:
            self.params = sum(report.nodes[i].params for i in group.nodes if i in report.nodes)
            self.shapes_in = [format_shape(report.nodes[s].output) for s, _ in self.sources if s in report.nodes]
            self.shapes_out = [format_shape(report.nodes[s].output) for s, _ in self.exits if s in report.nodes]
        if group.collapsed:  # where core.groups.box_position puts it, from the blocks as drawn
            points = [blocks[i].pos() for i in group.nodes if i in blocks]
            xs = [p.x() for p in points] or [0.0]
            x, y = (min(xs) + max(xs)) / 2, min((p.y() for p in points), default=0.0)
            self._rect = QRectF(x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2, BOX_WIDTH, BOX_HEIGHT)
            self.setZValue(1)
        else:
            members = [blocks[i].sceneBoundingRect() for i in group.nodes if i in blocks]
            rect = members[0] if members else QRectF()
            for other in members[1:]:
                rect = rect.united(other)
            self._rect = rect.adjusted(-MARGIN, -HEADER - HEADER_GAP + 3, MARGIN, BOTTOM - 3)  # (3: a block's margin)
            self.setZValue(-1)
        self._update_tooltip()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-PORT_RADIUS - 2, -PORT_RADIUS - 2, PORT_RADIUS + 2, PORT_RADIUS + 2)

    def header_rect(self) -> QRectF:
        return QRectF(self._rect.left(), self._rect.top(), self._rect.width(), HEADER)

    def shape(self) -> QPainterPath:
        """Collapsed: the whole box. Expanded: only the header strip takes the mouse (the frame's inside belongs
        to the blocks and to rubber-band selection)."""
        path = QPainterPath()
        path.addRect(self._rect if self.collapsed else self.header_rect())
        return path

    def input_anchor(self, source: tuple[str, str]) -> QPointF:
        """Where a wire from an outside (block, port) ends on a collapsed box."""
        return self._anchor(self.sources, source, self._rect.top())

    def output_anchor(self, exit: tuple[str, str]) -> QPointF:
        return self._anchor(self.exits, exit, self._rect.bottom())

    def _anchor(self, anchors: list, key: tuple[str, str], y: float) -> QPointF:
        i = anchors.index(key) if key in anchors else 0
        return QPointF(self._rect.left() + self._rect.width() * (i + 1) / (len(anchors) + 1), y)

    def _update_tooltip(self) -> None:
        g = self.group
        ins = ", ".join(self.shapes_in) or "-"
        outs = ", ".join(self.shapes_out) or "-"
        self.setToolTip(f"<b>{g.name}</b> &nbsp;<i>group of {len(g.nodes)} blocks</i><br>in: {ins} &nbsp; out: {outs}"
                        f"<br>{self.params:,} parameters<br>double-click to {'expand' if g.collapsed else 'collapse'}")

    # ----- painting

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.collapsed:
            self._paint_box(painter)
        else:
            self._paint_frame(painter)

    def _paint_frame(self, painter: QPainter) -> None:
        selected = self.isSelected()
        painter.setPen(QPen(style.SELECTION if selected else style.GROUP_BORDER, 1.6 if selected else 1.0,
                            Qt.PenStyle.SolidLine if selected else Qt.PenStyle.DashLine))
        painter.setBrush(style.GROUP_FILL)
        painter.drawRoundedRect(self._rect, 10, 10)
        for text, rect, font, colour, align in self.header_texts():
            draw_text(painter, font, colour, rect, text, align)
        triangle = self.header_rect()
        x, y = triangle.left() + 8, triangle.center().y()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.GROUP_TEXT)
        painter.drawPolygon([QPointF(x - 4, y - 2.5), QPointF(x + 4, y - 2.5), QPointF(x, y + 3)])  # "expanded"

    def _crossings(self, band: QRectF) -> list[tuple[float, float]]:
        """The x ranges in which wires and their shape labels cross a strip of the header."""
        from .wire import WireItem, WireLabel

        scene = self.scene()
        if scene is None:
            return []
        spans = []
        for item in scene.items(band):
            if isinstance(item, WireLabel) and item.isVisible():
                box = item.sceneBoundingRect()
                spans.append((box.left(), box.right()))
            elif isinstance(item, WireItem) and item.isVisible():
                path = item.path()
                xs = [p.x() for p in (path.pointAtPercent(i / 48) for i in range(49))
                      if band.top() - 2 <= p.y() <= band.bottom() + 2]
                if xs:
                    spans.append((min(xs), max(xs)))
        return spans

    def header_texts(self) -> list[tuple[str, QRectF, QFont, QColor, Qt.AlignmentFlag]]:
        """What the header writes, where (scene coordinates): the group's name in the first free stretch of the
        strip that holds it, its counts right-aligned in a free stretch after it; no text where a wire or its label
        crosses the strip, nor over each other (the counts are left out when there is no room: the tooltip and
        the inspector have them)."""
        band = self.header_rect().adjusted(15, 0, -6, 0)  # (the triangle on the left)
        free = [(band.left(), band.right())]
        for low, high in sorted(self._crossings(band)):
            low, high = low - TEXT_PAD, high + TEXT_PAD
            free = [piece for a, b in free for piece in ((a, min(b, low)), (max(a, high), b)) if piece[1] - piece[0] > 4]
        small = QFont()
        small.setPointSizeF(7.5)
        name = self.group.name
        texts = []
        if not free:
            return texts
        for points in (8.5, 8.0, 7.5):  # the whole name, a little smaller if need be, rather than cut
            bold = QFont()
            bold.setPointSizeF(points)
            bold.setBold(True)
            want = QFontMetricsF(bold).horizontalAdvance(name) + 2
            fitting = [piece for piece in free if piece[1] - piece[0] >= want]
            if fitting:
                break
        left, right = fitting[0] if fitting else max(free, key=lambda piece: piece[1] - piece[0])
        used = min(right, left + want)
        texts.append((name, QRectF(left, band.top(), used - left, band.height()), bold, style.GROUP_TEXT,
                      Qt.AlignmentFlag.AlignLeft))
        rest = [(max(a, used + 10), b) for a, b in free if b > used + 10]
        metrics = QFontMetricsF(small)
        for words in (f"{len(self.group.nodes)} blocks · {format_count(self.params)} params",
                      f"{len(self.group.nodes)} blocks"):
            room = [piece for piece in rest if piece[1] - piece[0] >= metrics.horizontalAdvance(words) + 2]
            if room:
                a, b = room[-1]
                texts.append((words, QRectF(a, band.top(), b - a, band.height()), small, style.TEXT_DIM,
                              Qt.AlignmentFlag.AlignRight))
                break
        return texts

    def _paint_box(self, painter: QPainter) -> None:
        rect = self._rect
        if level_of_detail(painter) < VERY_FAR:  # a box; the view writes its name
            painter.setPen(QPen(style.SELECTION, 6) if self.isSelected() else Qt.PenStyle.NoPen)
            painter.setBrush(style.GROUP_BORDER)
            painter.drawRoundedRect(rect, 8, 8)
            return
        for offset in (6.0, 3.0):  # a stack of cards: several blocks in one
            painter.setPen(QPen(style.BLOCK_BORDER, 1))
            painter.setBrush(style.BLOCK_FILL)
            painter.drawRoundedRect(rect.translated(offset, -offset), 8, 8)
        border = QPen(style.SELECTION, 2.2) if self.isSelected() else QPen(style.GROUP_BORDER, 1.2)
        painter.setPen(border)
        painter.setBrush(style.BLOCK_FILL)
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.GROUP_BORDER)
        painter.drawRoundedRect(QRectF(rect.left() + 1, rect.top() + 1, 6, rect.height() - 2), 3, 3)
        left, width = rect.left() + 16, rect.width() - 26
        bold = QFont(painter.font())
        bold.setBold(True)
        lod = level_of_detail(painter)
        if lod < VERY_FAR:
            pass  # the view writes the name beside the box
        elif lod < FAR:
            draw_name_far(painter, rect.adjusted(14, 2, -8, -2), f"▸ {self.group.name}", lod)
        else:
            bold.setPointSizeF(9.5)
            draw_text(painter, bold, style.TEXT, QRectF(left, rect.top() + 7, width, 17), f"▸  {self.group.name}")
            small = QFont(painter.font())
            small.setPointSizeF(8.5)
            draw_text(painter, small, style.TEXT_DIM, QRectF(left, rect.top() + 26, width, 15),
                      f"group · {len(self.group.nodes)} blocks · {self.params:,} parameters")
            mono = QFont(small)
            mono.setFamily("monospace")
            mono.setStyleHint(QFont.StyleHint.Monospace)
            text = f"{', '.join(self.shapes_in) or '-'} → {', '.join(self.shapes_out) or '-'}"
            draw_text(painter, mono, style.GROUP_TEXT, QRectF(left, rect.top() + 46, width, 15), text)
        painter.setPen(QPen(style.GROUP_BORDER, 2))
        painter.setBrush(QBrush(QColor("white")))
        for anchors, y in ((self.sources, rect.top()), (self.exits, rect.bottom())):
            for key in anchors:
                point = self._anchor(anchors, key, y)
                painter.drawEllipse(point, PORT_RADIUS, PORT_RADIUS)

    # ----- the mouse: drag to move the blocks, double-click to fold

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier and not self.isSelected():
            self.scene().clearSelection()
        self.setSelected(True)
        self._drag_from = event.scenePos()
        self.scene().begin_group_drag(self)
        self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._drag_from is None:
            return
        delta = event.scenePos() - self._drag_from
        if self.scene().snap_to_grid:
            delta = QPointF(round(delta.x() / GRID) * GRID, round(delta.y() / GRID) * GRID)
        self.scene().drag_group(self, delta)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_from is not None:
            self._drag_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            self.scene().end_group_drag(self)
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        self.scene().toggle_group_requested.emit(self.group_id)
        event.accept()

