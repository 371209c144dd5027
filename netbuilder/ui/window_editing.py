"""The window's editing: adding blocks (and showing them), delete, the clipboard, groups, auto layout. A part of
MainWindow (a mixin), kept in its own module to stay readable. Every edit is a command on the document."""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPointF, QRectF
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QInputDialog

from ..core.model import groups
from ..core.model.graph import Graph, GraphError
from ..core.model.layout import ROW_HEIGHT
from .canvas.block import GRID, HEIGHT, WIDTH
from .commands import AddItems, MoveNodes, RecordedEdit, RemoveItems

FRAGMENT_MIME = "application/x-netbuilder-fragment"
PASTE_GAP = 60.0  # between the originals and what is pasted beside them


def _folding(command: RecordedEdit) -> RecordedEdit:
    """Folding or unfolding groups: undoable, but no change to save."""
    command.view_only = True
    return command


class WindowEditing:
    """Needs: document, scene, view, show_message."""

    # ----- adding blocks

    def add_layer(self, layer_type: str, pos: QPointF, wire_from: str | None = None) -> str | None:
        """Add a block of a registry type at a scene position (snapped to the grid), optionally wired from
        the output of `wire_from`; one undoable step. The view follows it. Returns the new block's id."""
        graph = self.document.graph
        single = Graph()
        try:
            single.add_node(layer_type, pos=(round(pos.x() / GRID) * GRID, round(pos.y() / GRID) * GRID))
        except GraphError as e:
            self.show_message(str(e))
            return None
        fragment = graph.prepare_paste(single)
        new = fragment["nodes"][0]
        if wire_from is not None and single.nodes[0].input_ports() and graph.node(wire_from).output_ports():
            fragment["edges"] = [{"src": wire_from, "src_port": graph.node(wire_from).output_ports()[0], "dst": new["id"],
                                  "dst_port": single.nodes[0].input_ports()[0]}]
        if not self.document.push(AddItems(graph, fragment, f"Add {new['name']}")):
            return None
        self.scene.select_nodes([new["id"]])
        self.reveal_blocks([new["id"]])
        return new["id"]

    def _add_from_palette(self, layer_type: str) -> None:
        """Double-click (or Enter) in the palette: below the selected block, wired to it; else in the middle of
        the view."""
        self.show_canvas()
        selected = self.scene.selected_node_ids()
        if len(selected) == 1:
            x, y = self.document.graph.node(selected[0]).pos
            self.add_layer(layer_type, QPointF(x, y + ROW_HEIGHT), wire_from=selected[0])
        else:
            self.add_layer(layer_type, self.view.centre_of_view())

    def reveal_blocks(self, node_ids: list[str]) -> None:
        """Scroll so that these blocks are in view (a block just added may be below its edge)."""
        rect = QRectF()
        for node_id in node_ids:
            item = self.scene.blocks.get(node_id)
            if item is not None and item.isVisible():
                rect = rect.united(item.sceneBoundingRect())
            group = self.document.graph.group_of(node_id)
            if group is not None and group.collapsed and group.id in self.scene.groups:
                rect = rect.united(self.scene.groups[group.id].sceneBoundingRect())
        if not rect.isEmpty():
            self.view.reveal(rect)

    def show_block(self, node_id: str) -> None:
        """Select a block and bring it into view (a finding clicked in the Analysis panel)."""
        self.show_canvas()
        self.scene.select_nodes([node_id])
        self.reveal_blocks([node_id])

    # ----- removing, selecting

    def delete_selection(self) -> None:
        nodes, edges = self.scene.selected_node_ids(), self.scene.selected_edges()
        if nodes or edges:
            count = len(nodes) + len(edges)
            self.document.push(RemoveItems(self.document.graph, nodes, edges,
                                          f"Delete {count} item{'s' if count > 1 else ''}"))

    def scene_select_all(self) -> None:
        for item in self.scene.items():
            if item.isVisible() and item.flags() & item.GraphicsItemFlag.ItemIsSelectable:
                item.setSelected(True)

    # ----- the clipboard

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            return False
        data = QMimeData()
        text = json.dumps(self.document.graph.fragment(ids))
        data.setData(FRAGMENT_MIME, text.encode())
        data.setText(text)
        QGuiApplication.clipboard().setMimeData(data)
        self._paste_count = 0
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selection()

    def paste(self) -> None:
        data = QGuiApplication.clipboard().mimeData()
        if data is None or not data.hasFormat(FRAGMENT_MIME):
            self.show_message("The clipboard holds no netbuilder blocks")
            return
        try:
            fragment = Graph.from_dict(json.loads(bytes(data.data(FRAGMENT_MIME)).decode("utf-8")))
        except (ValueError, RecursionError) as e:  # GraphError is a ValueError
            self.show_message(f"Cannot paste: {e}")
            return
        self._paste_count += 1
        self._insert(fragment, self._paste_count, "Paste")

    def duplicate(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            self._insert(Graph.from_dict(self.document.graph.fragment(ids)), 1, "Duplicate")

    def _insert(self, fragment: Graph, copy_number: int, verb: str) -> None:
        """Add a fragment beside its originals (to their right, one width further for each further copy), or in
        the middle of the view when the originals are not in this graph; then show it."""
        offset = self._paste_offset(fragment, copy_number)
        prepared = self.document.graph.prepare_paste(fragment, offset)
        count = len(prepared["nodes"])
        if self.document.push(AddItems(self.document.graph, prepared,
                                       f"{verb} {count} block{'s' if count > 1 else ''}")):
            ids = [raw["id"] for raw in prepared["nodes"]]
            self.scene.select_nodes(ids)
            self.reveal_blocks(ids)

    def _paste_offset(self, fragment: Graph, copy_number: int) -> tuple[float, float]:
        if not fragment.nodes:
            return 0.0, 0.0
        xs = [n.pos[0] for n in fragment.nodes]
        ys = [n.pos[1] for n in fragment.nodes]
        graph = self.document.graph
        originals_here = any(n.id in graph and graph.node(n.id).pos == n.pos for n in fragment.nodes)
        if originals_here:
            step = max(xs) - min(xs) + WIDTH + PASTE_GAP
            dx = round(step * copy_number / GRID) * GRID
            return dx, 0.0
        centre = self.view.centre_of_view()
        return (round((centre.x() - (min(xs) + max(xs)) / 2) / GRID) * GRID,
                round((centre.y() - (min(ys) + max(ys)) / 2 - HEIGHT / 2) / GRID) * GRID)

    # ----- groups

    def group_selection(self) -> bool:
        """Group the selected blocks into one named box (one undoable step)."""
        ids = self.scene.selected_node_ids()
        if not ids:
            self.show_message("Select the blocks to group first")
            return False
        graph = self.document.graph
        name = next(f"group{k}" for k in range(1, len(graph.groups) + 2)
                    if all(g.name != f"group{k}" for g in graph.groups))
        applied = self.document.push(RecordedEdit(graph, f"Group {len(ids)} blocks",
                                                  lambda g: g.add_group(ids, name), changes_model=False))
        if applied:
            group = graph.groups[-1]
            self.scene.clearSelection()
            self.scene.groups[group.id].setSelected(True)
        return applied

    def ungroup_selection(self) -> None:
        graph = self.document.graph
        ids = set(self.scene.selected_groups())
        ids |= {graph.group_of(i).id for i in self.scene.selected_node_ids() if graph.group_of(i) is not None}
        if not ids:
            self.show_message("Select a group (or a block in one) to ungroup")
            return
        def ungroup(g: Graph) -> None:
            for group_id in ids:
                if g.group(group_id).collapsed:
                    groups.set_collapsed(g, group_id, False)
                g.remove_group(group_id)
        self.document.push(RecordedEdit(graph, "Ungroup", ungroup, changes_model=False))

    def toggle_group(self, group_id: str) -> None:
        group = self.document.graph.group(group_id)
        collapse = not group.collapsed
        self.document.push(_folding(RecordedEdit(
            self.document.graph, f"{'Collapse' if collapse else 'Expand'} {group.name}",
            lambda g: groups.set_collapsed(g, group_id, collapse), changes_model=False)))

    def set_all_collapsed(self, collapsed: bool) -> None:
        graph = self.document.graph
        if not graph.groups or all(g.collapsed == collapsed for g in graph.groups):
            return
        self.document.push(_folding(RecordedEdit(graph, "Collapse all groups" if collapsed else "Expand all groups",
                                                 lambda g: groups.set_all_collapsed(g, collapsed),
                                                 changes_model=False)))
        self.view.fit_to_view()

    def rename_group(self, group_id: str) -> None:
        group = self.document.graph.group(group_id)
        name, ok = QInputDialog.getText(self, "Rename group", "Name:", text=group.name)
        if ok and name.strip() and name.strip() != group.name:
            self.document.push(RecordedEdit(self.document.graph, f"Rename group {group.name}",
                                            lambda g: g.rename_group(group_id, name.strip()), changes_model=False))

    # ----- layout

    def auto_layout(self) -> bool:
        """Arrange the blocks in data-flow order (collapsed groups stay folded). A graph already laid out stays
        as it is: nothing is moved, the document stays unmodified and the view stays where it is."""
        graph = self.document.graph
        positions = groups.folded_layout(graph)
        moved = {node_id: pos for node_id, pos in positions.items()
                 if abs(graph.node(node_id).pos[0] - pos[0]) > 1e-6 or abs(graph.node(node_id).pos[1] - pos[1]) > 1e-6}
        if not moved:
            self.show_message("The blocks are already laid out")
            return False
        if not self.document.push(MoveNodes(graph, moved, "Auto layout")):
            return False
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        if not visible.intersects(self.scene.visible_bounds()):
            self.view.show_graph()  # the graph moved out of sight: bring it back
        return True
