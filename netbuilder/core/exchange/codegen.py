"""Graph -> readable PyTorch source: an nn.Module class as a person writes it.

    self.conv1 = nn.Conv2d(1, 32, kernel_size=5)        # __init__: the registry's construction recipes,
    ...                                                  # arguments left at PyTorch's default omitted
    x = self.conv1(x)                                    # forward: the compiled torch.fx graph, printed
    x = F.relu(...)                                      # top to bottom; a value keeps the name `x` (or
                                                         # its block's name) while it flows down a chain

The class imports only torch, and its submodules carry the blocks' names, so the compiled graph's
state_dict loads into it unchanged.
"""
from __future__ import annotations

import inspect
import operator
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..base.files import atomic_write_text, refuse_overwrite
from ..build.compile import Traced, trace_graph
from ..layers import Construct
from ..model.graph import Graph
from .pysource import comment, docstring, identifier, is_identifier, literal

RESERVED = {"self", "torch", "nn", "F", "super"}
INFIX = {operator.add: "+", operator.mul: "*", operator.sub: "-", operator.truediv: "/", operator.gt: ">",
         operator.lt: "<", operator.ge: ">=", operator.le: "<="}


def _signature(cls) -> list[inspect.Parameter]:
    """The constructor parameters of a torch.nn class (LSTM and friends take *args: use their base's)."""
    for klass in cls.__mro__:
        params = list(inspect.signature(klass.__init__).parameters.values())[1:]
        if params and not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            return [p for p in params if p.name != "mode"]  # RNNBase's mode is set by the subclass
    return []


def construct_source(construct: Construct) -> str:
    """`nn.Conv2d(1, 32, kernel_size=5)`: arguments equal to PyTorch's defaults are left out.
    A learned tensor of its own is `nn.Parameter(torch.zeros(1, 1, 64))`."""
    import torch.nn

    if construct.cls == "Parameter":
        from ..layers.spec import parameter_source

        return f"nn.Parameter({parameter_source(construct.args[0], construct.kwargs['init'])})"

    params = _signature(getattr(torch.nn, construct.cls))
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}

    def is_default(name: str, value) -> bool:
        default = defaults.get(name, inspect.Parameter.empty)
        return default is not inspect.Parameter.empty and (
            value == default or (isinstance(value, tuple) and len(set(value)) == 1 and value[0] == default))

    positional = list(construct.args)
    while positional and len(positional) <= len(params) and is_default(params[len(positional) - 1].name,
                                                                        positional[-1]):
        positional.pop()
    args = [literal(a) for a in positional]
    args += [f"{key}={literal(value)}" for key, value in construct.kwargs.items() if not is_default(key, value)]
    return f"nn.{construct.cls}({', '.join(args)})"


