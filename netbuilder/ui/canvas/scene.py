"""The canvas scene: one BlockItem per node, one WireItem per edge and one GroupItem per group, kept in step
with the document.

The scene turns gestures into commands (a wire dragged between ports, blocks moved) and follows the
graph's notifications to update its items; it never edits items to reflect an edit by hand.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from ...core.checks.shapes import ShapeReport
from ...core.layers.spec import format_shape
from ...core.model.graph import Edge, Group, Node
from ...core.model.groups import group_ports
from .. import style
from ..commands import Connect, MoveNodes
from ..document import Document
from .block import BlockItem, PortItem
from .group import GroupItem
from .wire import WireItem, wire_path

SCENE_EXTENT = 50_000.0


class GraphScene(QGraphicsScene):
    message = Signal(str)
    toggle_group_requested = Signal(str)  # a group id: collapse or expand it (the window pushes the command)

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.blocks: dict[str, BlockItem] = {}
        self.wires: dict[tuple[str, str], WireItem] = {}  # by (destination node, destination port)
        self.groups: dict[str, GroupItem] = {}  # by group id
        self._group_drag: dict[str, QPointF] = {}  # block id -> position when a group drag began
        # What an edit made stale (group frames, wire paths), brought up to date once when the edit is done: a
        # fold that moves 1,000 blocks redraws each wire once, not once per block moved.
        self._stale_nodes: set[str] = set()
        self._stale_groups: set[str] = set()
        self._flush_pending = False
        self.moving_by_edit = False  # blocks are being placed by an edit (their wires wait for the flush)
        self._grid: dict[tuple[int, int], list[BlockItem]] | None = None  # visible blocks by cell, built on demand
        document.undo_stack.indexChanged.connect(lambda _index: self.flush())
        self.snap_to_grid = True
        self._wire_start: PortItem | None = None
        self._wire_preview: QGraphicsPathItem | None = None
        self._press_positions: dict[str, QPointF] = {}
        self.setSceneRect(QRectF(-SCENE_EXTENT, -SCENE_EXTENT, 2 * SCENE_EXTENT, 2 * SCENE_EXTENT))
        document.node_added.connect(self._add_block)
        document.node_removed.connect(self._remove_block)
        document.node_moved.connect(self._node_moved)
        document.param_changed.connect(lambda node, _name: self.blocks[node.id].refresh(node))
        document.node_renamed.connect(self._renamed)
        document.setting_changed.connect(lambda node, _key: self.blocks[node.id].refresh(node))
        document.edge_added.connect(self._add_wire)
        document.edge_removed.connect(self._remove_wire)
        document.group_added.connect(self._add_group)
        document.group_removed.connect(self._remove_group)
        document.group_changed.connect(self._group_changed)
        document.replaced.connect(self.rebuild)
        document.report_changed.connect(self.apply_report)
        document.findings_changed.connect(self.apply_findings)
        self.rebuild()

    # ----- following the document

    def rebuild(self) -> None:
        self._cancel_wire()
        self._grid = None
        self.clear()
        self.blocks, self.wires, self.groups = {}, {}, {}
        graph = self.document.graph
        for node in graph.nodes:
            self._add_block(node)
        for group in graph.groups:
            self._add_group(group, update_wires=False)
        for edge in graph.edges:
            self._add_wire(edge)
        if self.document.report is not None:
            self.apply_report(self.document.report)

    def _add_block(self, node: Node) -> None:
        self._grid = None
        block = BlockItem(node, self._name_of)
        self.blocks[node.id] = block
        self.addItem(block)

    def _remove_block(self, node: Node) -> None:
        self._grid = None
        self.removeItem(self.blocks.pop(node.id))

    def _add_wire(self, edge: Edge) -> None:
        source = self.blocks[edge.src].port(True, edge.src_port)
        target = self.blocks[edge.dst].port(False, edge.dst_port)
        wire = WireItem(edge, source, target)
        self.wires[(edge.dst, edge.dst_port)] = wire
        self.addItem(wire)
        self.addItem(wire.label)
        wire.update_path()  # now that it is in the scene, it can see blocks in its way
        if self.document.report is not None:
            self._label(wire, self.document.report)
        self.mark_stale([edge.src, edge.dst])

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
        self.mark_stale([i for i in (edge.src, edge.dst) if i in self.blocks])

    def _node_moved(self, node: Node) -> None:
        self.moving_by_edit = True
        self.blocks[node.id].setPos(*node.pos)
        self.moving_by_edit = False
        self.mark_stale([node.id])

    # ----- bringing frames and wires up to date, once per edit

    # ----- where the visible blocks are (for wires finding their way and their labels a free spot)

    def blocks_in(self, rect: QRectF) -> list[BlockItem]:
        """Visible blocks that meet a scene rectangle. A coarse grid, rebuilt after blocks move, answers this
        in constant time (QGraphicsScene.items() scans every item while it re-indexes a changing scene)."""
        if self._grid is None:
            self._grid = {}
            for block in self.blocks.values():
                if block.isVisible():
                    for cell in _cells(block.sceneBoundingRect()):
                        self._grid.setdefault(cell, []).append(block)
        found = {block for cell in _cells(rect) for block in self._grid.get(cell, ())}
        return [block for block in found if block.sceneBoundingRect().intersects(rect)]

    def headers_in(self, rect: QRectF) -> bool:
        """Whether a scene rectangle meets the title strip of an expanded group."""
        return any(not item.collapsed and item.header_rect().intersects(rect) for item in self.groups.values())

    def blocks_changed(self) -> None:
        self._grid = None

    def mark_stale(self, node_ids, group_ids=()) -> None:
        graph = self.document.graph
        for node_id in node_ids:
            self._stale_nodes.add(node_id)
            group = graph.group_of(node_id) if node_id in graph else None
            if group is not None:
                self._stale_groups.add(group.id)
        self._stale_groups.update(group_ids)
        if not self._flush_pending:
            self._flush_pending = True
            QTimer.singleShot(0, self.flush)  # edits made outside a command (and the undo stack) also settle

    def flush(self) -> None:
        self._flush_pending = False
        groups, self._stale_groups = self._stale_groups, set()
        for group_id in groups:
            if group_id in self.groups and group_id in {g.id for g in self.document.graph.groups}:
                self._refresh_group(group_id)
                item = self.groups[group_id]
                if item.collapsed:
                    self._stale_nodes.update(item.group.nodes)
        nodes, self._stale_nodes = self._stale_nodes, set()
        if nodes:
            for wire in self.wires.values():
                if wire.edge.src in nodes or wire.edge.dst in nodes:
                    wire.update_path()

    def apply_report(self, report: ShapeReport) -> None:
        changed = [node_id for node_id, block in self.blocks.items() if block.set_info(report.nodes.get(node_id))]
        for wire in self.wires.values():
            self._label(wire, report)
        graph = self.document.graph
        touched = set(changed) | {e.dst for node_id in changed for e in graph.output_edges(node_id)}
        stale = {group.id for group in map(graph.group_of, touched) if group is not None}  # counts, shapes around
        for group_id in stale:
            self._refresh_group(group_id)

    def apply_findings(self, findings: list) -> None:
        by_block: dict[str, list] = {}
        for finding in findings:
            if finding.node_id is not None:
                by_block.setdefault(finding.node_id, []).append(finding)
        for node_id, block in self.blocks.items():
            block.set_findings(by_block.get(node_id, []))

    # ----- groups

    def _add_group(self, group: Group, update_wires: bool = True) -> None:
        item = GroupItem(group)
        self.groups[group.id] = item
        self.addItem(item)
        self._group_changed(group, update_wires)

    def _remove_group(self, group: Group) -> None:
        item = self.groups.pop(group.id)
        self.removeItem(item)
        self._grid = None
        for node_id in group.nodes:
            if node_id in self.blocks:
                self.blocks[node_id].setVisible(True)
                self.blocks[node_id].set_group_name(None)
        self.mark_stale([i for i in group.nodes if i in self.blocks])

    def _group_changed(self, group: Group, update_wires: bool = True) -> None:
        """Names, blocks or folding changed: blocks of a collapsed group hide, the wires find their new ends."""
        item = self.groups[group.id]
        self._grid = None
        touched = set(item.members) | set(group.nodes)  # blocks that left the group show again
        graph = self.document.graph
        for node_id in touched:
            if node_id in self.blocks:
                owner = graph.group_of(node_id)
                self.blocks[node_id].setVisible(owner is None or not owner.collapsed)
        item.members = list(group.nodes)
        for node_id in touched:  # a block in a group is named without the group's name (inception4a_b1 -> b1)
            if node_id in self.blocks:
                owner = graph.group_of(node_id)
                self.blocks[node_id].set_group_name(owner.name if owner is not None else None)
        self._refresh_group(group.id)
        if update_wires:
            self.mark_stale(touched, [group.id])

    def _update_wires(self, node_ids) -> None:
        touched = set(node_ids)
        for wire in self.wires.values():
            if wire.edge.src in touched or wire.edge.dst in touched:
                wire.update_path()

    def _refresh_group(self, group_id: str) -> None:
        graph = self.document.graph
        group = graph.group(group_id)
        self.groups[group_id].refresh(group, self.blocks, group_ports(graph, group), self.document.report)

    def wire_ends(self, wire: WireItem) -> tuple[QPointF, QPointF] | None:
        """Where a wire is drawn: between its ports, or from/to a collapsed group's box standing for a block;
        None when both ends are hidden in the same collapsed group."""
        graph = self.document.graph
        edge = wire.edge
        src_group = graph.group_of(edge.src) if edge.src in graph else None
        dst_group = graph.group_of(edge.dst) if edge.dst in graph else None
        src_hidden = src_group is not None and src_group.collapsed and src_group.id in self.groups
        dst_hidden = dst_group is not None and dst_group.collapsed and dst_group.id in self.groups
        if src_hidden and dst_hidden and src_group is dst_group:
            return None
        start = (self.groups[src_group.id].output_anchor((edge.src, edge.src_port)) if src_hidden
                 else wire.source.scenePos())
        end = (self.groups[dst_group.id].input_anchor((edge.src, edge.src_port)) if dst_hidden
               else wire.target.scenePos())
        return start, end

    def selected_groups(self) -> list[str]:
        return [item.group_id for item in self.selectedItems() if isinstance(item, GroupItem)]

    def visible_bounds(self) -> QRectF:
        """The part of the scene that the graph takes (blocks, collapsed and expanded groups, as shown)."""
        rect = QRectF()
        for item in list(self.blocks.values()) + list(self.groups.values()):
            if item.isVisible():
                rect = rect.united(item.sceneBoundingRect())
        return rect

    # ----- moving a group: its blocks follow the mouse; one command on release

    def begin_group_drag(self, item: GroupItem) -> None:
        ids = set(item.group.nodes)
        for other in self.selectedItems():
            if isinstance(other, GroupItem):
                ids |= set(other.group.nodes)
            elif isinstance(other, BlockItem):
                ids.add(other.node_id)
        self._group_drag = {i: self.blocks[i].pos() for i in ids if i in self.blocks}

    def drag_group(self, item: GroupItem, delta: QPointF) -> None:
        for node_id, start in self._group_drag.items():
            self.blocks[node_id].setPos(start + delta)
        for group_id in {self.document.graph.group_of(i).id for i in self._group_drag
                         if self.document.graph.group_of(i) is not None}:
            self._preview_group(group_id)

    def _preview_group(self, group_id: str) -> None:
        """While dragging, a group follows its blocks as drawn (the graph moves on release)."""
        item = self.groups[group_id]
        item.refresh(item.group, self.blocks, item.ports, self.document.report)
        if item.collapsed:
            self._update_wires(item.group.nodes)

    def end_group_drag(self, item: GroupItem) -> None:
        moved = {i: (self.blocks[i].pos().x(), self.blocks[i].pos().y()) for i, start in self._group_drag.items()
                 if self.blocks[i].pos() != start}
        self._group_drag = {}
        if moved and not self.document.push(MoveNodes(self.document.graph, moved, f"Move {item.group.name}")):
            for node_id in moved:
                self.blocks[node_id].setPos(*self.document.graph.node(node_id).pos)
            self._refresh_group(item.group_id)

    @staticmethod
    def _label(wire: WireItem, report: ShapeReport) -> None:
        info = report.nodes.get(wire.edge.src)
        shape = info.outputs.get(wire.edge.src_port) if info else None  # the shape of the wire's own port
        wire.set_shape_text(format_shape(shape) if shape is not None else "")

    # ----- selection

    def selected_node_ids(self) -> list[str]:
        """Selected blocks, and the blocks of selected groups, in document order."""
        order = {node.id: i for i, node in enumerate(self.document.graph.nodes)}
        ids = {item.node_id for item in self.selectedItems() if isinstance(item, BlockItem)}
        for item in self.selectedItems():
            if isinstance(item, GroupItem):
                ids |= set(item.group.nodes)
        return sorted(ids, key=order.__getitem__)

    def selected_edges(self) -> list[Edge]:
        return [item.edge for item in self.selectedItems() if isinstance(item, WireItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        """Select blocks; a block hidden in a collapsed group selects the group."""
        self.clearSelection()
        graph = self.document.graph
        for node_id in node_ids:
            group = graph.group_of(node_id)
            if group is not None and group.collapsed and group.id in self.groups:
                self.groups[group.id].setSelected(True)
            else:
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
                                 if isinstance(item, BlockItem)} if not self._group_drag else {}

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



GRID_CELL = 256.0


def _cells(rect: QRectF):
    """The grid cells a scene rectangle touches."""
    for i in range(int(rect.left() // GRID_CELL), int(rect.right() // GRID_CELL) + 1):
        for j in range(int(rect.top() // GRID_CELL), int(rect.bottom() // GRID_CELL) + 1):
            yield i, j
