"""The canvas scene: one BlockItem per node and one WireItem per edge, kept in step with the document.

The scene turns gestures into commands (a wire dragged between ports, blocks moved) and follows the
graph's notifications to update its items; it never edits items to reflect an edit by hand.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from ...core.graph import Edge, Node
from ...core.layers.spec import format_shape
from ...core.shapes import ShapeReport
from .. import style
from ..commands import Connect, MoveNodes
from ..document import Document
from .block import BlockItem, PortItem
from .wire import WireItem, wire_path

SCENE_EXTENT = 50_000.0


class GraphScene(QGraphicsScene):
    message = Signal(str)

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.blocks: dict[str, BlockItem] = {}
        self.wires: dict[tuple[str, str], WireItem] = {}  # by (destination node, destination port)
        self.snap_to_grid = True
        self._wire_start: PortItem | None = None
        self._wire_preview: QGraphicsPathItem | None = None
        self._press_positions: dict[str, QPointF] = {}
        self.setSceneRect(QRectF(-SCENE_EXTENT, -SCENE_EXTENT, 2 * SCENE_EXTENT, 2 * SCENE_EXTENT))
        document.node_added.connect(self._add_block)
        document.node_removed.connect(lambda node: self.removeItem(self.blocks.pop(node.id)))
        document.node_moved.connect(lambda node: self.blocks[node.id].setPos(*node.pos))
        document.param_changed.connect(lambda node, _name: self.blocks[node.id].refresh(node))
        document.node_renamed.connect(self._renamed)
        document.setting_changed.connect(lambda node, _key: self.blocks[node.id].refresh(node))
        document.edge_added.connect(self._add_wire)
        document.edge_removed.connect(self._remove_wire)
        document.replaced.connect(self.rebuild)
        document.report_changed.connect(self.apply_report)
        self.rebuild()

    # ----- following the document

    def rebuild(self) -> None:
        self._cancel_wire()
        self.clear()
        self.blocks, self.wires = {}, {}
        graph = self.document.graph
        for node in graph.nodes:
            self._add_block(node)
        for edge in graph.edges:
            self._add_wire(edge)
        if self.document.report is not None:
            self.apply_report(self.document.report)

    def _add_block(self, node: Node) -> None:
        block = BlockItem(node, self._name_of)
        self.blocks[node.id] = block
        self.addItem(block)

    def _add_wire(self, edge: Edge) -> None:
        source = self.blocks[edge.src].port(True, edge.src_port)
        target = self.blocks[edge.dst].port(False, edge.dst_port)
        wire = WireItem(edge, source, target)
        self.wires[(edge.dst, edge.dst_port)] = wire
        self.addItem(wire)
        wire.update_path()  # now that it is in the scene, it can see blocks in its way
        if self.document.report is not None:
            self._label(wire, self.document.report)

    def _renamed(self, node: Node, _old: str) -> None:
        for block_node in [node, *self.document.graph.sharers(node.id)]:  # "shares conv1" follows the name
            self.blocks[block_node.id].refresh(block_node)

    def _name_of(self, node_id: str) -> str:
        graph = self.document.graph
        return graph.node(node_id).name if node_id in graph else node_id

    def _remove_wire(self, edge: Edge) -> None:
        wire = self.wires.pop((edge.dst, edge.dst_port))
        wire.detach()
        self.removeItem(wire)

    def apply_report(self, report: ShapeReport) -> None:
        for node_id, block in self.blocks.items():
            block.set_info(report.nodes.get(node_id))
        for wire in self.wires.values():
            self._label(wire, report)

    @staticmethod
    def _label(wire: WireItem, report: ShapeReport) -> None:
        info = report.nodes.get(wire.edge.src)
        shape = info.outputs.get(wire.edge.src_port) if info else None  # the shape of the wire's own port
        wire.set_shape_text(format_shape(shape) if shape is not None else "")

    # ----- selection

    def selected_node_ids(self) -> list[str]:
        order = {node.id: i for i, node in enumerate(self.document.graph.nodes)}
        return sorted((item.node_id for item in self.selectedItems() if isinstance(item, BlockItem)),
                      key=order.__getitem__)

    def selected_edges(self) -> list[Edge]:
        return [item.edge for item in self.selectedItems() if isinstance(item, WireItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        self.clearSelection()
        for node_id in node_ids:
            self.blocks[node_id].setSelected(True)

    # ----- wiring by dragging from a port

    def begin_wire(self, port: PortItem, pos: QPointF) -> None:
        self._wire_start = port
        self._wire_preview = QGraphicsPathItem()
        pen = QPen(style.SELECTION, 1.6, Qt.PenStyle.DashLine)
        self._wire_preview.setPen(pen)
        self._wire_preview.setZValue(3)
        self.addItem(self._wire_preview)
        self.drag_wire(pos)

    def drag_wire(self, pos: QPointF) -> None:
        if self._wire_start is None:
            return
        anchor = self._wire_start.scenePos()
        start, end = (anchor, pos) if self._wire_start.is_output else (pos, anchor)
        self._wire_preview.setPath(wire_path(start, end))

    def end_wire(self, pos: QPointF) -> None:
        start = self._wire_start
        self._cancel_wire()
        if start is None:
            return
        target = self.port_at(pos)
        if target is None or target is start:
            return
        if target.is_output == start.is_output:
            self.message.emit("Wire an output (bottom of a block) to an input (top of a block)")
            return
        source, sink = (start, target) if start.is_output else (target, start)
        self.connect_ports(source, sink)

    def connect_ports(self, source: PortItem, sink: PortItem) -> bool:
        graph = self.document.graph
        if self.document.push(Connect(graph, source.block.node_id, source.name, sink.block.node_id, sink.name)):
            return True
        self.message.emit(f"Cannot wire: {self.document.refusal}")
        return False

    def port_at(self, pos: QPointF, tolerance: float = 8.0) -> PortItem | None:
        area = QRectF(pos.x() - tolerance, pos.y() - tolerance, 2 * tolerance, 2 * tolerance)
        ports = [item for item in self.items(area) if isinstance(item, PortItem)]
        return min(ports, key=lambda p: (p.scenePos() - pos).manhattanLength()) if ports else None

    def _cancel_wire(self) -> None:
        if self._wire_preview is not None and self._wire_preview.scene() is self:
            self.removeItem(self._wire_preview)
        self._wire_start, self._wire_preview = None, None

    # ----- moving blocks: one command when the mouse is released

    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        self._press_positions = {item.node_id: item.pos() for item in self.selectedItems()
                                 if isinstance(item, BlockItem)}

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        moved = {node_id: (self.blocks[node_id].pos().x(), self.blocks[node_id].pos().y())
                 for node_id, start in self._press_positions.items()
                 if node_id in self.blocks and self.blocks[node_id].pos() != start}
        self._press_positions = {}
        if moved:
            text = f"Move {len(moved)} blocks" if len(moved) > 1 else f"Move {self.blocks[next(iter(moved))].node.name}"
            if not self.document.push(MoveNodes(self.document.graph, moved, text)):
                for node_id in moved:  # refused: put the blocks back where the graph has them
                    self.blocks[node_id].setPos(*self.document.graph.node(node_id).pos)
