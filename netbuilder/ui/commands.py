"""Undoable edits. Each command touches only the Graph; the canvas follows the graph's notifications.

A command is applied once before it is pushed (`Document.push`), so a refused edit raises GraphError
and never reaches the undo stack; QUndoStack's own first redo() is then skipped. A command that makes
several Graph calls is applied whole or not at all: when the Graph refuses one call, the calls already
made are taken back before the refusal goes on (`_all_or_nothing`), so a refused edit changes nothing.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from PySide6.QtGui import QUndoCommand

from ..core.model.graph import Edge, Graph, GraphError
from ..core.model.journal import Journal
from ..core.model.parts import SETTINGS

_SET_PARAM_ID = 1


class GraphCommand(QUndoCommand):
    changes_model = True  # False for edits that leave the network itself as it is (moving blocks)
    view_only = False  # True for folding and unfolding groups: undoable, but the document is not "modified" by it

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
        raise NotImplementedError  # each command says what it does

    def revert(self) -> None:
        raise NotImplementedError


Step = tuple[Callable[[], object], Callable[[], object]]  # a Graph call, and the call that takes it back


def _all_or_nothing(steps: list[Step]) -> None:
    """Make the Graph calls in order; when the Graph refuses one, take back those already made (newest
    first) and let the refusal go on: the document is then exactly as it was."""
    done: list[Callable[[], object]] = []
    try:
        for step, back in steps:
            step()
            done.append(back)
    except GraphError:
        for back in reversed(done):
            back()
        raise


def _insert(graph: Graph, nodes: list[dict], edges: list[dict], with_index: bool = False) -> None:
    """Add blocks (at their `index` in document order when `with_index`), then wires: all or nothing."""
    steps: list[Step] = []
    for raw in nodes:
        steps.append((lambda raw=raw: graph.add_node(raw["type"], raw["params"], name=raw["name"], id=raw["id"],
                                                     pos=raw["pos"], index=raw.get("index") if with_index else None,
                                                     settings={k: raw[k] for k in SETTINGS if k in raw}),
                      lambda raw=raw: graph.remove_node(raw["id"])))
    for e in edges:
        steps.append((lambda e=e: graph.connect(e["src"], e["dst"], src_port=e["src_port"], dst_port=e["dst_port"]),
                      lambda e=e: graph.disconnect(e["dst"], e["dst_port"])))
    _all_or_nothing(steps)


class AddItems(GraphCommand):
    """Add blocks and wires given as a document fragment with free ids and names (drop, paste, duplicate)."""

    def __init__(self, graph: Graph, fragment: dict[str, Any], text: str) -> None:
        super().__init__(graph, text)
        self.nodes, self.edges = fragment["nodes"], fragment["edges"]

    @property
    def node_ids(self) -> list[str]:
        return [raw["id"] for raw in self.nodes]

    def do(self) -> None:
        _insert(self.graph, self.nodes, self.edges)

    def revert(self) -> None:
        for raw in reversed(self.nodes):
            self.graph.remove_node(raw["id"])


class RemoveItems(GraphCommand):
    """Delete blocks (with every wire touching them) and wires; undo puts each back in its place."""

    def __init__(self, graph: Graph, node_ids: list[str], edges: list[Edge], text: str = "Delete") -> None:
        super().__init__(graph, text)
        removed = set(node_ids)
        for node_id in removed:
            graph.node(node_id)  # GraphError for a block that is not there
        order = {node.id: i for i, node in enumerate(graph.nodes)}
        self.nodes = [{**raw, "index": order[raw["id"]]} for raw in graph.fragment(removed)["nodes"]]
        touching = [e for e in graph.edges if e.src in removed or e.dst in removed]
        touched = set(touching)
        self.lone_edges = [e for e in dict.fromkeys(edges) if e not in touched]
        self.edges = [e.to_dict() for e in touching + self.lone_edges]
        self.groups = [(graph.group_index(g.id), g.to_dict()) for g in graph.groups if removed & set(g.nodes)]

    def do(self) -> None:
        # Every block and wire is checked first (a wire counts only if it is the very wire, from the same
        # source): after that, removing cannot be refused half way.
        for raw in self.nodes:
            self.graph.node(raw["id"])
        wired = set(self.graph.edges)
        for edge in self.lone_edges:
            if edge not in wired:
                source = self.graph.node(edge.src).name if edge.src in self.graph else edge.src
                raise GraphError(f"there is no wire from {source} into input '{edge.dst_port}' of "
                                 f"{self.graph.node(edge.dst).label}")
        for edge in self.lone_edges:
            self.graph.disconnect(edge.dst, edge.dst_port)
        for raw in reversed(self.nodes):
            self.graph.remove_node(raw["id"])

    def revert(self) -> None:
        _insert(self.graph, self.nodes, self.edges, with_index=True)
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
        self.edge: Edge | None = None

    def do(self) -> None:
        src, dst, src_port, dst_port = self.args
        self.edge = self.graph.connect(src, dst, src_port=src_port, dst_port=dst_port)

    def revert(self) -> None:
        self.graph.disconnect(self.edge.dst, self.edge.dst_port)


class SetParam(GraphCommand):
    """Change one param; consecutive changes of the same param (typing in a box) merge into one step."""

    def __init__(self, graph: Graph, node_id: str, name: str, value: Any) -> None:
        node = graph.node(node_id)
        super().__init__(graph, f"Set {node.name}.{name}")
        self.node_id, self.name = node_id, name
        self.old, self.new = copy.deepcopy(node.params.get(name)), copy.deepcopy(value)

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


class SetSetting(GraphCommand):
    """Freeze a block, make it share another's weights, or choose its initialization."""

    def __init__(self, graph: Graph, node_id: str, key: str, value: Any) -> None:
        node = graph.node(node_id)
        words = {"frozen": "Freeze" if value else "Unfreeze", "shares": "Share weights of", "init": "Initialize"}
        super().__init__(graph, f"{words.get(key, 'Set')} {node.name}")
        self.node_id, self.key = node_id, key
        self.old, self.new = getattr(node, key), value

    def do(self) -> None:
        self.graph.set_setting(self.node_id, self.key, self.new)

    def revert(self) -> None:
        self.graph.set_setting(self.node_id, self.key, self.old)


class SetRecipe(GraphCommand):
    """Keep training settings in the document (File > Save then carries them)."""

    changes_model = False

    def __init__(self, graph: Graph, recipe: dict[str, Any]) -> None:
        super().__init__(graph, "Keep the training settings in the document")
        self.old, self.new = dict(graph.recipe), dict(recipe)

    def do(self) -> None:
        self.graph.set_recipe(self.new)

    def revert(self) -> None:
        self.graph.set_recipe(self.old)


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
