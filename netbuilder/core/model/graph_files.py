"""A graph document as a file: JSON out (`to_dict`, `save`, atomic) and in (`from_dict`, `load`), checked
thoroughly on the way in; GraphError names the first problem and where it is. Graph takes these methods from
DocumentFile."""
from __future__ import annotations

import json
import os
from typing import Any

import networkx as nx

from ..base.errors import brief, summarize_path
from ..base.files import atomic_write_text, read_regular_file
from ..layers import LAYERS
from .parts import MAX_NODES, SETTINGS, GraphError, check_keys, is_text

FORMAT = "netbuilder.graph"
VERSION = 1
MAX_FILE_BYTES = 50 * 1024 * 1024


class DocumentFile:
    """The file side of a Graph (mixed into it)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "meta": dict(self.meta),
            "nodes": [
                {"id": n.id, "type": n.type, "name": n.name,
                 "params": {k: list(v) if isinstance(v, list) else v for k, v in n.params.items()}, "pos": list(n.pos),
                 **n.settings()}
                for n in self.nodes
            ],
            "edges": [edge.to_dict() for edge in self.edges],
            **({"recipe": dict(self.recipe)} if self.recipe else {}),
        } | ({"groups": [group.to_dict() for group in self.groups]} if self._groups else {})

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        """Check a document thoroughly and build the graph; GraphError names the first problem."""
        if not isinstance(data, dict):
            raise GraphError("not a netbuilder graph: the document is not a JSON object")
        if data.get("format") != FORMAT:
            raise GraphError(f"not a netbuilder graph: 'format' is {brief(data.get('format'))}, expected '{FORMAT}'")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise GraphError(f"'version' must be a positive whole number, got {brief(version)}")
        if version > VERSION:
            raise GraphError(f"saved by a newer netbuilder (format version {version}; this one reads {VERSION})")
        check_keys(data, "the document", required={"format", "version", "nodes", "edges"},
                    optional={"meta", "recipe", "groups"})
        meta = data.get("meta", {})
        if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
            raise GraphError("'meta' must map names to strings")
        if not all(is_text(k) and is_text(v) for k, v in meta.items()):
            raise GraphError("'meta' holds text that is not valid Unicode (a lone surrogate)")
        weights = meta.get("weights")
        if weights is not None and (not weights.strip() or any(not c.isprintable() for c in weights)):
            raise GraphError(f"'meta': 'weights' must name a file (printable characters), got {brief(weights)}")
        nodes, edges = data["nodes"], data["edges"]
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise GraphError("'nodes' and 'edges' must be lists")
        if len(nodes) > MAX_NODES:
            raise GraphError(f"the graph has {len(nodes)} blocks; at most {MAX_NODES} are allowed")

        graph = cls(meta)
        for i, raw in enumerate(nodes):
            where = f"nodes[{i}]"
            check_keys(raw, where, required={"id", "type", "name"}, optional={"params", "pos", *SETTINGS})
            if isinstance(raw["id"], str):
                where += f" (id {brief(raw['id'])})"
            if not isinstance(raw["type"], str) or raw["type"] not in LAYERS:
                raise GraphError(f"{where}: unknown layer type {brief(raw['type'])}")
            if not isinstance(raw.get("params", {}), dict):
                raise GraphError(f"{where}: 'params' must be an object")
            try:
                graph.add_node(raw["type"], raw.get("params", {}), name=raw["name"], id=raw["id"],
                               pos=raw.get("pos", (0.0, 0.0)), settings={k: raw[k] for k in SETTINGS if k in raw})
            except GraphError as e:
                raise GraphError(f"{where}: {e}") from None

        for i, raw in enumerate(edges):
            where = f"edges[{i}]"
            check_keys(raw, where, required={"src", "src_port", "dst", "dst_port"})
            for key in ("src", "src_port", "dst", "dst_port"):
                if not isinstance(raw[key], str):
                    raise GraphError(f"{where}: '{key}' must be a string, got {brief(raw[key])}")
            try:
                graph._connect(raw["src"], raw["dst"], raw["src_port"], raw["dst_port"], check_cycle=False)
            except GraphError as e:
                raise GraphError(f"{where}: {e}") from None

        if "recipe" in data:
            from .recipe import check_recipe

            try:
                graph.recipe = check_recipe(data["recipe"])
            except ValueError as e:
                raise GraphError(f"'recipe': {e}") from None
        # One cycle check for the whole document: checking each wire as it is added costs O(n^2).
        cycle = _find_cycle(graph._g)
        if cycle:
            raise GraphError(f"the wires form {summarize_path([graph.node(i).name for i in cycle])}")
        graph._load_groups(data.get("groups", []))
        return graph

    def _load_groups(self, groups: Any) -> None:
        if not isinstance(groups, list):
            raise GraphError("'groups' must be a list")
        for i, raw in enumerate(groups):
            check_keys(raw, f"groups[{i}]", required={"id", "name", "nodes"}, optional={"collapsed"})
            try:
                self.add_group(raw["nodes"], raw["name"], id=raw["id"], collapsed=raw.get("collapsed", False))
            except GraphError as e:
                raise GraphError(f"groups[{i}]: {e}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the document as JSON, atomically: a crash mid-write leaves the old file intact."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Read a document; GraphError names the problem (unreadable file, bad JSON, invalid graph)."""
        try:
            raw = read_regular_file(path, MAX_FILE_BYTES + 1)
        except OSError as e:
            raise GraphError(f"cannot read the file: {e.strerror or e}") from None
        if len(raw) > MAX_FILE_BYTES:
            raise GraphError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MB; not a graph document")
        try:
            data = json.loads(raw.decode("utf-8"), parse_int=_parse_int)
        except UnicodeDecodeError:
            raise GraphError("not a graph document: the file is not UTF-8 text") from None
        except json.JSONDecodeError as e:
            raise GraphError(f"not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}") from None
        except RecursionError:
            raise GraphError("not a graph document: the JSON is nested too deeply") from None
        except _HugeNumber as e:
            raise GraphError(f"not a graph document: it holds a number of {e.digits:,} digits") from None
        return cls.from_dict(data)


class _HugeNumber(GraphError):
    """A whole number too long to read: raised by the JSON reader, turned into its GraphError in `load`."""

    def __init__(self, digits: int) -> None:
        super().__init__(f"not a graph document: it holds a number of {digits:,} digits")
        self.digits = digits


def _parse_int(text: str) -> int:
    """JSON whole numbers, refused beyond 100 digits (Python refuses to read more than 4,300 at all)."""
    if len(text) > 100:
        raise _HugeNumber(len(text.lstrip("-")))
    return int(text)


def _find_cycle(g: nx.MultiDiGraph) -> list[str]:
    """The node ids of one cycle, in wire order, or [] when there is none; linear in the graph's size
    (networkx's find_cycle is not, on long chains). Kahn's algorithm takes away every node that is not on
    or behind a cycle; from any node left, walking back along wires into nodes left must come round."""
    waiting = {node: g.in_degree(node) for node in g}
    ready = [node for node, count in waiting.items() if count == 0]
    while ready:
        node = ready.pop()
        del waiting[node]
        for _, succ in g.out_edges(node):
            waiting[succ] -= 1
            if waiting[succ] == 0:
                ready.append(succ)
    if not waiting:
        return []
    seen: dict[str, int] = {}
    walk = [next(iter(waiting))]
    while walk[-1] not in seen:
        seen[walk[-1]] = len(walk) - 1
        walk.append(next(src for src, _ in g.in_edges(walk[-1]) if src in waiting))
    return list(reversed(walk[seen[walk[-1]] + 1:]))
