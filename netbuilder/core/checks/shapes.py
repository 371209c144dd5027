"""Shape inference with parameter and multiply-accumulate counts.

Each layer runs on torch's "meta" device (shapes and dtypes, no data), so no layer needs a
hand-written shape formula: the registry's build and forward are the only description of a layer.
Results are cached per (layer type, params, input shapes), so after an edit only the blocks
whose inputs changed run again.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

from ..layers import LayerSpec, Shape, get_layer
from ..layers.spec import format_shape
from ..model.graph import Graph, Node, share_problem, single_layer_graph
from .messages import empty_output, explain

MAX_INPUT_VALUES = 2**31  # values per sample an Input may hold


@dataclass(frozen=True)
class NodeShapes:
    """What one block makes of its inputs: output shape and dtype, parameter and multiply-accumulate
    counts, or the reason it cannot run (`error`, in words, without the block's name: `label` holds that).
    Blocks downstream of a failure have no output shape and no error of their own.
    `outputs` and `dtypes` give the shape and dtype of every output port by name; `output` and `dtype`
    are the first port's (a block's only one, for most layers)."""

    inputs: tuple[Shape | None, ...] = ()
    output: Shape | None = None
    dtype: str | None = None
    params: int = 0
    macs: int = 0
    error: str | None = None
    label: str = ""  # how messages name the block: `conv1 (Conv2d)`
    outputs: dict = field(default_factory=dict)  # output port -> shape
    dtypes: dict = field(default_factory=dict)  # output port -> dtype

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
        signature = tuple((nodes[e.src].outputs.get(e.src_port), nodes[e.src].dtypes.get(e.src_port)) if e else None
                          for e in edges)
        inputs = tuple(s[0] if s else None for s in signature)
        unwired = [port for port, e in zip(node.input_ports(), edges) if e is None]
        if unwired:
            what = "its input is" if unwired == ["in"] else f"input {', '.join(unwired)} is"
            result = NodeShapes(error=f"{what} not connected")
        elif any(shape is None for shape in inputs):
            result = NodeShapes()  # waiting for a block upstream that failed
        elif node.type == "Input":
            result = _input_result(node)
        else:
            result = _evaluate(node.type, _frozen(node), signature)
            if result.error is None and node.spec.build is not None and clashes_with_torch(node.name):
                result = NodeShapes(error=f"the name '{node.name}' is taken by PyTorch's Module; rename the block")
            if result.error is None and node.shares is not None:
                result = _shared(graph, node, nodes, inputs, result)
        nodes[node.id] = replace(result, inputs=inputs, label=node.label)
    return ShapeReport(nodes)


def _shared(graph: Graph, node: Node, done: dict[str, NodeShapes], inputs: tuple, result: NodeShapes) -> NodeShapes:
    """A block that uses another's weights: its weights are counted once, on the block that owns them, and
    both must build the same layer from their inputs."""
    problem = share_problem(graph, node)
    source = graph.node(node.shares) if problem is None else None
    if source is not None and source.id in done and done[source.id].inputs != inputs:
        problem = (f"shares the weights of {source.name}, which receives {_shapes_text(done[source.id].inputs)}; "
                   f"this block receives {_shapes_text(inputs)}: shared weights need the same input sizes")
    if problem:
        return NodeShapes(error=problem)
    return replace(result, params=0)


def _shapes_text(shapes: tuple) -> str:
    return ", ".join(format_shape(s) for s in shapes)


def evaluate_block(node: Node, inputs: list[tuple[Shape, str]]) -> NodeShapes:
    """What one block makes of inputs of the given (shape, dtype), without the rest of its graph (an importer
    building a graph block by block); cached like infer_shapes."""
    if node.type == "Input":
        return _input_result(node)
    return replace(_evaluate(node.type, _frozen(node), tuple((tuple(s), d) for s, d in inputs)), label=node.label)


def _input_result(node: Node) -> NodeShapes:
    shape = tuple(node.params["shape"])
    if math.prod(shape) > MAX_INPUT_VALUES:
        return NodeShapes(error=f"{format_shape(shape)} is {math.prod(shape):,} values a sample; "
                                f"at most {MAX_INPUT_VALUES:,} are allowed")
    return NodeShapes(output=shape, dtype=node.params["dtype"], outputs={"out": shape},
                      dtypes={"out": node.params["dtype"]})


def _frozen(node: Node) -> tuple:
    return tuple(node.spec.torch_params(node.params).items())


def clashes_with_torch(name: str) -> bool:
    """Whether a submodule with this name would shadow an attribute of torch.nn.Module (e.g. `eval`)."""
    import torch

    return hasattr(torch.nn.Module, name)


def _precheck(spec: LayerSpec, params: dict, signature: tuple) -> str | None:
    """Complaints that are clearer in our words than in torch's."""
    ports = spec.input_ports(params)
    for port, (shape, dtype) in zip(ports, signature):
        if spec.ranks is not None and len(shape) not in spec.ranks:
            return f"expects a {spec.rank_words} input, receives {format_shape(shape)}"
        wanted = spec.port_dtypes.get(port, "int64" if spec.int_input else "float32")
        where = f"its {port} input " if len(ports) > 1 else ""
        if wanted == "int64" and dtype != "int64":
            what = "integer ids" if spec.int_input else "integer labels"
            return f"{where}expects {what} (set the Input's dtype to int64), receives {dtype} values"
        if wanted == "float32" and dtype == "int64" and spec.category not in ("io", "shape"):
            return f"{where}expects real numbers, receives integer ids (put an Embedding before it)"
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
    shapes = [shape for shape, _ in signature]
    extra = {"input_shapes": shapes} if spec.shape_aware else {}
    try:
        with torch.device("meta"):
            construct = spec.build(params, shapes) if spec.build else None
            module = construct.make() if construct is not None else None
            if isinstance(module, torch.nn.Module):
                module.eval()
            inputs = [torch.empty((1, *shape), dtype=getattr(torch, dtype)) for shape, dtype in signature]
            with FlopCounterMode(display=False) as counter:
                output = spec.forward(module, *inputs, **params, **extra)
    except Exception as e:  # noqa: BLE001 - any torch complaint becomes the block's message, in words
        return NodeShapes(error=explain(str(e), type_name, params, shapes))
    results = output if isinstance(output, tuple) else (output,)
    if not all(isinstance(t, torch.Tensor) for t in results):
        return NodeShapes(error=f"makes a {type(output).__name__}, not a tensor")
    for result in results:
        empty = empty_output(tuple(result.shape[1:]), shapes)
        if empty:
            return NodeShapes(error=empty)
    if isinstance(module, torch.nn.Module):
        count = sum(p.numel() for p in module.parameters() if p.requires_grad)
    else:
        count = module.numel() if module is not None and module.requires_grad else 0
    ports = spec.output_ports(params) or ["out"]
    outputs = {port: tuple(t.shape[1:]) for port, t in zip(ports, results)}
    dtypes = {port: str(t.dtype).removeprefix("torch.") for port, t in zip(ports, results)}
    return NodeShapes(output=outputs[ports[0]], dtype=dtypes[ports[0]], params=count,
                      macs=counter.get_total_flops() // 2, outputs=outputs, dtypes=dtypes)


def warm_up() -> None:
    """Infer one example of every layer type once, so that the first inference a user waits for is fast."""
    from ..layers import LAYERS

    for type_name in LAYERS:
        if type_name not in ("Input", "Output"):
            infer_shapes(single_layer_graph(type_name)[0])


def clear_cache() -> None:
    """Forget every cached layer result (for benchmarks of cold inference)."""
    _evaluate.cache_clear()
