"""Graph -> torch.nn.Module, as a torch.fx.GraphModule with a generated forward.

Each block's module is registered under the block's name (`conv1`, `fc1`, ...), so state_dict
keys read like hand-written PyTorch. The forward is straight-line code produced by running each
layer's registry `forward` on torch.fx proxies: no Python loop walks the graph at run time.

A graph compiles two ways, sharing the same submodules:
- "infer" (inference and exports): the Inputs (and Noise sources, which become inputs) -> the Outputs;
  loss blocks are left out, Sample gives its mean, GaussianNoise passes its input through.
- "train": what training runs: with loss blocks, the forward returns {"losses": {loss block: value},
  "terms": {loss block: (its inputs)}}; without, the Outputs as in inference, with the training
  behaviour of Sample and GaussianNoise.
- "generate": as "infer", but Sample blocks are inputs too: a VAE's decoder fed new latent codes.
A block that shares another's weights calls the other's module: one tensor, held once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base.errors import NetbuilderError
from ..model.graph import Graph, Node
from ..layers import Construct
from ..checks.shapes import ShapeReport, infer_shapes

MAX_PARAMS = 2_000_000_000  # 8 GB of float32 weights: more is surely a typo, not a model
MODES = ("infer", "train", "generate")


class CompileError(NetbuilderError):
    """The graph cannot become a module. `errors` holds one readable line per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        super().__init__(errors[0] + more)


def compile_graph(graph: Graph, report: ShapeReport | None = None, class_name: str = "Net", *,
                  mode: str = "infer", modules: dict | None = None, normalization: dict | None = None):
    """Build the network. Only blocks that feed an Output (in "train" mode: a loss block) are compiled.

    The forward takes one tensor per Input block (document order; in "infer" mode then one per Noise
    source) and returns the Output blocks' tensors (one tensor, or a tuple in document order), or in
    "train" mode with loss blocks the losses (see the module's docstring). `modules` reuses submodules
    by block name (a train and an infer module over the same weights); `normalization` ({Input block
    name: (mean, std)} tensors shaped like a sample) makes the model normalize its raw inputs itself.
    """
    traced = trace_graph(graph, report, mode=mode, normalization=normalization)
    return build_module(traced, modules, class_name)


def build_module(traced: Traced, modules: dict | None = None, class_name: str = "Net"):
    """The GraphModule of a traced graph (its fx graph, not a copy), reusing `modules` by block name."""
    import torch
    from torch import fx

    modules = modules or {}
    made = {}
    for name, construct in traced.constructs.items():
        if name in modules:
            made[name] = modules[name]
        else:
            made[name] = construct.make()
            if isinstance(made[name], torch.nn.Module):
                initialize(made[name], traced.inits.get(name, "default"))
    buffers = {attr: torch.as_tensor(value, dtype=torch.float32).clone()
               for attr, value in traced.buffers.items()}
    return fx.GraphModule({**made, **buffers}, traced.fx_graph, class_name=class_name)


@dataclass
class Traced:
    """The network as a torch.fx graph plus how to build each submodule: what compilation and code
    export share."""

    fx_graph: object  # torch.fx.Graph
    constructs: dict[str, Construct]  # submodule name -> recipe, in data-flow order (owners of weights only)
    inputs: list[str]  # the forward's arguments: Input block names (then Noise sources, in "infer" mode)
    outputs: list[str]  # Output block names ("infer"), or loss block names ("train" with losses)
    losses: list[str] = field(default_factory=list)  # loss block names ("train" mode)
    inits: dict[str, str] = field(default_factory=dict)  # submodule name -> initialization, where not default
    buffers: dict[str, object] = field(default_factory=dict)  # input normalization: attribute -> tensor
    normalized: dict[str, tuple[str, str]] = field(default_factory=dict)  # Input name -> (mean attr, std attr)
    block_nodes: dict[str, object] = field(default_factory=dict)  # block name -> the fx node of its output (probing)
    node_blocks: dict[object, str] = field(default_factory=dict)  # fx node -> the block whose forward made it


def loss_blocks(graph: Graph) -> list[Node]:
    return [node for node in graph.nodes if node.spec.role == "loss"]


def normalization_attrs(input_name: str) -> tuple[str, str]:
    """The buffer names that hold an Input's normalization: normalize_x_mean, normalize_x_std."""
    return f"normalize_{input_name}_mean", f"normalize_{input_name}_std"