class _Names:
    """Variable names for the forward: each block's result is called after the block (`conv1 = self.conv1(x)`),
    the steps inside a block's forward after it (`lstm_1`, `lstm_2`, ...); a name is never given twice while
    its value may still be read."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.steps: dict[str, int] = {}

    def fresh(self, wanted: str) -> str:
        base = wanted if is_identifier(wanted) and wanted not in RESERVED else f"{identifier(wanted)}_"
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def step(self, block: str | None) -> str:
        stem = block if block and is_identifier(block) else "out"
        while True:
            self.steps[stem] = self.steps.get(stem, 0) + 1
            name = f"{stem}_{self.steps[stem]}"
            if name not in self.taken:
                self.taken.add(name)
                return name


def forward_source(traced: Traced) -> list[tuple[str, str | None]]:
    """The body of forward(), one statement per step, from the fx graph: (line, the block it belongs to)."""
    from torch import fx

    nodes = list(traced.fx_graph.nodes)
    names = _Names()
    var: dict[fx.Node, str] = {}
    inline: dict[fx.Node, str] = {}
    ends = set(traced.outputs)  # Output blocks name no value of their own: the block feeding them does
    inputs = set(traced.normalized)
    outputs = {node: name for name, node in traced.block_nodes.items() if name not in ends}
    lines: list[tuple[str, str | None]] = []

    def ref(arg) -> str:
        if isinstance(arg, fx.Node):
            return inline.get(arg) or var[arg]
        if isinstance(arg, (list, tuple)) and any(isinstance(a, fx.Node) for a in arg):
            inner = ", ".join(ref(a) for a in arg)
            return f"[{inner}]" if isinstance(arg, list) else f"({inner})"
        return literal(arg)

    def expression(node) -> str:
        args = [ref(a) for a in node.args]
        kwargs = [f"{k}={ref(v)}" for k, v in node.kwargs.items()]
        if node.op == "call_module":
            return f"self.{identifier(node.target)}({', '.join(args + kwargs)})"
        if node.op == "call_method":
            return f"{args[0]}.{identifier(node.target)}({', '.join(args[1:] + kwargs)})"
        if node.target in INFIX:
            return f" {INFIX[node.target]} ".join(args)
        if node.target is operator.getitem:
            index = node.args[1]
            inner = ", ".join(literal(i) for i in index) if isinstance(index, tuple) else ref(index)
            return f"{args[0]}[{inner}]"
        if node.target is getattr:
            return f"{args[0]}.{identifier(node.args[1])}"
        module = getattr(node.target, "__module__", "") or ""
        prefix = "torch.nn.functional." if module == "torch.nn.functional" else (
            "torch." if module.startswith("torch") else "")
        return f"{prefix}{identifier(node.target.__name__)}({', '.join(args + kwargs)})"

    for node in nodes:
        if node.op == "placeholder":
            var[node] = names.fresh(node.target)
            continue
        if node.op == "get_attr":  # an input's normalization, a learned tensor: read where it is used
            inline[node] = f"self.{node.target}"
            continue
        if node.op == "output":
            result = node.args[0]
            values = result if isinstance(result, (tuple, list)) else (result,)
            lines.append(("return " + ", ".join(ref(v) for v in values), None))
            continue
        text = expression(node)
        block = traced.node_blocks.get(node)
        cheap = node.target in (operator.getitem, getattr) and node.op == "call_function"
        if node not in outputs and cheap and len(node.users) == 1 and next(iter(node.users)).op != "output":
            inline[node] = text  # x.shape[0] and the like read best inside the statement that uses them
            continue
        if block in inputs:  # an Input normalized in place: x = x - self.normalize_x_mean; x = x / ...
            var[node] = block
        elif node in outputs:
            var[node] = names.fresh(outputs[node])
        else:
            var[node] = names.step(block)
        lines.append((f"{var[node]} = {text}", block))
    return lines


@dataclass
class Source:
    """Generated code and, for each block, the lines (from 1) that are its: where its module is made, and the
    statements of the forward that compute it."""

    text: str
    lines: dict[str, list[int]]
    inputs: list[tuple[tuple[int, ...], str]] = None  # (shape, dtype) of each argument of forward(), in order

    def block_at(self, line: int) -> str | None:
        return next((name for name, numbers in self.lines.items() if line in numbers), None)


def to_source(graph: Graph, class_name: str = "Net", title: str | None = None,
              normalization: dict | None = None, augment=None) -> str:
    """The graph as a Python module defining `class_name(nn.Module)`. Raises CompileError as compile_graph.
    With `normalization` ({Input name: (mean, std)}) the class normalizes its raw inputs with buffers that
    the trained model's state_dict fills. With `augment` (a recipe's steps) it ends with netbuilder's augmentation
    and AUGMENT, those steps (augment_source.py)."""
    source = write_source(graph, class_name, title, normalization).text
    if augment:
        from .augment_source import augmentation_section

        source += augmentation_section(augment)
    return source


def write_source(graph: Graph, class_name: str = "Net", title: str | None = None,
                 normalization: dict | None = None) -> Source:
    """to_source, with the lines of each block. What plain PyTorch does not say is written in comments that
    the PyTorch import reads back (torch_import/naming.py): each group and its blocks, each Input's dataset
    field and normalization, the Output blocks' names; a frozen block's parameters do not train
    (requires_grad_(False))."""
    traced = trace_graph(graph, normalization=normalization)
    if not is_identifier(class_name):
        class_name = "Net"
    inputs = ", ".join(["self", *(identifier(name, "the input") for name in traced.inputs)])
    init: list[tuple[str, str | None]] = []
    for name, construct in traced.constructs.items():
        attribute = identifier(name, "the block name")
        init.append((f"        self.{attribute} = {construct_source(construct)}", name))
        if graph.find(name).frozen:
            init.append((f"        self.{attribute}.requires_grad_(False)", name))
    for input_name, (mean_attr, std_attr) in traced.normalized.items():
        shape = tuple(traced.buffers[mean_attr].shape)
        init.append(("        " + comment(f"{input_name} is normalized with the training split's mean and std "
                                           "(from the state_dict)"), None))
        size = ", ".join(str(int(d)) for d in shape)
        init += [(f"        self.register_buffer({literal(mean_attr)}, torch.zeros({size}))", input_name),
                 (f"        self.register_buffer({literal(std_attr)}, torch.ones({size}))", input_name)]
    written = set(traced.node_blocks.values()) | set(traced.inputs) | set(traced.constructs)
    for group in graph.groups:
        members = [graph.node(i).name for i in group.nodes if graph.node(i).name in written]
        if members:
            init += [(f"        {line}", None) for line in _group_comment(group, members)]
    header = [(f"        {comment(_input_words(graph.find(name)))}", name) for name in traced.inputs]
    body = forward_source(traced)
    outputs = [name for name in traced.outputs]
    if body and body[-1][0].startswith("return ") and outputs:
        body[-1] = (f"{body[-1][0]}  {comment('outputs: ' + ', '.join(outputs))}", None)
    doc = title or graph.meta.get("title") or "A network"
    lines: list[tuple[str, str | None]] = [
        (docstring(f"{doc}: generated by netbuilder. Needs only PyTorch."), None),
        ("import torch", None), ("from torch import nn", None), ("", None), ("", None),
        (f"class {class_name}(nn.Module):", None),
        ("    def __init__(self):", None), ("        super().__init__()", None),
        *(init or [("        pass", None)]),
        ("", None),
        (f"    def forward({inputs}):", None),
        *header,
        *((f"        {line}", block) for line, block in body),
        ("", None),
    ]
    owned: dict[str, list[int]] = {}
    for number, (_line, block) in enumerate(lines, start=1):
        if block is not None:
            owned.setdefault(block, []).append(number)
    shapes = [(tuple(graph.find(name).params["shape"]), graph.find(name).params.get("dtype", "float32"))
              for name in traced.inputs]
    return Source("\n".join(line for line, _ in lines), owned, shapes)


def _input_words(node) -> str:
    """`x: Input 1x28x28 float32, field x, normalize zscore` (what the PyTorch import reads back)."""
    p = node.params
    shape = "x".join(str(d) for d in p["shape"]) or "scalar"
    if node.type != "Input":  # a generator's noise: an input of the exported model
        return f"{node.name}: Input {shape} float32, field x, normalize none ({node.type} in the graph)"
    return f"{node.name}: Input {shape} {p['dtype']}, field {p['field']}, normalize {p['normalize']}"


def _group_comment(group, members: list[str], width: int = 100) -> list[str]:
    """`# group layer1.0: conv1, bn1, ...`, continued on lines of `#   ...` when long."""
    head = f"# group {group.name}{' (collapsed)' if group.collapsed else ''}: "
    lines, line = [], head
    for i, name in enumerate(members):
        piece = name + (", " if i < len(members) - 1 else "")
        if len(line) + len(piece) > width and line not in (head, "#   "):
            lines.append(line.rstrip())
            line = "#   "
        line += piece
    lines.append(line.rstrip())
    return lines


def _normalization_of(model) -> dict:
    """{Input name: (mean, std)} of a compiled model that normalizes its inputs."""
    from ..build.weights import split_normalization

    return split_normalization(dict(model.state_dict()))[1]


@dataclass
class CodeReport:
    path: Path
    weights_path: Path | None
    max_abs_diff: float
    notes: list[str] = field(default_factory=list)  # e.g. blocks the weights file does not hold (fresh weights)

    def summary(self) -> str:
        weights = f" and its weights to {self.weights_path}" if self.weights_path else ""
        return (f"wrote {self.path}{weights}; the class loads the compiled graph's state_dict and matches its "
                f"outputs (max difference {self.max_abs_diff:.1e})" + "".join(f"; {n}" for n in self.notes))


def export_code(graph: Graph, path: str | os.PathLike, weights: str | os.PathLike | None = None,
                model=None, save_model_weights: bool = False, class_name: str = "Net",
                overwrite: bool = False) -> CodeReport:
    """Write the source, after checking that the class, given the compiled graph's state_dict, computes
    the same outputs. With `weights` (a file) or `save_model_weights` (for a trained `model`), the
    weights are written beside it as a state_dict: model.py -> model.pt. Files already there (the .py, the
    .pt) are replaced only with `overwrite` (else OverwriteError, before any work)."""
    import torch

    from ..build.weights import save_weights
    from .onnx_export import max_abs_diff, model_to_export, sample_inputs

    path = Path(path)
    class_name = class_name if is_identifier(class_name) else "Net"
    weights_path = path.with_suffix(".pt") if weights is not None or save_model_weights else None
    refuse_overwrite(path, weights_path, overwrite=overwrite)
    notes: list[str] = []
    model = model_to_export(graph, weights, model, weight_copies=3, notes=notes)  # the model, the class, the file
    normalization = _normalization_of(model)
    source = to_source(graph, class_name, normalization=normalization, augment=graph.recipe.get("augment"))
    if weights_path is not None:
        source += "\n\n" + comment(f"The trained weights: model = {class_name}(); model.load_state_dict("
                                     f"torch.load({literal(weights_path.name)}, weights_only=True))") + "\n"
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)  # our own code, generated from a validated graph
    written = namespace[class_name]().eval()
    written.load_state_dict(model.state_dict())
    inputs = sample_inputs(graph, model, batch=3, seed=2)
    with torch.no_grad():
        diff = max_abs_diff(written(*inputs), model(*inputs))
    if not diff <= 1e-6:
        raise ValueError(f"the generated code computes something else (difference {diff:.3g}); please report this")
    atomic_write_text(path, source)
    if weights_path is not None:
        save_weights(model, weights_path)
    return CodeReport(path, weights_path, diff, notes)
