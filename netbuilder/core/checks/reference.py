"""The layer reference, written from the registry: what a layer does, its params, the shapes it accepts,
a formula where one helps, and worked examples (its test cases). The editor's Help shows it."""
from __future__ import annotations

from dataclasses import dataclass

from ..layers import CATEGORIES, LAYERS, Param, get_layer
from ..layers.spec import format_shape, format_value

KIND_WORDS = {"int": "whole number", "float": "number", "bool": "yes / no", "choice": "one of", "ints": "size",
              "text": "a name (letters, digits, _)"}


@dataclass(frozen=True)
class ParamRow:
    name: str
    kind: str  # in words: "whole number", "size", "one of nearest, bilinear", ...
    default: str
    allowed: str  # "1 to 256", "", ...
    help: str


@dataclass(frozen=True)
class LayerReference:
    type: str
    category: str
    summary: str
    doc: str
    formula: str
    params: list[ParamRow]
    accepts: str
    inputs: str  # "one input", "2 to 16 inputs (in1, in2, ...)", "2 inputs: mu, logvar"
    examples: list[str]  # "3x16x16 → 16x14x14, 448 weights", "in 5x8, memory 7x6 → 5x8"


def param_row(param: Param) -> ParamRow:
    kind = KIND_WORDS[param.kind]
    if param.kind == "choice":
        kind = f"one of {', '.join(param.choices)}"
    elif param.kind == "ints":
        kind = (f"{param.length} whole numbers (one for all)" if param.length and param.length > 1
                else "list of whole numbers" if param.length is None else "whole number")
        if param.choices:
            kind += f", or {' / '.join(param.choices)}"
    elif param.kind == "text" and param.choices:  # suggestions, not a closed list
        kind += f", e.g. {', '.join(param.choices)}"
    if param.optional:
        kind += "; empty: PyTorch's default"
    low, high = param.min, param.max
    allowed = (f"{format_value(low)} to {format_value(high)}" if low is not None and high is not None
               else f"at least {format_value(low)}" if low is not None
               else f"at most {format_value(high)}" if high is not None else "")
    return ParamRow(param.name, kind, format_value(param.default), allowed, param.help)


def layer_reference(type_name: str) -> LayerReference:
    spec = get_layer(type_name)
    if spec.inputs == 0:
        accepts = "nothing: data enters here"
    elif spec.int_input:
        accepts = "integer ids of any shape (an int64 Input)"
    elif spec.ranks is not None:
        accepts = f"{spec.rank_words} (batch excluded)"
    else:
        accepts = "a tensor of any shape (batch excluded)"
    if isinstance(spec.inputs, str):
        p = spec.param(spec.inputs)
        inputs = f"{format_value(p.min)} to {format_value(p.max)} inputs (in1, in2, …), set by '{spec.inputs}'"
    elif spec.inputs == 0:
        inputs = "no input"
    else:  # a count, named ports, or ports that depend on the params (shown at their defaults)
        ports = spec.input_ports(spec.defaults())
        inputs = ("one input" if ports == ["in"] else f"one input: {ports[0]}" if len(ports) == 1
                  else f"{len(ports)} inputs: {', '.join(ports)}")
        if callable(spec.inputs):
            inputs += " (the ports depend on the params)"
    examples = []
    for case in spec.cases:
        changed = ", ".join(f"{k}={format_value(v)}" for k, v in case.params.items())
        weights = f", {case.weights:,} weights" if case.weights else ""
        ports_in = {port: shape for port, (shape, _dtype) in case.ports.items()} if case.ports else case.inputs
        names = spec.input_ports({**spec.defaults(), **case.params})
        if not ports_in and len(names) > 1:  # one shape given: every port receives it
            ports_in = {port: case.input for port in names}
        given = ("nothing" if spec.inputs == 0 else format_shape(case.input) if not ports_in
                 else f"{len(ports_in)} inputs of {format_shape(case.input)}" if len(ports_in) > 3
                 else _shapes(ports_in))
        made = ("one number" if spec.role == "loss" else _shapes(case.outputs) if case.outputs
                else format_shape(case.output))
        examples.append(f"{given} → {made}{weights}" + (f"  ({changed})" if changed else ""))
    return LayerReference(spec.type, CATEGORIES[spec.category], spec.help, spec.doc, spec.formula,
                          [param_row(p) for p in spec.params], accepts, inputs, examples)


def _shapes(ports: dict) -> str:
    """`in 5x8, memory 7x6`: a shape per port."""
    return ", ".join(f"{port} {format_shape(shape)}" for port, shape in ports.items())


def all_references() -> list[LayerReference]:
    """Every layer, by category in the palette's order."""
    order = list(CATEGORIES)
    return [layer_reference(t) for t in sorted(LAYERS, key=lambda t: order.index(LAYERS[t].category))]
