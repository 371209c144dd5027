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
from dataclasses import dataclass
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
    """Variable names for the forward. The input keeps its name down the main path; a branch gets `out`,
    `out2`, ...; a name is free again once its value has been used for the last time."""

    def __init__(self) -> None:
        self.live: set[str] = set()

    def fresh(self, wanted: str) -> str:
        base = wanted if is_identifier(wanted) and wanted not in RESERVED else f"{identifier(wanted)}_"
        name, k = base, 2
        while name in self.live:
            name, k = f"{base}{k}", k + 1
        self.live.add(name)
        return name

    def release(self, name: str) -> None:
        self.live.discard(name)


def forward_source(traced: Traced) -> list[str]:
    """The body of forward(), one statement per step, from the fx graph."""
    from torch import fx

    nodes = list(traced.fx_graph.nodes)
    names = _Names()
    var: dict[fx.Node, str] = {}
    inline: dict[fx.Node, str] = {}
    remaining = {node: len(node.users) for node in nodes}
    lines: list[str] = []

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
        if node.op == "get_attr":
            return f"self.{identifier(node.target)}"
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

    def roots(node) -> list:
        """The named values an expression reads (through inlined ones)."""
        if node in inline:
            return [r for a in node.all_input_nodes for r in roots(a)]
        return [node]

    def consume(value) -> None:
        """One use of a value is written; an inlined expression is used where its own user is written."""
        remaining[value] -= 1
        if value in inline and remaining[value] == 0:
            for a in value.all_input_nodes:
                consume(a)

    born = {}  # name -> when it was first given, so that the oldest name (the input's) wins
    for node in nodes:
        if node.op == "placeholder":
            var[node] = names.fresh(node.target)
            born.setdefault(var[node], len(born))
            continue
        if node.op == "get_attr":  # an input's normalization, read where it is used
            inline[node] = f"self.{node.target}"
            continue
        if node.op == "output":
            result = node.args[0]
            values = result if isinstance(result, (tuple, list)) else (result,)
            lines.append("return " + ", ".join(ref(v) for v in values))
            continue
        text = expression(node)
        cheap = node.target in (operator.getitem, getattr) and node.op == "call_function"
        if node.op == "get_attr" or cheap and len(node.users) == 1 and next(iter(node.users)).op != "output":
            inline[node] = text  # x.shape[0] and the like read best inside the statement that uses them
            continue
        for a in node.all_input_nodes:
            consume(a)
        done = {r for a in node.all_input_nodes for r in roots(a) if remaining[r] == 0 and r in var}
        done_names = sorted({var[r] for r in done}, key=lambda n: born.get(n, 1 << 30))
        if done_names:
            var[node] = done_names[0]
            for name in done_names[1:]:
                names.release(name)
        else:
            var[node] = names.fresh("out")
            born.setdefault(var[node], len(born))
        lines.append(f"{var[node]} = {text}")
    return lines


def to_source(graph: Graph, class_name: str = "Net", title: str | None = None,
              normalization: dict | None = None, augment=None) -> str:
    """The graph as a Python module defining `class_name(nn.Module)`. Raises CompileError as compile_graph.
    With `normalization` ({Input name: (mean, std)}) the class normalizes its raw inputs with buffers that
    the trained model's state_dict fills. With `augment` (a recipe's steps) it ends with netbuilder's augmentation
    and AUGMENT, those steps (augment_source.py)."""
    traced = trace_graph(graph, normalization=normalization)
    if not is_identifier(class_name):
        class_name = "Net"
    inputs = ", ".join(["self", *(identifier(name, "the input") for name in traced.inputs)])
    body = forward_source(traced)
    init = [f"        self.{identifier(name, 'the block name')} = {construct_source(c)}"
            for name, c in traced.constructs.items()]
    for input_name, (mean_attr, std_attr) in traced.normalized.items():
        shape = tuple(traced.buffers[mean_attr].shape)
        init.append("        " + comment(f"{input_name} is normalized with the training split's mean and std "
                                         "(from the state_dict)"))
        size = ", ".join(str(int(d)) for d in shape)
        init += [f"        self.register_buffer({literal(mean_attr)}, torch.zeros({size}))",
                 f"        self.register_buffer({literal(std_attr)}, torch.ones({size}))"]
    doc = title or graph.meta.get("title") or "A network"
    source = "\n".join([
        docstring(f"{doc}: generated by netbuilder. Needs only PyTorch."),
        "import torch",
        "from torch import nn",
        "",
        "",
        f"class {class_name}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        *(init or ["        pass"]),
        "",
        f"    def forward({inputs}):",
        *(f"        {line}" for line in body),
        "",
    ])
    if augment:
        from .augment_source import augmentation_section

        source += augmentation_section(augment)
    return source


def _normalization_of(model) -> dict:
    """{Input name: (mean, std)} of a compiled model that normalizes its inputs."""
    from ..build.weights import split_normalization

    return split_normalization(dict(model.state_dict()))[1]


@dataclass
class CodeReport:
    path: Path
    weights_path: Path | None
    max_abs_diff: float

    def summary(self) -> str:
        weights = f" and its weights to {self.weights_path}" if self.weights_path else ""
        return (f"wrote {self.path}{weights}; the class loads the compiled graph's state_dict and matches its "
                f"outputs (max difference {self.max_abs_diff:.1e})")


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
    model = model_to_export(graph, weights, model, weight_copies=3)  # the model, the class written, the file
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
    return CodeReport(path, weights_path, diff)
