"""What an import cannot do, said once per root cause.

A node that cannot become a block is a root cause; every node that depends on its output is only counted
(it fails because of the root, not for a reason of its own). Causes with the same operator and reason are
one line: the operator, the first node, how many nodes, how many depend on them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...base.errors import NetbuilderError
from ...checks.shapes import evaluate_block

MAX_LINES = 8  # causes shown; the message stays within ten lines


class OnnxImportError(NetbuilderError):
    """The file cannot be imported; the message names each root cause once."""


class Refusal(OnnxImportError):
    """Raised by an operator's handler: the node cannot become a block, for `reason` (a person's words). The walk
    (importer.py) collects each into the import's one message; `import_onnx` turns any that gets past it into an
    OnnxImportError naming the file, so that none leaves the package."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def inferred(graph, shapes: dict, node_id: str):
    """The block's shapes from its inputs' (`shapes`, filled as a walk goes), stored in `shapes`; Refusal when the
    block cannot work on them. Both importers (ONNX and PyTorch) build blocks through this."""
    node = graph.node(node_id)
    signature = []
    for edge in graph.input_edges(node_id):
        upstream = shapes[edge.src]
        signature.append((upstream.outputs[edge.src_port], upstream.dtypes[edge.src_port]))
    info = evaluate_block(node, signature)
    if info.error:
        raise Refusal(f"the {node.type} block it needs cannot work: {info.error}")
    shapes[node_id] = info
    return info


@dataclass
class Cause:
    op: str
    reason: str
    first: str  # the first node refused for this reason
    nodes: int = 1
    after: int = 0  # nodes that depend on these and so could not be imported either

    def line(self) -> str:
        what = f"{self.nodes} nodes like it" if self.nodes > 1 else "1 node"
        after = f"; {self.after} node{'s' if self.after != 1 else ''} after it depend on it" if self.after else ""
        return f"- {self.op} (first at {self.first}): {self.reason} ({what}{after})"


@dataclass(frozen=True)
class Refused:
    """The value of a node that could not be imported: what its consumers see."""

    cause: Cause


class Refusals:
    def __init__(self) -> None:
        self.causes: dict[tuple[str, str], Cause] = {}

    def __bool__(self) -> bool:
        return bool(self.causes)

    def add(self, op: str, label: str, reason: str) -> Refused:
        cause = self.causes.get((op, reason))
        if cause is None:
            cause = self.causes[op, reason] = Cause(op, reason, label)
        else:
            cause.nodes += 1
        return Refused(cause)

    def depends(self, refused: Refused) -> Refused:
        refused.cause.after += 1
        return refused

    def message(self, file: str) -> str:
        causes = list(self.causes.values())
        head = f"{file}: netbuilder cannot import {len(causes)} operator{'s' if len(causes) > 1 else ''} of this model:"
        lines = [head, *(c.line() for c in causes[:MAX_LINES])]
        if len(causes) > MAX_LINES:
            lines.append(f"- and {len(causes) - MAX_LINES} more")
        return "\n".join(lines)
