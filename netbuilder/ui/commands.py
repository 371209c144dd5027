"""Undoable edits. Each command touches only the Graph; the canvas follows the graph's notifications.

A command is applied once before it is pushed (`Document.push`), so a refused edit raises GraphError
and never reaches the undo stack; QUndoStack's own first redo() is then skipped.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from ..core.graph import Edge, Graph
from ..core.journal import Journal

_SET_PARAM_ID = 1


class GraphCommand(QUndoCommand):
    changes_model = True  # False for edits that leave the network itself as it is (moving blocks)

    def __init__(self, graph: Graph, text: str) -> None:
        super().__init__(text)
        self.graph = graph
        self._already_applied = False

    def apply_first(self) -> None:
        self.do()
        self._already_applied = True

    def redo(self) -> None:
        if self._already_applied:
            self._already_applied = False
            return
        self.do()

    def undo(self) -> None:
        self.revert()

    def do(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError


def _add_nodes(graph: Graph, nodes: list[dict], with_index: bool = False) -> None:
    for raw in nodes:
        graph.add_node(raw["type"], raw["params"], name=raw["name"], id=raw["id"], pos=raw["pos"],
                       index=raw.get("index") if with_index else None)


def _connect(graph: Graph, edges: list[dict]) -> None:
    for e in edges:
        graph.connect(e["src"], e["dst"], src_port=e["src_port"], dst_port=e["dst_port"])


class AddItems(GraphCommand):
    """Add blocks and wires given as a document fragment with free ids and names (drop, paste, duplicate)."""

    def __init__(self, graph: Graph, fragment: dict[str, Any], text: str) -> None:
        super().__init__(graph, text)
        self.nodes, self.edges = fragment["nodes"], fragment["edges"]

    @property
    def node_ids(self) -> list[str]:
        return [raw["id"] for raw in self.nodes]

    def do(self) -> None:
        _add_nodes(self.graph, self.nodes)
        _connect(self.graph, self.edges)

    def revert(self) -> None:
        for raw in reversed(self.nodes):
            self.graph.remove_node(raw["id"])


class RemoveItems(GraphCommand):
    """Delete blocks (with every wire touching them) and wires; undo puts each back in its place."""

    def __init__(self, graph: Graph, node_ids: list[str], edges: list[Edge], text: str = "Delete") -> None:
        super().__init__(graph, text)
        removed = set(node_ids)
        self.nodes = sorted(({**graph.fragment([i])["nodes"][0], "index": graph.index_of(i)} for i in removed),
                            key=lambda raw: raw["index"])
        touching = [e for e in graph.edges if e.src in removed or e.dst in removed]
        self.lone_edges = [e for e in edges if e not in touching]
        self.edges = [e.to_dict() for e in touching + self.lone_edges]
        self.groups = [(graph.group_index(g.id), g.to_dict()) for g in graph.groups if removed & set(g.nodes)]

    def do(self) -> None:
        for edge in self.lone_edges:
            self.graph.disconnect(edge.dst, edge.dst_port)
        for raw in self.nodes:
            self.graph.remove_node(raw["id"])

    def revert(self) -> None:
        _add_nodes(self.graph, self.nodes, with_index=True)
        _connect(self.graph, self.edges)
        for index, raw in self.groups:  # the groups the blocks were in, as they were
            if raw["id"] in {group.id for group in self.graph.groups}:
                self.graph.set_group_nodes(raw["id"], raw["nodes"])
            else:
                self.graph.add_group(raw["nodes"], raw["name"], id=raw["id"], collapsed=raw["collapsed"],
                                     index=index)


class Connect(GraphCommand):
    def __init__(self, graph: Graph, src: str, src_port: str, dst: str, dst_port: str) -> None:
        super().__init__(graph, "Connect")
        self.args = (src, dst, src_port, dst_port)

    def do(self) -> None:
        src, dst, src_port, dst_port = self.args
        self.graph.connect(src, dst, src_port=src_port, dst_port=dst_port)

    def revert(self) -> None:
        self.graph.disconnect(self.args[1], self.args[3])


class SetParam(GraphCommand):
    """Change one param; consecutive changes of the same param (typing in a box) merge into one step."""

    def __init__(self, graph: Graph, node_id: str, name: str, value: Any) -> None:
        node = graph.node(node_id)
        super().__init__(graph, f"Set {node.name}.{name}")
        self.node_id, self.name = node_id, name
        self.old, self.new = node.params.get(name), value

    def id(self) -> int:
        return _SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParam) or (other.node_id, other.name) != (self.node_id, self.name):
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)
        return True

    def do(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.new)

    def revert(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.old)


class Rename(GraphCommand):
    def __init__(self, graph: Graph, node_id: str, name: str) -> None:
        self.old = graph.node(node_id).name
        super().__init__(graph, f"Rename {self.old} to {name}")
        self.node_id, self.new = node_id, name

    def do(self) -> None:
        self.graph.rename(self.node_id, self.new)

    def revert(self) -> None:
        self.graph.rename(self.node_id, self.old)


class MoveNodes(GraphCommand):
    """Move blocks (a drag, or an auto layout): {node id: new position}."""

    changes_model = False

    def __init__(self, graph: Graph, positions: dict[str, tuple[float, float]], text: str = "Move") -> None:
        super().__init__(graph, text)
        self.new = dict(positions)
        self.old = {node_id: graph.node(node_id).pos for node_id in positions}

    def do(self) -> None:
        self.graph.move_many(self.new)

    def revert(self) -> None:
        self.graph.move_many(self.old)


class RecordedEdit(GraphCommand):
    """Any work done through the Graph's methods (an analysis fix, grouping, folding a group, inserting a
    layer on a wire), made undoable by a Journal of what it changed. `changes_model` False: only moves and
    folds (allowed while a run trains the graph)."""

    def __init__(self, graph: Graph, text: str, work, changes_model: bool = True) -> None:
        super().__init__(graph, text)
        self.work = work
        self.changes_model = changes_model
        self.journal = None

    def do(self) -> None:
        if self.journal is None:
            self.journal = Journal.record(self.graph, self.work)
        else:
            self.journal.redo()

    def revert(self) -> None:
        self.journal.undo()
