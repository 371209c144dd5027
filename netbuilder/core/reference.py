"""The layer reference, written from the registry: what a layer does, its params, the shapes it accepts,
a formula where one helps, and worked examples (its test cases). The editor's Help shows it."""
from __future__ import annotations

from dataclasses import dataclass

from .layers import CATEGORIES, LAYERS, Param, get_layer
from .layers.spec import format_shape, format_value

KIND_WORDS = {"int": "whole number", "float": "number", "bool": "yes / no", "choice": "one of", "ints": "size"}


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
    inputs: str  # "one input", "2 to 16 inputs (in1, in2, ...)"
    examples: list[str]  # "3x16x16 → 16x14x14, 448 weights"


def param_row(param: Param) -> ParamRow:
    kind = KIND_WORDS[param.kind]
    if param.kind == "choice":
        kind = f"one of {', '.join(param.choices)}"
    elif param.kind == "ints":
        kind = (f"{param.length} whole numbers (one for all)" if param.length and param.length > 1
                else "list of whole numbers" if param.length is None else "whole number")
        if param.choices:
            kind += f", or {' / '.join(param.choices)}"
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
    else:
        inputs = {0: "no input", 1: "one input"}.get(spec.inputs, f"{spec.inputs} inputs")
    examples = []
    for case in spec.cases:
        changed = ", ".join(f"{k}={format_value(v)}" for k, v in case.params.items())
        weights = f", {case.weights:,} weights" if case.weights else ""
        examples.append(f"{format_shape(case.input)} → {format_shape(case.output)}{weights}"
                        + (f"  ({changed})" if changed else ""))
    return LayerReference(spec.type, CATEGORIES[spec.category], spec.help, spec.doc, spec.formula,
                          [param_row(p) for p in spec.params], accepts, inputs, examples)


def all_references() -> list[LayerReference]:
    """Every layer, by category in the palette's order."""
    order = list(CATEGORIES)
    return [layer_reference(t) for t in sorted(LAYERS, key=lambda t: order.index(LAYERS[t].category))]
