"""One module per operator family; each handler declares the attributes and inputs it honours.

    @handles("LeakyRelu", attrs={"alpha"})
    def leaky_relu(imp, node): ...

A node with an attribute its handler does not list, or a non-empty optional input past `inputs`, is
refused by that name: nothing a file asks for is silently ignored. Adding an operator touches one module.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from ..refusals import Refusal


@dataclass(frozen=True)
class Handler:
    fn: Callable
    attrs: frozenset
    inputs: int


HANDLERS: dict[str, Handler] = {}


def handles(*ops: str, attrs: set[str] | tuple = (), inputs: int = 1):
    def register(fn: Callable) -> Callable:
        for op in ops:
            assert op not in HANDLERS, f"{op} handled twice"
            HANDLERS[op] = Handler(fn, frozenset(attrs), inputs)
        return fn
    return register


def handler_for(node) -> Callable:
    """The node's handler, once its attributes and optional inputs are known to be honoured."""
    handler = HANDLERS.get(node.op)
    if handler is None or node.proto.domain not in ("", "ai.onnx", "netbuilder"):
        raise Refusal("netbuilder has no block for this operator")
    unknown = sorted(set(node.attrs) - handler.attrs)
    if unknown:
        raise Refusal(f"its attribute '{unknown[0]}' is not supported")
    extra = [i for i in range(handler.inputs, len(node.proto.input)) if node.proto.input[i]]
    if extra:
        which = "optional input" if is_optional(node, extra[0]) else "input"
        raise Refusal(f"its {which} '{input_name(node, extra[0])}' is not supported")
    return handler.fn


def is_optional(node, index: int) -> bool:
    """Whether the ONNX operator schema calls an input optional (LSTM's 'sequence_lens' is; Pow's 'Y' is not)."""
    import onnx

    try:
        formal = onnx.defs.get_schema(node.op, node.opset).inputs
        return formal[min(index, len(formal) - 1)].option == onnx.defs.OpSchema.FormalParameterOption.Optional
    except Exception:  # noqa: BLE001 - an operator without a schema
        return False


def input_name(node, index: int) -> str:
    """The name the ONNX operator schema gives an input (e.g. LSTM's 'sequence_lens')."""
    import onnx

    try:
        formal = onnx.defs.get_schema(node.op, node.opset).inputs
        return formal[min(index, len(formal) - 1)].name
    except Exception:  # noqa: BLE001 - an operator without a schema
        return f"input {index + 1}"


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
