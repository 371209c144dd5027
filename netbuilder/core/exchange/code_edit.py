"""Edited code applied to a graph: the difference between what the code was and what it is now.

The code view shows a graph as its code export writes it. When the user edits that code, both texts are
imported (the generated one, `base`, and the edited one) and only what differs between them is done to the
graph, by block name, through the Graph's own methods (so that a Journal can record it as one undoable edit):
blocks added, removed, of another type, with other params or settings; wires; groups. Blocks whose code did
not change keep their positions (and so their trained weights, which follow the names); what the code does
not show (loss blocks, a Siamese network's second tower, a generator's noise) is left as it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..model.graph import Graph, Node
from ..model.layout import ROW_HEIGHT


@dataclass
class CodeEdit:
    """What applying the code changed, by block name (for the message and the tests)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    wires: int = 0
    groups: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.wires or self.groups)

    def summary(self) -> str:
        if self.empty:
            return "the code says what the graph already is: nothing changed"
        parts = [f"{len(names)} block{'s' if len(names) != 1 else ''} {what} ({', '.join(names[:4])}"
                 f"{', ...' if len(names) > 4 else ''})"
                 for what, names in (("added", self.added), ("removed", self.removed), ("changed", self.changed))
                 if names]
        if self.wires:
            parts.append(f"{self.wires} wire{'s' if self.wires != 1 else ''} changed")
        if self.groups:
            parts.append(f"{self.groups} group{'s' if self.groups != 1 else ''} changed")
        return "applied the code: " + "; ".join(parts)


def _wires(graph: Graph) -> set[tuple[str, str, str, str]]:
    return {(graph.node(e.src).name, e.src_port, graph.node(e.dst).name, e.dst_port) for e in graph.edges}


def _settings(graph: Graph, node: Node) -> tuple:
    return node.frozen, graph.node(node.shares).name if node.shares else None


def apply_code_edit(graph: Graph, base: Graph, edited: Graph) -> CodeEdit:
    """Do to `graph` what turns `base` into `edited` (both imported from code). Raises GraphError when the graph
    refuses a step (the caller's Journal takes back what was done)."""
    done = CodeEdit()
    before, after = {n.name: n for n in base.nodes}, {n.name: n for n in edited.nodes}
    present = {n.name for n in graph.nodes}
    retyped = [name for name in before.keys() & after.keys()
               if before[name].type != after[name].type and name in present]
    gone_wires = _wires(base) - _wires(edited)
    new_wires = _wires(edited) - _wires(base)
    for src, src_port, dst, dst_port in gone_wires:  # wires first: ports may go with the params
        if dst in present and src in present:
            target = graph.find(dst)
            edge = next((e for e in graph.input_edges(target.id) if e and e.dst_port == dst_port), None)
            if edge is not None and graph.node(edge.src).name == src and edge.src_port == src_port:
                graph.disconnect(target.id, dst_port)
                done.wires += 1
    kept_at = {name: graph.find(name).pos for name in retyped}  # a block of another type takes its place
    for name in sorted(before.keys() - after.keys()) + retyped:
        if name in present:
            node = graph.find(name)
            for sharer in graph.sharers(node.id):
                graph.set_setting(sharer.id, "shares", None)
            graph.remove_node(node.id)
            if name not in retyped:
                done.removed.append(name)
    for name in [n.name for n in edited.nodes]:  # in the code's order: sources before what they feed
        new = after[name]
        if name not in before or name in retyped:
            graph.add_node(new.type, dict(new.params), name=name, pos=kept_at.get(name) or _place(graph, edited, new),
                           settings={"frozen": True} if new.frozen else None)
            (done.changed if name in retyped else done.added).append(name)
        elif name in present:
            old, node = before[name], graph.find(name)
            changed = False
            for key, value in new.params.items():
                if old.params.get(key) != value:
                    graph.set_param(node.id, key, value)
                    changed = True
            if _settings(base, old)[0] != new.frozen:
                graph.set_setting(node.id, "frozen", new.frozen)
                changed = True
            if changed:
                done.changed.append(name)
    for name in [n.name for n in edited.nodes]:  # shares, once every block is there
        new = after[name]
        owner = edited.node(new.shares).name if new.shares else None
        if (name not in before or name in retyped or _settings(base, before[name])[1] != owner) and \
                name in {n.name for n in graph.nodes}:
            graph.set_setting(graph.find(name).id, "shares", graph.find(owner).id if owner else None)
            if name not in done.changed and name not in done.added:
                done.changed.append(name)
    names = {n.name for n in graph.nodes}
    for src, src_port, dst, dst_port in sorted(new_wires) + sorted(_kept_wires_of(retyped, edited)):
        if src in names and dst in names:
            target = graph.find(dst)
            if all(e is None or e.dst_port != dst_port for e in graph.input_edges(target.id)):
                graph.connect(graph.find(src).id, target.id, src_port=src_port, dst_port=dst_port)
                done.wires += (src, src_port, dst, dst_port) in new_wires
    done.groups = _groups(graph, base, edited)
    return done


def _kept_wires_of(retyped: list[str], edited: Graph) -> set:
    """The wires of a block that was made again (another type): put back, though the code kept them."""
    names = set(retyped)
    return {w for w in _wires(edited) if w[0] in names or w[2] in names}


def _place(graph: Graph, edited: Graph, new: Node) -> tuple[float, float]:
    """A new block goes just below the first block that feeds it."""
    present = {n.name for n in graph.nodes}
    for edge in edited.input_edges(new.id):
        if edge is not None and edited.node(edge.src).name in present:
            x, y = graph.find(edited.node(edge.src).name).pos
            return x + 40.0, y + ROW_HEIGHT * 0.5
    return (0.0, 0.0)


def _groups(graph: Graph, base: Graph, edited: Graph) -> int:
    def groups(g: Graph) -> dict:
        return {x.name: sorted(g.node(i).name for i in x.nodes) for x in g.groups}

    old, new = groups(base), groups(edited)
    count = 0
    by_name = {g.name: g for g in graph.groups}
    names = {n.name: n.id for n in graph.nodes}
    for name in old.keys() | new.keys():
        if old.get(name) == new.get(name):
            continue
        count += 1
        group = by_name.get(name)
        members = [names[m] for m in new.get(name, []) if m in names]
        if group is not None and not members:
            graph.remove_group(group.id)
        elif group is not None:
            free = [i for i in members if graph.group_of(i) in (None, group)]
            graph.set_group_nodes(group.id, free)
        elif members:
            free = [i for i in members if graph.group_of(i) is None]
            if free:
                graph.add_group(free, name)
    return count
