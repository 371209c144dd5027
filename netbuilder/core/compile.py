"""Graph -> torch.nn.Module, as a torch.fx.GraphModule with a generated forward.

Each block's module is registered under the block's name (`conv1`, `fc1`, ...), so state_dict
keys read like hand-written PyTorch. The forward is straight-line code produced by running each
layer's registry `forward` on torch.fx proxies: no Python loop walks the graph at run time.
"""
from __future__ import annotations

from .graph import Graph
from .shapes import ShapeReport, infer_shapes

MAX_PARAMS = 2_000_000_000  # 8 GB of float32 weights: more is surely a typo, not a model


class CompileError(ValueError):
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
    import torch
    from torch import fx

    report = report or infer_shapes(graph)
    outputs = [node for node in graph.nodes if node.type == "Output"]
    if not any(node.type == "Input" for node in graph.nodes):
        raise CompileError(["the graph has no Input block"])
    if not outputs:
        raise CompileError(["the graph has no Output block; add one after the last layer"])
    used = {node.id for node in outputs}.union(*(graph.ancestors(node.id) for node in outputs))
    order = [node for node in graph.topological_order() if node.id in used]
    errors = [report.nodes[node.id].error for node in order if report.nodes[node.id].error]
    if errors:
        raise CompileError(errors)
    total = sum(report.nodes[node.id].params for node in order)
    if total > MAX_PARAMS:
        raise CompileError([f"the model has {total:,} parameters ({total * 4 / 2**30:.0f} GB); "
                            f"at most {MAX_PARAMS:,} can be built"])

    fx_graph = fx.Graph()
    tracer = fx.proxy.GraphAppendingTracer(fx_graph)
    values: dict[str, fx.Proxy] = {}
    for node in graph.nodes:  # placeholders first, in document order: the forward's signature
        if node.type == "Input" and node.id in used:
            values[node.id] = fx.Proxy(fx_graph.placeholder(node.name), tracer)
    modules: dict[str, torch.nn.Module] = {}
    results = []
    for node in order:
        inputs = [values[edge.src] for edge in graph.input_edges(node.id)]
        if node.type == "Input":
            continue
        if node.type == "Output":
            results.append(inputs[0])
            continue
        spec = node.spec
        params = spec.torch_params(node.params)
        call = None
        if spec.build is not None:
            modules[node.name] = spec.build(params, report.nodes[node.id].inputs).make()
            call = _module_call(tracer, node.name)
        values[node.id] = spec.forward(call, *inputs, **params)
    fx_graph.output(results[0].node if len(results) == 1 else tuple(r.node for r in results))
    return fx.GraphModule(modules, fx_graph, class_name=class_name)


def _module_call(tracer, name: str):
    def call(*args):
        return tracer.create_proxy("call_module", name, args, {}, name=name)

    return call