def trace_graph(graph: Graph, report: ShapeReport | None = None, *, mode: str = "infer",
                normalization: dict | None = None) -> Traced:
    """Check the graph and run each block's registry forward on torch.fx proxies. CompileError says why not."""
    from torch import fx

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    report = report or infer_shapes(graph)
    outputs = [node for node in graph.nodes if node.type == "Output"]
    losses = loss_blocks(graph) if mode == "train" else []
    ends = losses or outputs
    if not any(node.type == "Input" or (mode != "train" and node.spec.role == "source") for node in graph.nodes):
        raise CompileError(["the graph has no Input block"])
    if not ends:
        raise CompileError(["the graph has no Output block; add one after the last layer"])
    def is_placeholder(node: Node) -> bool:
        return node.type == "Input" or (mode != "train" and node.spec.role == "source") or (
            mode == "generate" and node.type == "Sample")

    used = _needed(graph, ends, is_placeholder)
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
    traced = Traced(fx_graph, {}, [], [n.name for n in ends], [n.name for n in losses])
    placeholders = [node for node in graph.nodes if node.type == "Input" and node.id in used]
    # a generator's noise is an input of the exported model (and a VAE's latent code, to generate)
    placeholders += [node for node in graph.nodes if node.type != "Input" and node.id in used and is_placeholder(node)]
    for node in placeholders:  # placeholders first, in document order: the forward's signature
        values[node.id, "out"] = fx.Proxy(fx_graph.placeholder(node.name), tracer)
        traced.inputs.append(node.name)
    for node in placeholders:
        stats = (normalization or {}).get(node.name)
        if stats is not None and node.type == "Input":
            mean_attr, std_attr = normalization_attrs(node.name)
            traced.buffers[mean_attr], traced.buffers[std_attr] = stats
            traced.normalized[node.name] = (mean_attr, std_attr)
            mean = fx.Proxy(fx_graph.get_attr(mean_attr), tracer)
            std = fx.Proxy(fx_graph.get_attr(std_attr), tracer)
            values[node.id, "out"] = (values[node.id, "out"] - mean) / std
            for made in (values[node.id, "out"].node, values[node.id, "out"].node.args[0]):
                traced.node_blocks[made] = node.name
        traced.block_nodes[node.name] = values[node.id, "out"].node
    reference = next((values[node.id, "out"] for node in placeholders), None)  # batch size and device for Noise
    placeholder_ids = {node.id for node in placeholders}
    results, terms = [], {}
    for node in order:
        if node.id in placeholder_ids:
            continue
        args = [values[edge.src, edge.src_port] for edge in graph.input_edges(node.id)]
        if node.type == "Output":
            results.append(args[0])
            traced.block_nodes[node.name] = args[0].node
            continue
        spec = node.spec
        params = spec.torch_params(node.params)
        extra = {"input_shapes": list(report.nodes[node.id].inputs)} if spec.shape_aware else {}
        call = None
        if spec.build is not None:
            owner = graph.node(node.shares) if node.shares is not None else node
            construct = traced.constructs.get(owner.name) or spec.build(params, report.nodes[owner.id].inputs)
            if construct is not None:
                if owner.name not in traced.constructs:
                    traced.constructs[owner.name] = construct
                    if owner.init != "default":
                        traced.inits[owner.name] = owner.init
                call = (tracer.create_proxy("get_attr", owner.name, (), {}) if construct.cls == "Parameter"
                        else _module_call(tracer, owner.name))
        forward = spec.infer_forward if mode != "train" and spec.infer_forward is not None else spec.forward
        if spec.role == "source":
            if reference is None:
                raise CompileError([f"{node.label}: noise needs an Input in the graph, whose batch it follows"])
            args = [reference]
        before = next(iter(reversed(fx_graph.nodes)), None)
        value = forward(call, *args, **params, **extra)
        for made in reversed(fx_graph.nodes):  # what this block's forward added (code export names it)
            if made is before:
                break
            traced.node_blocks[made] = node.name
        if spec.role == "loss":
            results.append(value)
            terms[node.name] = tuple(args)
            continue
        ports = node.output_ports()
        for port, port_value in zip(ports, value if len(ports) > 1 else (value,)):
            values[node.id, port] = port_value
        first = values[node.id, ports[0]]  # what a probe of the block shows: its first output
        if isinstance(first, fx.Proxy):
            traced.block_nodes[node.name] = first.node
    if losses:
        fx_graph.output({"losses": {name: r.node for name, r in zip(traced.losses, results)},
                         "terms": {name: tuple(a.node for a in args) for name, args in terms.items()}})
    else:
        fx_graph.output(results[0].node if len(results) == 1 else tuple(r.node for r in results))
    _drop_unused(traced)
    return traced


def _drop_unused(traced: Traced) -> None:
    """Leave out what the outputs do not use (a VAE's log-variance in inference, where Sample gives its mean;
    the final state of a recurrent block nothing reads)."""
    for node in reversed(list(traced.fx_graph.nodes)):
        if node.op in ("call_module", "call_function", "call_method", "get_attr") and not node.users:
            traced.fx_graph.erase_node(node)
    used = {node.target for node in traced.fx_graph.nodes if node.op in ("call_module", "get_attr")}
    traced.constructs = {name: c for name, c in traced.constructs.items() if name in used}


def _needed(graph: Graph, ends: list[Node], is_placeholder) -> set[str]:
    """The blocks the ends depend on, walking up the wires and stopping at the forward's inputs."""
    needed, stack = set(), [node.id for node in ends]
    while stack:
        node_id = stack.pop()
        if node_id in needed:
            continue
        needed.add(node_id)
        if is_placeholder(graph.node(node_id)):
            continue
        stack += [edge.src for edge in graph.input_edges(node_id) if edge is not None]
    return needed


def _module_call(tracer, name: str):
    def call(*args, **kwargs):
        return tracer.create_proxy("call_module", name, args, kwargs, name=name)

    return call


INIT_WORDS = {"default": "PyTorch's default", "xavier": "Xavier/Glorot uniform", "kaiming": "He/Kaiming normal",
              "normal": "normal, std 0.02", "zeros": "zeros"}


def initialize(module, how: str) -> None:
    """Re-initialize a module's weights: xavier (Glorot uniform), kaiming (He normal, for ReLU), normal
    (N(0, 0.02), as DCGAN does; BatchNorm scales N(1, 0.02)), zeros; biases start at zero."""
    import torch

    if how == "default":
        return
    with torch.no_grad():
        for name, param in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if how == "zeros" or leaf.startswith("bias"):
                param.zero_()
            elif param.dim() < 2:  # a normalization's scale
                param.normal_(1.0, 0.02) if how == "normal" else param.fill_(1.0)
            elif how == "xavier":
                torch.nn.init.xavier_uniform_(param)
            elif how == "kaiming":
                torch.nn.init.kaiming_normal_(param, nonlinearity="relu")
            elif how == "normal":
                param.normal_(0.0, 0.02)
