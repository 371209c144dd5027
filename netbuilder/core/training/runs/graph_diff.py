"""What changed between two graphs (two runs' snapshots, or a snapshot and the open document): blocks added,
removed, re-wired (an input port fed by another block, or no longer fed), with changed parameters or settings
(the old and the new value), renamed or of another type. Blocks are matched by id, then by name. Positions,
groups and meta are not differences. Plain data: the editor marks the blocks on the canvas from `marks()`,
the CLI prints `lines()`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ...base.errors import brief

SETTINGS = {"frozen": False, "shares": None, "init": "default"}  # a block's settings and their defaults


@dataclass(frozen=True)
class BlockRef:
    id: str
    name: str
    type: str


@dataclass
class BlockChange:
    """One block in both graphs that differs. `id`, `name`, `type` are the new graph's; `params`, `settings` and
    `inputs` map each changed parameter, setting or input port to (old, new) (an input as `block` or
    `block.port`, None where the port is free)."""

    id: str
    name: str
    type: str
    old_id: str
    old_name: str
    old_type: str
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    settings: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    inputs: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def rewired(self) -> bool:
        return bool(self.inputs)

    @property
    def kinds(self) -> list[str]:
        """What changed: any of renamed, retyped, params, settings, rewired."""
        return [kind for kind, changed in (("renamed", self.name != self.old_name), ("retyped", self.type != self.old_type),
                                           ("params", self.params), ("settings", self.settings),
                                           ("rewired", self.inputs)) if changed]

    def describe(self) -> str:
        """`conv1 (Conv2d): out_channels 8 -> 16; input x -> pool1`."""
        parts = []
        if self.name != self.old_name:
            parts.append(f"renamed from {self.old_name}")
        if self.type != self.old_type:
            parts.append(f"was {self.old_type}")
        parts += [f"{k} {_shown(old)} -> {_shown(new)}" for k, (old, new) in {**self.params, **self.settings}.items()]
        parts += [f"input {port} {old or '(free)'} -> {new or '(free)'}" for port, (old, new) in self.inputs.items()]
        return f"{self.name} ({self.type}): " + "; ".join(parts)


@dataclass
class GraphDiff:
    added: list[BlockRef] = field(default_factory=list)  # in the new graph only (new ids)
    removed: list[BlockRef] = field(default_factory=list)  # in the old graph only (old ids)
    changed: list[BlockChange] = field(default_factory=list)
    recipe: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # the documents' training recipes

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.recipe)

    def marks(self) -> dict[str, str]:
        """{block id in the new graph: "added" | "rewired" | "changed"} (rewired wins over changed)."""
        marks = {b.id: "added" for b in self.added}
        marks.update({c.id: "rewired" if c.rewired else "changed" for c in self.changed})
        return marks

    def summary(self) -> str:
        """`2 added, 1 removed, 3 changed` (or `the same graph`)."""
        counts = [(len(self.added), "added"), (len(self.removed), "removed"), (len(self.changed), "changed")]
        words = [f"{n} {what}" for n, what in counts if n]
        words += ["recipe changed"] if self.recipe else []
        return ", ".join(words) or "the same graph"

    def lines(self) -> list[str]:
        lines = [f"+ {b.name} ({b.type}) added" for b in self.added]
        lines += [f"- {b.name} ({b.type}) removed" for b in self.removed]
        lines += [f"~ {c.describe()}" for c in self.changed]
        lines += [f"~ recipe {k}: {_shown(old)} -> {_shown(new)}" for k, (old, new) in self.recipe.items()]
        return lines

    def to_dict(self) -> dict:
        return {"added": [asdict(b) for b in self.added], "removed": [asdict(b) for b in self.removed],
                "changed": [{**asdict(c), "kinds": c.kinds,
                             "params": {k: list(v) for k, v in c.params.items()},
                             "settings": {k: list(v) for k, v in c.settings.items()},
                             "inputs": {k: list(v) for k, v in c.inputs.items()}} for c in self.changed],
                "recipe": {k: list(v) for k, v in self.recipe.items()}, "summary": self.summary()}


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(map(str, value)) if value and all(isinstance(v, int) for v in value) else brief(value)
    return brief(value) if isinstance(value, str) else str(value)


def _document(graph: Any) -> dict:
    """A Graph, or a graph document as plain data, as plain data."""
    document = graph.to_dict() if hasattr(graph, "to_dict") else graph
    return document if isinstance(document, dict) else {}


def _nodes(document: dict) -> dict[str, dict]:
    return {str(n["id"]): n for n in document.get("nodes", []) if isinstance(n, dict) and "id" in n}


def _inputs(document: dict) -> dict[str, dict[str, tuple[str, str]]]:
    """{block id: {input port: (source id, source port)}}."""
    wired: dict[str, dict[str, tuple[str, str]]] = {}
    for e in document.get("edges", []):
        if isinstance(e, dict):
            wired.setdefault(str(e.get("dst")), {})[str(e.get("dst_port"))] = (str(e.get("src")), str(e.get("src_port")))
    return wired


def graph_diff(old: Any, new: Any) -> GraphDiff:
    """The difference from `old` to `new` (Graphs or graph documents as plain data)."""
    old_doc, new_doc = _document(old), _document(new)
    old_nodes, new_nodes = _nodes(old_doc), _nodes(new_doc)
    match = {i: i for i in old_nodes if i in new_nodes}  # old id -> new id
    by_name = {n.get("name"): i for i, n in new_nodes.items() if i not in match.values()}
    for i, node in old_nodes.items():
        if i not in match and node.get("name") in by_name:
            match[i] = by_name.pop(node.get("name"))
    matched_new = set(match.values())
    diff = GraphDiff(
        added=[_ref(n) for i, n in new_nodes.items() if i not in matched_new],
        removed=[_ref(n) for i, n in old_nodes.items() if i not in match])
    old_inputs, new_inputs = _inputs(old_doc), _inputs(new_doc)

    def source(wire: tuple[str, str] | None, nodes: dict, translate: dict | None) -> tuple[str | None, str | None]:
        """(the source's new id, or a mark of a removed one; how it is shown)."""
        if wire is None:
            return None, None
        src, port = wire
        name = str(nodes.get(src, {}).get("name", src))
        shown = name if port == "out" else f"{name}.{port}"
        key = (translate.get(src, f"removed:{src}") if translate is not None else src)
        return f"{key}.{port}", shown

    for old_id, new_id in match.items():
        a, b = old_nodes[old_id], new_nodes[new_id]
        change = BlockChange(new_id, str(b.get("name")), str(b.get("type")), old_id, str(a.get("name")),
                             str(a.get("type")))
        pa, pb = a.get("params") or {}, b.get("params") or {}
        change.params = {k: (pa.get(k), pb.get(k)) for k in dict.fromkeys([*pa, *pb]) if pa.get(k) != pb.get(k)}
        change.settings = {k: (a.get(k, d), b.get(k, d)) for k, d in SETTINGS.items() if a.get(k, d) != b.get(k, d)}
        if change.settings.get("shares"):  # shown by name, compared by what they are in the new graph
            olds, news = change.settings["shares"]
            if match.get(olds) == news:
                del change.settings["shares"]
            else:
                change.settings["shares"] = (old_nodes.get(olds, {}).get("name", olds) if olds else None,
                                             new_nodes.get(news, {}).get("name", news) if news else None)
        ports = dict.fromkeys([*old_inputs.get(old_id, {}), *new_inputs.get(new_id, {})])
        for port in ports:
            old_key, old_shown = source(old_inputs.get(old_id, {}).get(port), old_nodes, match)
            new_key, new_shown = source(new_inputs.get(new_id, {}).get(port), new_nodes, None)
            if old_key != new_key:
                change.inputs[port] = (old_shown, new_shown)
        if change.kinds:
            diff.changed.append(change)
    ra, rb = old_doc.get("recipe") or {}, new_doc.get("recipe") or {}
    diff.recipe = {k: (ra.get(k), rb.get(k)) for k in dict.fromkeys([*ra, *rb]) if ra.get(k) != rb.get(k)}
    return diff


def _ref(node: dict) -> BlockRef:
    return BlockRef(str(node.get("id")), str(node.get("name")), str(node.get("type")))
