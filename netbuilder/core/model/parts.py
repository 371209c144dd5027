"""The parts of a graph document: blocks (Node), wires (Edge), groups (Group), the error an edit or a
document gets, and the checks on each field that both editing (graph.py) and loading (graph_files.py) apply."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..base.errors import NetbuilderError, brief, brief_text
from ..layers import LayerSpec, ParamError, get_layer

MAX_NODES = 10_000
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # a block's name: a Python identifier (code export uses it)


class GraphError(NetbuilderError):
    """An edit or a document that the graph refuses; the message names the problem and where it is.
    `reason` is the problem alone, for a view that already shows which block it is about."""

    def __init__(self, reason: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason


INITS = ("default", "xavier", "kaiming", "normal", "zeros")  # weight initialization a block may ask for
SETTINGS = {"frozen": False, "shares": None, "init": "default"}  # block settings, their defaults


@dataclass
class Node:
    """One layer block: its id (stable, never shown), type, user-visible name, params and canvas position,
    and how training treats its weights: frozen (never updated), shares (the id of the block whose weights
    it uses: one tensor for both), init (how its weights start)."""

    id: str
    type: str
    name: str
    params: dict[str, Any]
    pos: tuple[float, float] = (0.0, 0.0)
    frozen: bool = False
    shares: str | None = None
    init: str = "default"

    def settings(self) -> dict[str, Any]:
        """The settings that differ from their defaults (as the document stores them)."""
        return {key: getattr(self, key) for key, default in SETTINGS.items() if getattr(self, key) != default}

    @property
    def spec(self) -> LayerSpec:
        return get_layer(self.type)

    @property
    def label(self) -> str:
        """How messages name the block: `conv1 (Conv2d)`."""
        return f"{self.name} ({self.type})"

    def input_ports(self) -> list[str]:
        return self.spec.input_ports(self.params)

    def output_ports(self) -> list[str]:
        return self.spec.output_ports(self.params)


@dataclass(frozen=True)
class Edge:
    """A wire from an output port of `src` to an input port of `dst`. An input port takes one wire."""

    src: str
    src_port: str
    dst: str
    dst_port: str

    def to_dict(self) -> dict[str, str]:
        return {"src": self.src, "src_port": self.src_port, "dst": self.dst, "dst_port": self.dst_port}


@dataclass
class Group:
    """Blocks drawn as one named box (an Inception module, a residual block), which may be collapsed.
    A block belongs to at most one group; `nodes` are block ids in document order."""

    id: str
    name: str
    nodes: list[str]
    collapsed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "nodes": list(self.nodes), "collapsed": self.collapsed}


def is_text(text: str) -> bool:
    """Whether a string can be written as UTF-8 (JSON lets a document hold lone surrogates, which cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def next_free(prefix: str, taken: Any, start: int = 1) -> str:
    """The first of prefix1, prefix2, ... (from `start`) that is not in `taken`."""
    k = start
    while f"{prefix}{k}" in taken:
        k += 1
    return f"{prefix}{k}"


def check_keys(raw: Any, where: str, required: set[str], optional: Iterable[str] = ()) -> None:
    if not isinstance(raw, dict):
        raise GraphError(f"{where}: expected an object, got {type(raw).__name__}")
    missing = sorted(required - raw.keys())
    if missing:
        raise GraphError(f"{where}: missing '{missing[0]}'")
    unknown = sorted(raw.keys() - required - set(optional))
    if unknown:
        raise GraphError(f"{where}: unknown field '{brief_text(unknown[0])}'")


def check_params(spec: LayerSpec, params: dict[str, Any], label: str) -> dict[str, Any]:
    unknown = [key for key in params if key not in {p.name for p in spec.params}]
    if unknown:
        raise GraphError(f"{label}: {spec.type} has no param '{brief_text(unknown[0])}'")
    try:
        return {p.name: p.check(params.get(p.name, p.default)) for p in spec.params}
    except ParamError as e:
        raise GraphError(f"{label}: {e}") from None


def check_setting(key: str, value: Any) -> Any:
    if key not in SETTINGS:
        raise GraphError(f"no setting '{key}' (settings: {', '.join(SETTINGS)})")
    if key == "frozen" and not isinstance(value, bool):
        raise GraphError(f"'frozen' must be true or false, got {value!r}")
    if key == "init" and value not in INITS:
        raise GraphError(f"'init' must be one of {', '.join(INITS)}; got {value!r}")
    if key == "shares" and value is not None and (not isinstance(value, str) or not 0 < len(value) <= 64):
        raise GraphError(f"'shares' must be a block id or nothing, got {value!r:.80}")
    return value


def share_problem_of(node: Node, source: Node | None) -> str | None:
    """Why `node` cannot use the weights of `source`, or None."""
    if source is None:
        return f"the block whose weights it shares ('{node.shares}') is not in the graph"
    if source.id == node.id:
        return "a block cannot share its own weights"
    if source.type != node.type:
        return f"cannot share the weights of {source.label}: it is not a {node.type}"
    if source.shares is not None:
        return f"cannot share the weights of {source.name}: it uses another block's weights itself"
    if source.params != node.params:
        return f"cannot share the weights of {source.name}: its params differ"
    if node.spec.build is None:
        return f"{node.type} has no weights to share"
    return None


def check_pos(pos: Any) -> tuple[float, float]:
    try:
        x, y = pos
    except (TypeError, ValueError):
        raise GraphError(f"a position must be two numbers, got {brief(pos)}") from None
    for v in (x, y):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) <= 1e7:  # NaN fails <=
            raise GraphError(f"a position must be two finite numbers of at most 1e7, got {brief(pos)}")
    return (float(x), float(y))
