"""Groups of blocks: where they come from (an exporter's module scopes), what a collapsed one shows (its
inputs, outputs, shapes and parameter count), and how collapsing folds the canvas.

Groups live in the Graph (`graph.add_group`, `graph.set_collapsed`, ... with their events); this module holds
what is worked out from them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .graph import Edge, Graph, Group

COLLAPSED_ROWS = 1  # a collapsed group takes the room of one block row


# ----- groups from the module scopes of an exported model

def module_path(onnx_node_name: str) -> str:
    """The dotted module path of an ONNX node named by torch's exporter:
    `/layer1/layer1.0/conv1/Conv` -> `layer1.0.conv1`; `/layer1/layer1.0/Add` -> `layer1.0`; `/fc/Gemm` -> `fc`.
    Each scope repeats its parent's last name (`layer1`, then `layer1.0`), so repeats are folded."""
    parts = [p for p in onnx_node_name.split("/") if p][:-1]  # the last part names the operator
    path: list[str] = []
    for part in parts:
        if path and part.startswith(path[-1] + "."):
            path[-1] = part  # `layer1` then `layer1.0`; `downsample` then `downsample.0`
        else:
            path.append(part)
    return ".".join(path)


def group_name(path: str) -> str | None:
    """The group a module path belongs to: its first module, with the index that follows it when that module
    is a list of units (`layer1.0.conv1` -> `layer1.0`, `inception3a.branch2.0.conv` -> `inception3a`)."""
    parts = [p for p in path.split(".") if p]
    if not parts:
        return None
    return ".".join(parts[:2]) if len(parts) > 1 and parts[1].isdigit() else parts[0]


def groups_from_scopes(scopes: dict[str, str]) -> dict[str, list[str]]:
    """{block id: its module path, or the exporter's node name} -> {group name: block ids}, for every group of
    two blocks or more, in the order they first appear."""
    found: dict[str, list[str]] = {}
    for node_id, path in scopes.items():
        name = group_name(module_path(path) if "/" in path else path)
        if name:
            found.setdefault(name, []).append(node_id)
    return {name: ids for name, ids in found.items() if len(ids) > 1}


def add_groups(graph: Graph, groups: dict[str, list[str]], collapsed: bool = False) -> list[Group]:
    """Make each {name: block ids} a group of the graph (blocks already grouped are left where they are)."""
    made = []
    for name, ids in groups.items():
        free = [i for i in ids if i in graph and graph.group_of(i) is None]
        if free and graph_group_name_free(graph, name):
            made.append(graph.add_group(free, name, collapsed=collapsed))
    return made


def graph_group_name_free(graph: Graph, name: str) -> bool:
    return all(g.name != name for g in graph.groups)


# ----- what a collapsed group shows

@dataclass(frozen=True)
class GroupPorts:
    """The wires that cross a group's border: into it (from outside) and out of it (to outside)."""

    inputs: list[Edge]
    outputs: list[Edge]

    def sources(self) -> list[tuple[str, str]]:
        """Distinct (block id, port) outside the group that feed it, in order."""
        return list(dict.fromkeys((e.src, e.src_port) for e in self.inputs))

    def exits(self) -> list[tuple[str, str]]:
        """Distinct (block id, port) inside the group whose values leave it, in order."""
        return list(dict.fromkeys((e.src, e.src_port) for e in self.outputs))


def group_ports(graph: Graph, group: Group) -> GroupPorts:
    inside = set(group.nodes)
    inputs = [e for node_id in group.nodes for e in graph.input_edges(node_id) if e and e.src not in inside]
    outputs = [e for node_id in group.nodes for e in graph.output_edges(node_id) if e.dst not in inside]
    return GroupPorts(inputs, outputs)


def group_params(group: Group, report) -> int:
    """Parameters of the group's blocks, from a ShapeReport."""
    return sum(report.nodes[i].params for i in group.nodes if i in report.nodes) if report is not None else 0


# ----- folding: collapsing a group closes up the rows it took, expanding opens them again

def bounds(graph: Graph, node_ids: list[str]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the blocks' positions (their centres)."""
    xs = [graph.node(i).pos[0] for i in node_ids]
    ys = [graph.node(i).pos[1] for i in node_ids]
    return min(xs), min(ys), max(xs), max(ys)


def box_position(graph: Graph, group: Group) -> tuple[float, float]:
    """Where a collapsed group's box sits: centred over its blocks, at the row of its first one."""
    left, top, right, _ = bounds(graph, group.nodes)
    return (left + right) / 2, top


def fold_moves(graph: Graph, group: Group, collapse: bool) -> dict[str, tuple[float, float]]:
    """New positions for the blocks below a group: up by the group's height when it collapses (the rows it
    took close up), down by it when it expands. Its own blocks stay where they are (hidden when collapsed)."""
    return fold_positions({node.id: node.pos for node in graph.nodes}, group.nodes, collapse)


def fold_positions(positions: dict[str, tuple[float, float]], members: list[str],
                   collapse: bool) -> dict[str, tuple[float, float]]:
    """fold_moves on a {block id: position} map (e.g. a layout not yet applied)."""
    ys = [positions[i][1] for i in members]
    top, bottom = min(ys), max(ys)
    height = bottom - top
    if height <= 0:
        return {}
    inside = set(members)
    threshold = bottom if collapse else top
    shift = -height if collapse else height
    return {node_id: (x, y + shift) for node_id, (x, y) in positions.items()
            if node_id not in inside and y > threshold + 1e-6}


def folded_layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """The automatic layout, with the collapsed groups folded as collapsing them would (bottom-most first)."""
    from .layout import auto_layout

    positions = auto_layout(graph)
    collapsed = [g for g in graph.groups if g.collapsed]
    for group in sorted(collapsed, key=lambda g: min(positions[i][1] for i in g.nodes), reverse=True):
        positions.update(fold_positions(positions, group.nodes, collapse=True))
    return positions


def set_collapsed(graph: Graph, group_id: str, collapsed: bool) -> None:
    """Collapse or expand a group, folding the canvas below it (one piece of work, for a Journal)."""
    group = graph.group(group_id)
    if group.collapsed == collapsed:
        return
    moves = fold_moves(graph, group, collapsed)
    if moves:
        graph.move_many(moves)
    graph.set_collapsed(group_id, collapsed)


def set_all_collapsed(graph: Graph, collapsed: bool) -> None:
    """Collapse (bottom-most group first) or expand (top-most first) every group: the folds are worked out on
    the positions first, so that each block moves once."""
    positions = {node.id: node.pos for node in graph.nodes}
    targets = sorted((g for g in graph.groups if g.collapsed != collapsed),
                     key=lambda g: min(positions[i][1] for i in g.nodes), reverse=collapsed)
    for group in targets:
        positions.update(fold_positions(positions, group.nodes, collapsed))
    moved = {node_id: pos for node_id, pos in positions.items() if graph.node(node_id).pos != pos}
    if moved:
        graph.move_many(moved)
    for group in targets:
        graph.set_collapsed(group.id, collapsed)
