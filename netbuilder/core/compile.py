"""Graph -> torch.nn.Module, as a torch.fx.GraphModule with a generated forward.

Each block's module is registered under the block's name (`conv1`, `fc1`, ...), so state_dict
keys read like hand-written PyTorch. The forward is straight-line code produced by running each
layer's registry `forward` on torch.fx proxies: no Python loop walks the graph at run time.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import NetbuilderError
from .graph import Graph
from .layers import Construct
from .shapes import ShapeReport, infer_shapes

MAX_PARAMS = 2_000_000_000  # 8 GB of float32 weights: more is surely a typo, not a model


class CompileError(NetbuilderError):
    """The graph cannot become a module. `errors` holds one readable line per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        super().__init__(errors[0] + more)


def compile_graph(graph: Graph, report: ShapeReport | None = None, class_name: str = "Net"):
    """Build the network. Only blocks that feed an Output are compiled; stray blocks are ignored.

    The forward takes one tensor per Input block (document order) and returns the Output blocks'
    tensors (one tensor, or a tuple in document order).
    """
    from torch import fx

    traced = trace_graph(graph, report)
    modules = {name: construct.make() for name, construct in traced.constructs.items()}
    return fx.GraphModule(modules, traced.fx_graph, class_name=class_name)


@dataclass
class Traced:
    """The network as a torch.fx graph plus how to build each submodule: what compilation and code
    export share."""

    fx_graph: object  # torch.fx.Graph
    constructs: dict[str, Construct]  # submodule name -> recipe, in data-flow order
    inputs: list[str]  # Input block names, the forward's arguments
    outputs: list[str]  # Output block names


def trace_graph(graph: Graph, report: ShapeReport | None = None) -> Traced:
    """Check the graph and run each block's registry forward on torch.fx proxies. CompileError says why not."""
    from torch import fx

    report = report or infer_shapes(graph)
    outputs = [node for node in graph.nodes if node.type == "Output"]
    if not any(node.type == "Input" for node in graph.nodes):
        raise CompileError(["the graph has no Input block"])
    if not outputs:
        raise CompileError(["the graph has no Output block; add one after the last layer"])
    used = {node.id for node in outputs}.union(*(graph.ancestors(node.id) for node in outputs))
    order = [node for node in graph.topological_order() if node.id in used]
    errors = [report.nodes[node.id].message for node in order if report.nodes[node.id].error]
    if errors:
        raise CompileError(errors)
    total = sum(report.nodes[node.id].params for node in order)
    if total > MAX_PARAMS:
        raise CompileError([f"the model has {total:,} parameters ({total * 4 / 2**30:.0f} GB); "
                            f"at most {MAX_PARAMS:,} can be built"])

    fx_graph = fx.Graph()
    tracer = fx.proxy.GraphAppendingTracer(fx_graph)
    values: dict[tuple[str, str], fx.Proxy] = {}  # (node id, output port) -> the value it carries
    inputs = [node for node in graph.nodes if node.type == "Input" and node.id in used]
    for node in inputs:  # placeholders first, in document order: the forward's signature
        values[node.id, "out"] = fx.Proxy(fx_graph.placeholder(node.name), tracer)
    constructs: dict[str, Construct] = {}
    results = []
    for node in order:
        args = [values[edge.src, edge.src_port] for edge in graph.input_edges(node.id)]
        if node.type == "Input":
            continue
        if node.type == "Output":
            results.append(args[0])
            continue
        spec = node.spec
        params = spec.torch_params(node.params)
        call = None
        construct = spec.build(params, report.nodes[node.id].inputs) if spec.build is not None else None
        if construct is not None:
            constructs[node.name] = construct
            call = (tracer.create_proxy("get_attr", node.name, (), {}) if construct.cls == "Parameter"
                    else _module_call(tracer, node.name))
        result = spec.forward(call, *args, **params)
        ports = node.output_ports()
        for port, value in zip(ports, result if len(ports) > 1 else (result,)):
            values[node.id, port] = value
    fx_graph.output(results[0].node if len(results) == 1 else tuple(r.node for r in results))
    for fx_node in reversed(list(fx_graph.nodes)):  # e.g. the final state of a recurrent block nothing reads
        if fx_node.op in ("call_function", "call_method", "get_attr") and not fx_node.users:
            fx_graph.erase_node(fx_node)
    return Traced(fx_graph, constructs, [n.name for n in inputs], [n.name for n in outputs])


def _module_call(tracer, name: str):
    def call(*args, **kwargs):
        return tracer.create_proxy("call_module", name, args, kwargs, name=name)

    return call
