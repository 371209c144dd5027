"""A record of what a piece of work did to a graph, which can take it back and make it again.

    journal = Journal.record(graph, lambda g: fix.apply(g))   # runs the work, noting each announced change
    journal.undo()                                            # the graph is as it was before
    journal.redo()                                            # and as it was after

The journal listens to the graph's own events while the work runs, so any edit made through the Graph's
methods (an analysis fix, grouping, a layout) becomes undoable without a hand-written inverse. Work that
fails half-way is taken back before its error is raised again: a refused edit changes nothing.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from .graph import Edge, Graph, Group, Node
from .parts import SETTINGS


class Journal:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.steps: list[tuple] = []  # (kind, data...) in the order they happened

    @classmethod
    def record(cls, graph: Graph, work: Callable[[Graph], Any]) -> Journal:
        journal = cls(graph)
        journal._listen(work)
        return journal

    def __bool__(self) -> bool:
        return bool(self.steps)

    @property
    def changes_model(self) -> bool:
        """False when the work only moved blocks or folded groups (allowed while a run trains the graph)."""
        return any(step[0] not in ("move", "group_changed", "recipe") for step in self.steps)

    # ----- recording

    def _listen(self, work: Callable[[Graph], Any]) -> None:
        g = self.graph
        order = list(node.id for node in g.nodes)
        params = {node.id: copy.deepcopy(node.params) for node in g.nodes}
        positions = {node.id: node.pos for node in g.nodes}
        settings = {node.id: {key: getattr(node, key) for key in SETTINGS} for node in g.nodes}
        recipe = [copy.deepcopy(g.recipe)]
        groups = {group.id: _group_state(group) for group in g.groups}  # in the graph's order

        def added(node: Node) -> None:
            index = g.index_of(node.id)
            order.insert(index, node.id)
            params[node.id], positions[node.id] = copy.deepcopy(node.params), node.pos
            settings[node.id] = {key: getattr(node, key) for key in SETTINGS}
            self.steps.append(("add", _node_state(node), index))

        def removed(node: Node) -> None:
            index = order.index(node.id)
            order.pop(index)
            self.steps.append(("remove", _node_state(node), index))

        def param(node: Node, name: str) -> None:
            old, new = params[node.id].get(name), copy.deepcopy(node.params[name])
            params[node.id][name] = new
            self.steps.append(("param", node.id, name, old, new))

        def setting(node: Node, key: str) -> None:
            old, new = settings[node.id][key], getattr(node, key)
            settings[node.id][key] = new
            self.steps.append(("setting", node.id, key, old, new))

        def recipe_changed() -> None:
            self.steps.append(("recipe", recipe[0], copy.deepcopy(g.recipe)))
            recipe[0] = copy.deepcopy(g.recipe)

        def renamed(node: Node, old: str) -> None:
            self.steps.append(("rename", node.id, old, node.name))

        def moved(node: Node) -> None:
            self.steps.append(("move", node.id, positions[node.id], node.pos))
            positions[node.id] = node.pos

        def group_added(group: Group) -> None:
            index = g.group_index(group.id)
            order = list(groups)
            order.insert(index, group.id)
            groups[group.id] = _group_state(group)
            groups.update({i: groups.pop(i) for i in order})  # keep the graph's order
            self.steps.append(("group_add", _group_state(group), index))

        def group_removed(group: Group) -> None:
            index = list(groups).index(group.id)
            self.steps.append(("group_remove", groups.pop(group.id), index))

        def group_changed(group: Group) -> None:
            self.steps.append(("group_changed", groups[group.id], _group_state(group)))
            groups[group.id] = _group_state(group)

        handlers = {"node_added": added, "node_removed": removed, "param_changed": param, "node_renamed": renamed,
                    "node_moved": moved, "edge_added": lambda e: self.steps.append(("connect", e)),
                    "edge_removed": lambda e: self.steps.append(("disconnect", e)), "group_added": group_added,
                    "group_removed": group_removed, "group_changed": group_changed, "setting_changed": setting,
                    "recipe_changed": recipe_changed}
        for name, handler in handlers.items():
            getattr(g, name).connect(handler)
        try:
            work(g)
        except BaseException:
            self._disconnect(handlers)
            self.undo()  # a refused edit changes nothing
            raise
        self._disconnect(handlers)

    def _disconnect(self, handlers: dict) -> None:
        for name, handler in handlers.items():
            getattr(self.graph, name).disconnect(handler)

    # ----- replaying

    def undo(self) -> None:
        for step in reversed(self.steps):
            self._apply(step, forward=False)

    def redo(self) -> None:
        for step in self.steps:
            self._apply(step, forward=True)

    def _apply(self, step: tuple, forward: bool) -> None:
        g, kind = self.graph, step[0]
        if kind in ("add", "remove"):
            state, index = step[1], step[2]
            if (kind == "add") == forward:
                g.add_node(state["type"], state["params"], name=state["name"], id=state["id"], pos=state["pos"],
                           index=index, settings=state["settings"])
            else:
                g.remove_node(state["id"])
        elif kind in ("connect", "disconnect"):
            edge: Edge = step[1]
            if (kind == "connect") == forward:
                g.connect(edge.src, edge.dst, src_port=edge.src_port, dst_port=edge.dst_port)
            else:
                g.disconnect(edge.dst, edge.dst_port)
        elif kind == "param":
            _, node_id, name, old, new = step
            g.set_param(node_id, name, copy.deepcopy(new if forward else old))
        elif kind == "setting":
            _, node_id, key, old, new = step
            g.set_setting(node_id, key, new if forward else old)
        elif kind == "recipe":
            g.set_recipe(copy.deepcopy(step[2] if forward else step[1]))
        elif kind == "rename":
            _, node_id, old, new = step
            g.rename(node_id, new if forward else old)
        elif kind == "move":
            _, node_id, old, new = step
            g.move(node_id, new if forward else old)
        elif kind in ("group_add", "group_remove"):
            state, index = step[1], step[2]
            if (kind == "group_add") == forward:
                g.add_group(state["nodes"], state["name"], id=state["id"], collapsed=state["collapsed"], index=index)
            else:
                g.remove_group(state["id"])
        elif kind == "group_changed":
            state = step[2] if forward else step[1]
            g.rename_group(state["id"], state["name"])
            g.set_collapsed(state["id"], state["collapsed"])
            if g.group(state["id"]).nodes != state["nodes"]:
                g.set_group_nodes(state["id"], state["nodes"])


def _node_state(node: Node) -> dict[str, Any]:
    return {"id": node.id, "type": node.type, "name": node.name, "params": copy.deepcopy(node.params),
            "pos": node.pos, "settings": node.settings()}


def _group_state(group: Group) -> dict[str, Any]:
    return group.to_dict()
