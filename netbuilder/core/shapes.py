"""Shape inference with parameter and multiply-accumulate counts.

Each layer runs on torch's "meta" device (shapes and dtypes, no data), so no layer needs a
hand-written shape formula: the registry's build and forward are the only description of a layer.
Results are cached per (layer type, params, input shapes), so after an edit only the blocks
whose inputs changed run again.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from .messages import empty_output, explain
from .graph import Graph, Node, single_layer_graph
from .layers import LayerSpec, Shape, get_layer
from .layers.spec import format_shape

MAX_INPUT_VALUES = 2**31  # values per sample an Input may hold


@dataclass(frozen=True)
class NodeShapes:
    """What one block makes of its inputs: output shape and dtype, parameter and multiply-accumulate
    counts, or the reason it cannot run (`error`, in words, without the block's name: `label` holds that).
    Blocks downstream of a failure have no output shape and no error of their own."""

    inputs: tuple[Shape | None, ...] = ()
    output: Shape | None = None
    dtype: str | None = None
    params: int = 0
    macs: int = 0
    error: str | None = None
    label: str = ""  # how messages name the block: `conv1 (Conv2d)`

    @property
    def message(self) -> str | None:
        """The error as one line naming the block: `conv1 (Conv2d): its input is not connected`."""
        return f"{self.label}: {self.error}" if self.error else None


@dataclass
class ShapeReport:
    nodes: dict[str, NodeShapes]  # by node id, in topological order

    @property
    def errors(self) -> list[str]:
        """One line per failing block, naming it."""
        return [info.message for info in self.nodes.values() if info.error]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_params(self) -> int:
        return sum(info.params for info in self.nodes.values())

    @property
    def total_macs(self) -> int:
        return sum(info.macs for info in self.nodes.values())


def format_count(n: int) -> str:
    """1234567 -> "1.23 M"; small numbers as they are."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def layer_table(graph: Graph, report: ShapeReport) -> list[dict]:
    """One row per block in data-flow order: name, type, output_shape (list or None), params, macs, error.
    The model summary of the GUI and `netbuilder info` both show this."""
    rows = []
    for node in graph.topological_order():
        info = report.nodes[node.id]
        rows.append({"name": node.name, "type": node.type,
                     "output_shape": list(info.output) if info.output is not None else None,
                     "params": info.params, "macs": info.macs, "error": info.error})
    return rows


def model_size_mb(report: ShapeReport) -> float:
    """Size of the weights as float32, in MB."""
    return report.total_params * 4 / 2**20


def infer_shapes(graph: Graph) -> ShapeReport:
    """Output shape, parameter count and multiply-accumulates of every block of the graph."""
    nodes: dict[str, NodeShapes] = {}
    for node in graph.topological_order():
        edges = graph.input_edges(node.id)
        upstream = [nodes[e.src] if e else None for e in edges]
        inputs = tuple(u.output if u else None for u in upstream)
        unwired = [port for port, e in zip(node.input_ports(), edges) if e is None]
        if unwired:
            what = "its input is" if unwired == ["in"] else f"input {', '.join(unwired)} is"
            result = NodeShapes(error=f"{what} not connected")
        elif any(u.output is None for u in upstream):
            result = NodeShapes()  # waiting for a block upstream that failed
        elif node.type == "Input":
            result = _input_result(node)
        else:
            signature = tuple((u.output, u.dtype) for u in upstream)
            result = _evaluate(node.type, _frozen(node), signature)
            if result.error is None and node.spec.build is not None and clashes_with_torch(node.name):
                result = NodeShapes(error=f"the name '{node.name}' is taken by PyTorch's Module; rename the block")
        nodes[node.id] = replace(result, inputs=inputs, label=node.label)
    return ShapeReport(nodes)


def _input_result(node: Node) -> NodeShapes:
    shape = tuple(node.params["shape"])
    if math.prod(shape) > MAX_INPUT_VALUES:
        return NodeShapes(error=f"{format_shape(shape)} is {math.prod(shape):,} values a sample; "
                                f"at most {MAX_INPUT_VALUES:,} are allowed")
    return NodeShapes(output=shape, dtype=node.params["dtype"])


def _frozen(node: Node) -> tuple:
    return tuple(node.spec.torch_params(node.params).items())


def clashes_with_torch(name: str) -> bool:
    """Whether a submodule with this name would shadow an attribute of torch.nn.Module (e.g. `eval`)."""
    import torch

    return hasattr(torch.nn.Module, name)


def _precheck(spec: LayerSpec, params: dict, signature: tuple) -> str | None:
    """Complaints that are clearer in our words than in torch's."""
    for shape, dtype in signature:
        if spec.ranks is not None and len(shape) not in spec.ranks:
            return f"expects a {spec.rank_words} input, receives {format_shape(shape)}"
        if spec.int_input and dtype != "int64":
            return f"expects integer ids (set the Input's dtype to int64), receives {dtype} values"
        if not spec.int_input and dtype == "int64" and spec.category not in ("io", "shape"):
            return "expects real numbers, receives integer ids (put an Embedding before it)"
    return spec.check(params, [shape for shape, _ in signature]) if spec.check else None


@functools.lru_cache(maxsize=16384)
def _evaluate(type_name: str, frozen_params: tuple, signature: tuple) -> NodeShapes:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    spec = get_layer(type_name)
    params = dict(frozen_params)
    problem = _precheck(spec, params, signature)
    if problem:
        return NodeShapes(error=problem)
    try:
        with torch.device("meta"):
            module = spec.build(params, [shape for shape, _ in signature]).make().eval() if spec.build else None
            inputs = [torch.empty((1, *shape), dtype=getattr(torch, dtype)) for shape, dtype in signature]
        with FlopCounterMode(display=False) as counter:
            output = spec.forward(module, *inputs, **params)
    except Exception as e:  # noqa: BLE001 - any torch complaint becomes the block's message, in words
        return NodeShapes(error=explain(str(e), type_name, params, [shape for shape, _ in signature]))
    empty = empty_output(tuple(output.shape[1:]), [shape for shape, _ in signature])
    if empty:
        return NodeShapes(error=empty)
    count = sum(p.numel() for p in module.parameters() if p.requires_grad) if module is not None else 0
    dtype = str(output.dtype).removeprefix("torch.")
    return NodeShapes(output=tuple(output.shape[1:]), dtype=dtype, params=count,
                      macs=counter.get_total_flops() // 2)


def warm_up() -> None:
    """Infer one example of every layer type once, so that the first inference a user waits for is fast."""
    from .layers import LAYERS

    for type_name in LAYERS:
        if type_name not in ("Input", "Output"):
            infer_shapes(single_layer_graph(type_name)[0])


def clear_cache() -> None:
    """Forget every cached layer result (for benchmarks of cold inference)."""
    _evaluate.cache_clear()
