"""The graph document: layer blocks (nodes) and the wires (edges) between their ports.

A Graph is the single source of truth for a network. Every edit goes through one of its
methods, which checks its arguments, raises GraphError with a readable message when they are
wrong (leaving the graph as it was), and announces what changed on its own typed event
(`node_added`, `param_changed`, `edge_removed`, ...), to which views connect.
"""
from __future__ import annotations

import keyword
from typing import Any, Iterable

import networkx as nx

from ..base.errors import brief, summarize_path
from ..layers import LAYERS, ParamError, get_layer
from .events import Event
from .graph_files import DocumentFile
from .parts import (
    MAX_NODES,
    NAME,
    Edge,
    GraphError,
    Group,
    Node,
    check_params,
    check_pos,
    check_setting,
    is_text,
    next_free,
    share_problem_of,
)


class Graph(DocumentFile):
    """A network as a networkx.MultiDiGraph of Nodes; edges are keyed by their destination port.

    Each change is announced after it is made, on its own event:
    node_added(node), node_removed(node), param_changed(node, param name), node_renamed(node, old name),
    node_moved(node), setting_changed(node, setting name), edge_added(edge), edge_removed(edge),
    group_added(group), group_removed(group), group_changed(group) (renamed, collapsed or expanded, or its
    blocks changed), recipe_changed().

    Groups are named boxes of blocks (an Inception module; a generator or a discriminator, which a loss block
    may train by name); `recipe` holds the training settings a document carries (dataset, epochs, ...).
    """

    def __init__(self, meta: dict[str, str] | None = None) -> None:
        self._g = nx.MultiDiGraph()
        self._names: dict[str, str] = {}  # block name -> id: names are checked in constant time
        self.meta: dict[str, str] = dict(meta or {})
        self.node_added = Event(Node)
        self.node_removed = Event(Node)
        self.param_changed = Event(Node, str)
        self.node_renamed = Event(Node, str)
        self.node_moved = Event(Node)
        self.setting_changed = Event(Node, str)
        self.edge_added = Event(Edge)
        self.edge_removed = Event(Edge)
        self._groups: dict[str, Group] = {}
        self._group_of: dict[str, str] = {}  # block id -> group id
        self.group_added = Event(Group)
        self.group_removed = Event(Group)
        self.group_changed = Event(Group)
        self.recipe_changed = Event()
        self.recipe: dict[str, Any] = {}

    def __eq__(self, other: object) -> bool:
        """The same document: blocks, params, positions, wires, meta (events and their handlers aside)."""
        return isinstance(other, Graph) and self.to_dict() == other.to_dict()

    __hash__ = None  # a document changes: it cannot be a dict key

    # ----- reading

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._g

    @property
    def nodes(self) -> list[Node]:
        """Nodes in document order."""
        return [data["node"] for _, data in self._g.nodes(data=True)]

    @property
    def edges(self) -> list[Edge]:
        """Edges ordered by destination node (document order), then destination port."""
        return [edge for node in self.nodes for edge in self.input_edges(node.id) if edge is not None]

    def node(self, node_id: str) -> Node:
        try:
            return self._g.nodes[node_id]["node"]
        except KeyError:
            raise GraphError(f"no block with id {brief(node_id)}") from None

    def find(self, name: str) -> Node:
        """The node called `name`."""
        if isinstance(name, str) and name in self._names:
            return self.node(self._names[name])
        raise GraphError(f"no block named {brief(name)}")

    def input_edges(self, node_id: str) -> list[Edge | None]:
        """The wire into each input port of a node, in port order; None where a port is free."""
        node = self.node(node_id)
        wired = {key: data["edge"] for _, _, key, data in self._g.in_edges(node_id, keys=True, data=True)}
        return [wired.get(port) for port in node.input_ports()]

    def output_edges(self, node_id: str) -> list[Edge]:
        self.node(node_id)
        return [data["edge"] for _, _, data in self._g.out_edges(node_id, data=True)]

    def topological_order(self) -> list[Node]:
        """Nodes so that every node comes after the nodes feeding it; ties keep document order."""
        index = {node_id: i for i, node_id in enumerate(self._g.nodes)}
        order = nx.lexicographical_topological_sort(self._g, key=index.__getitem__)
        return [self._g.nodes[node_id]["node"] for node_id in order]

    def ancestors(self, node_id: str) -> set[str]:
        return nx.ancestors(self._g, node_id)

    def generations(self) -> list[list[str]]:
        """Node ids in data-flow layers: each layer depends only on the layers before it."""
        return [list(layer) for layer in nx.topological_generations(self._g)]

    # ----- editing

    def add_node(self, type: str, params: dict[str, Any] | None = None, *, name: str | None = None,
                 pos: Iterable[float] = (0.0, 0.0), id: str | None = None, index: int | None = None,
                 settings: dict[str, Any] | None = None) -> Node:
        """Add a block; missing params take their defaults, a missing name or id is made up.
        `index` places it in document order (undo puts a deleted block back where it was); `settings`
        are frozen, shares and init (see SETTINGS)."""
        if len(self._g) >= MAX_NODES:
            raise GraphError(f"a graph holds at most {MAX_NODES} blocks")
        if not isinstance(type, str) or type not in LAYERS:
            raise GraphError(f"unknown layer type {brief(type)}")
        spec = get_layer(type)
        if id is None:
            id = self._free_id()
        elif not isinstance(id, str) or not 0 < len(id) <= 64 or not is_text(id):
            raise GraphError(f"a block id must be a string of 1 to 64 characters, got {brief(id)}")
        elif id in self._g:
            raise GraphError(f"duplicate block id '{id}'")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise GraphError(f"a block's place in the document must be a whole number from 0, got {brief(index)}")
        name = self._free_name(spec.prefix) if name is None else name
        self._check_name(name)
        checked = check_params(spec, params or {}, f"{name} ({type})")
        node = Node(id, type, name, checked, check_pos(pos))
        for key, value in (settings or {}).items():
            try:
                setattr(node, key, check_setting(key, value))
            except GraphError as e:
                raise GraphError(e.reason, node.label) from None
        self._g.add_node(id, node=node)
        self._names[name] = id
        if index is not None and index < len(self._g) - 1:
            self._reorder([*list(self._g)[:index], id, *list(self._g)[index:-1]])
        self.node_added.emit(node)
        return node

    def _reorder(self, ids: list[str]) -> None:
        """Rebuild the networkx graph with its nodes in the given document order."""
        ordered = nx.MultiDiGraph()
        ordered.add_nodes_from((node_id, self._g.nodes[node_id]) for node_id in ids)
        ordered.add_edges_from(self._g.edges(keys=True, data=True))
        self._g = ordered

    def index_of(self, node_id: str) -> int:
        """The block's place in document order."""
        self.node(node_id)
        return list(self._g).index(node_id)

    def remove_node(self, node_id: str) -> Node:
        """Remove a block and every wire into or out of it."""
        node = self.node(node_id)
        for edge in [e for e in self.input_edges(node_id) if e] + self.output_edges(node_id):
            self.disconnect(edge.dst, edge.dst_port)
        group = self.group_of(node_id)
        if group is not None:  # the group lets go of it first (and goes when it was its last block)
            rest = [i for i in group.nodes if i != node_id]
            self.set_group_nodes(group.id, rest) if rest else self.remove_group(group.id)
        self._g.remove_node(node_id)
        del self._names[node.name]
        self.node_removed.emit(node)
        return node

    def connect(self, src: str, dst: str, *, src_port: str | None = None, dst_port: str | None = None) -> Edge:
        """Wire src's output port (its first when src_port is None) to dst's input port (the first free one
        when dst_port is None)."""
        if src_port is None:
            src_port = next(iter(self.node(src).output_ports()), "out")
        return self._connect(src, dst, src_port, dst_port, check_cycle=True)

    def _connect(self, src: str, dst: str, src_port: Any, dst_port: Any, check_cycle: bool) -> Edge:
        source, target = self.node(src), self.node(dst)
        if src_port not in source.output_ports():
            raise GraphError(f"{source.label} has no output port {brief(src_port)}")
        ports = target.input_ports()
        taken = {key for _, _, key in self._g.in_edges(dst, keys=True)}
        if dst_port is None:
            free = [port for port in ports if port not in taken]
            if not free:
                raise GraphError(f"{target.label} has no free input port")
            dst_port = free[0]
        elif dst_port not in ports:
            raise GraphError(f"{target.label} has no input port {brief(dst_port)}")
        elif dst_port in taken:
            raise GraphError(f"input '{dst_port}' of {target.label} is already connected")
        if check_cycle and (src == dst or nx.has_path(self._g, dst, src)):
            path = [dst] if src == dst else nx.shortest_path(self._g, dst, src)
            loop = summarize_path([self.node(i).name for i in [src, *path[:-1]]])
            raise GraphError(f"connecting {source.name} to {target.name} would make {loop}")
        return self._add_edge(Edge(src, src_port, dst, dst_port))

    def _add_edge(self, edge: Edge) -> Edge:
        self._g.add_edge(edge.src, edge.dst, key=edge.dst_port, edge=edge)
        self.edge_added.emit(edge)
        return edge

    def disconnect(self, dst: str, dst_port: str) -> Edge:
        """Remove the wire into input port `dst_port` of `dst`."""
        node = self.node(dst)
        for src, _, key, data in self._g.in_edges(dst, keys=True, data=True):
            if key == dst_port:
                self._g.remove_edge(src, dst, key=key)
                self.edge_removed.emit(data["edge"])
                return data["edge"]
        raise GraphError(f"input {brief(dst_port)} of {node.label} is not connected")

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        node = self.node(node_id)
        spec = node.spec
        try:
            value = spec.param(name).check(value)
        except KeyError:
            raise GraphError(f"{node.label} has no param {brief(name)}") from None
        except ParamError as e:
            raise GraphError(str(e), node.label) from None
        kept = spec.input_ports({**node.params, name: value})
        if kept != node.input_ports():
            lost = [e.dst_port for e in self.input_edges(node_id) if e and e.dst_port not in kept]
            if lost:
                raise GraphError(f"disconnect {', '.join(lost)} before removing the port", node.label)
        if spec.outputs == name or callable(spec.outputs):
            kept = spec.output_ports({**node.params, name: value})
            lost = sorted({e.src_port for e in self.output_edges(node_id) if e.src_port not in kept})
            if lost:
                raise GraphError(f"disconnect output {', '.join(lost)} before removing the port", node.label)
        node.params[name] = value
        self.param_changed.emit(node, name)

    def rename(self, node_id: str, name: str) -> None:
        node = self.node(node_id)
        if name != node.name:
            self._check_name(name)
            old, node.name = node.name, name
            self._names[name] = self._names.pop(old)
            self.node_renamed.emit(node, old)

    def set_setting(self, node_id: str, key: str, value: Any) -> None:
        """Freeze a block, make it share another block's weights (or stop: None), or choose its initialization."""
        node = self.node(node_id)
        try:
            value = check_setting(key, value)
        except GraphError as e:
            raise GraphError(e.reason, node.label) from None
        if key == "shares" and value is not None:
            source = self.node(value) if value in self._g else None
            problem = share_problem_of(node, source)
            if problem:
                raise GraphError(problem, node.label)
        if value != getattr(node, key):
            setattr(node, key, value)
            self.setting_changed.emit(node, key)

    def sharers(self, node_id: str) -> list[Node]:
        """The blocks that use this block's weights."""
        return [node for node in self.nodes if node.shares == node_id]

    def group_members(self, name: str) -> list[Node]:
        """The blocks of the group called `name` (what a loss block that trains it trains)."""
        group = next((g for g in self._groups.values() if g.name == name), None)
        return [self.node(i) for i in group.nodes] if group is not None else []

    @property
    def group_names(self) -> list[str]:
        return [g.name for g in self._groups.values()]

    def set_recipe(self, recipe: dict[str, Any]) -> None:
        """The training settings the document carries (see recipe.check_recipe)."""
        from .recipe import check_recipe

        self.recipe = check_recipe(recipe)
        self.recipe_changed.emit()

    def move(self, node_id: str, pos: Iterable[float]) -> None:
        self.move_many({node_id: pos})

    def move_many(self, positions: dict[str, Iterable[float]]) -> None:
        """Move several blocks; every id and position is checked first, so a refusal moves none."""
        checked = {}
        for node_id, pos in positions.items():
            node = self.node(node_id)
            try:
                checked[node_id] = (node, check_pos(pos))
            except GraphError as e:
                raise GraphError(str(e), node.label) from None
        for node, pos in checked.values():
            node.pos = pos
            self.node_moved.emit(node)

    # ----- names and ids

    def _free_id(self) -> str:
        return next_free("n", self._g, len(self._g) + 1)

    def _free_name(self, prefix: str) -> str:
        return next_free(prefix, self._names)

    def name_is_free(self, name: Any) -> bool:
        """Whether a new block could take this name (valid and not in use)."""
        return self.name_problem(name) is None

    def name_problem(self, name: Any) -> str | None:
        """Why a block could not take this name (invalid, or in use), or None."""
        try:
            self._check_name(name)
        except GraphError as e:
            return str(e)
        return None

    def _check_name(self, name: Any) -> None:
        if not isinstance(name, str) or not NAME.fullmatch(name) or keyword.iskeyword(name) or name == "self":
            raise GraphError(
                f"{brief(name)} is not a valid block name: use letters, digits and _, start with a letter, "
                "at most 64 characters, not a Python keyword")
        if name in self._names:
            raise GraphError(f"a block named '{name}' already exists")

    # ----- groups

    @property
    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def group(self, group_id: str) -> Group:
        try:
            return self._groups[group_id]
        except KeyError:
            raise GraphError(f"no group with id '{group_id}'") from None

    def group_of(self, node_id: str) -> Group | None:
        """The group a block belongs to, if any."""
        group_id = self._group_of.get(node_id)
        return self._groups[group_id] if group_id is not None else None

    def add_group(self, nodes: Iterable[str], name: str | None = None, *, id: str | None = None,
                  collapsed: bool = False, index: int | None = None) -> Group:
        """Group blocks under a name (made up when None); each block may be in one group only. `index` places
        it among the groups (undo puts a removed group back where it was)."""
        if id is None:
            id = next_free("g", self._groups, len(self._groups) + 1)
        elif not isinstance(id, str) or not 0 < len(id) <= 64 or id in self._groups:
            raise GraphError(f"a group id must be a new string of 1 to 64 characters, got {id!r}")
        name = next_free("group", {g.name for g in self.groups}) if name is None else name
        self._check_group_name(name)
        if not isinstance(collapsed, bool):
            raise GraphError(f"'collapsed' must be true or false, got {collapsed!r}")
        group = Group(id, name, self._check_group_nodes(nodes, None), collapsed)
        self._groups[id] = group
        if index is not None and index < len(self._groups) - 1:
            order = list(self._groups)[:-1]
            order.insert(index, id)
            self._groups = {i: self._groups[i] for i in order}
        self._group_of.update((node_id, id) for node_id in group.nodes)
        self.group_added.emit(group)
        return group

    def group_index(self, group_id: str) -> int:
        self.group(group_id)
        return list(self._groups).index(group_id)

    def remove_group(self, group_id: str) -> Group:
        """Ungroup: the blocks stay, the group goes."""
        group = self.group(group_id)
        del self._groups[group_id]
        for node_id in group.nodes:
            self._group_of.pop(node_id, None)
        self.group_removed.emit(group)
        return group

    def rename_group(self, group_id: str, name: str) -> None:
        group = self.group(group_id)
        if name != group.name:
            self._check_group_name(name)
            group.name = name
            self.group_changed.emit(group)

    def set_collapsed(self, group_id: str, collapsed: bool) -> None:
        group = self.group(group_id)
        if bool(collapsed) != group.collapsed:
            group.collapsed = bool(collapsed)
            self.group_changed.emit(group)

    def set_group_nodes(self, group_id: str, nodes: Iterable[str]) -> None:
        """Give a group another set of blocks (at least one)."""
        group = self.group(group_id)
        checked = self._check_group_nodes(nodes, group_id)
        for node_id in group.nodes:
            self._group_of.pop(node_id, None)
        group.nodes = checked
        self._group_of.update((node_id, group_id) for node_id in checked)
        self.group_changed.emit(group)

    def _check_group_name(self, name: Any) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= 64 or not name.isprintable() or name != name.strip():
            raise GraphError(f"{name!r} is not a valid group name: 1 to 64 printable characters")
        if any(g.name == name for g in self.groups):
            raise GraphError(f"a group named '{name}' already exists")

    def _check_group_nodes(self, nodes: Iterable[str], group_id: str | None) -> list[str]:
        if isinstance(nodes, str) or not isinstance(nodes, Iterable):
            raise GraphError(f"a group's blocks must be a list of block ids, got {nodes!r}")
        wanted = list(nodes)
        for node_id in wanted:
            node = self.node(node_id) if isinstance(node_id, str) else None
            if node is None:
                raise GraphError(f"a group's blocks must be block ids, got {node_id!r}")
            other = self._group_of.get(node_id)
            if other is not None and other != group_id:
                raise GraphError(f"{node.label} is already in group '{self._groups[other].name}'")
        if not wanted or len(set(wanted)) != len(wanted):
            raise GraphError("a group needs at least one block, each listed once")
        order = {node_id: i for i, node_id in enumerate(self._g)}
        return sorted(wanted, key=order.__getitem__)

    def copy(self) -> Graph:
        return Graph.from_dict(self.to_dict())

    def fragment(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """A document holding only the given blocks and the wires between them (for copy and paste)."""
        keep = set(node_ids)
        data = self.to_dict()
        data["meta"] = {}
        data.pop("recipe", None)
        data["nodes"] = [n for n in data["nodes"] if n["id"] in keep]
        data["edges"] = [e for e in data["edges"] if e["src"] in keep and e["dst"] in keep]
        data.pop("groups", None)
        return data

    def prepare_paste(self, fragment: Graph, offset: tuple[float, float] = (0.0, 0.0)) -> dict[str, Any]:
        """The fragment's blocks and wires with ids and names that are free in this graph, shifted by
        `offset`: a document whose nodes and edges can be added here as they are."""
        data = fragment.to_dict()
        data.pop("groups", None)
        ids: dict[str, str] = {}
        taken_ids, taken_names = set(self._g), {node.name for node in self.nodes}
        for raw in data["nodes"]:
            new_id = raw["id"] if raw["id"] not in taken_ids else next_free("n", taken_ids, len(taken_ids) + 1)
            if raw["name"] in taken_names:
                raw["name"] = next_free(get_layer(raw["type"]).prefix, taken_names)
            taken_ids.add(new_id)
            taken_names.add(raw["name"])
            ids[raw["id"]] = raw["id"] = new_id
            raw["pos"] = [raw["pos"][0] + offset[0], raw["pos"][1] + offset[1]]
        for raw in data["nodes"]:  # a block that shares a pasted block's weights shares its copy's
            if raw.get("shares") in ids:
                raw["shares"] = ids[raw["shares"]]
        for edge in data["edges"]:
            edge["src"], edge["dst"] = ids[edge["src"]], ids[edge["dst"]]
        return data

def single_layer_graph(type_name: str, params: dict[str, Any] | None = None,
                       input_shape: Iterable[int] | dict[str, Iterable[int]] | None = None,
                       ports: dict[str, tuple] | None = None) -> tuple[Graph, str]:
    """Input (of `input_shape`, else the layer's first case's) -> the layer -> an Output per output port,
    every input port wired to the Input: how a layer is tried on its own (the layer harness, the start-up
    warm-up). `input_shape` may map input ports to shapes: each port then gets an Input of its own
    (x1, x2, ...); `ports` ({port: (shape, dtype)}) does the same with a dtype per port (a loss's labels).
    Returns the graph and the layer's node id."""
    spec = get_layer(type_name)
    graph = Graph()
    if input_shape is None and ports is None and spec.cases:
        input_shape, ports = spec.cases[0].inputs or None, spec.cases[0].ports
    dtype = "int64" if spec.int_input else "float32"
    names = spec.input_ports({**spec.defaults(), **(params or {})})
    if ports:
        sources = [graph.add_node("Input", {"shape": list(ports[port][0]), "dtype": ports[port][1]},
                                  name=f"x{i}").id for i, port in enumerate(names, start=1)]
    elif isinstance(input_shape, dict):
        sources = [graph.add_node("Input", {"shape": list(input_shape[port]), "dtype": dtype}, name=f"x{i}").id
                   for i, port in enumerate(names, start=1)]
    else:
        shape = list(input_shape) if input_shape is not None else list(spec.example)
        sources = [graph.add_node("Input", {"shape": shape, "dtype": dtype}, name="x").id] * len(names)
    layer = graph.add_node(type_name, params)
    for source, port in zip(sources, names):
        graph.connect(source, layer.id, dst_port=port)
    for port in layer.output_ports():
        graph.connect(layer.id, graph.add_node("Output").id, src_port=port)
    return graph, layer.id


def share_problem(graph: Graph, node: Node) -> str | None:
    """Why a block's `shares` setting cannot hold as the graph is now (for shape inference), or None."""
    if node.shares is None:
        return None
    return share_problem_of(node, graph.node(node.shares) if node.shares in graph else None)
