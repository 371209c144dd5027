"""How a layer type is declared: typed parameters, ports, and how it becomes torch.

Everything here is plain data and plain functions; nothing imports torch at module
level, so the editor can read the registry before torch has loaded.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..base.errors import NetbuilderError, brief

Shape = tuple[int, ...]  # a tensor shape without the batch dimension


def format_shape(shape: Shape | None) -> str:
    """`32x24x24`; `?` for an unknown shape."""
    if shape is None:
        return "?"
    return "x".join(str(d) for d in shape) or "scalar"


def format_value(value: Any, length: int = 1) -> str:
    """A param value as a person reads it: 5 -> "5", [3, 5] -> "3x5", 3 with length 2 -> "3x3", None -> "-"."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "x".join(str(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and length > 1:
        return "x".join([str(value)] * length)
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_step(value: Any) -> str:
    """A stride, padding or dilation: one number when every dimension has the same, e.g. [2, 2] -> "2"."""
    if isinstance(value, list) and len(set(value)) == 1:
        return str(value[0])
    return format_value(value)


class ParamError(NetbuilderError):
    """A parameter value the registry rejects; the message says why, in a person's words."""


@dataclass(frozen=True)
class Param:
    """One typed parameter of a layer.

    kind is one of "int", "float", "bool", "choice", "ints" (a tuple of ints), "text" (a short name).
    Values are kept in JSON form: ints, floats, bools, strings, lists of ints, or None.
    """

    name: str
    kind: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()  # "choice": the allowed strings; "ints": words allowed instead of numbers
    length: int | None = None  # "ints": a fixed length (a single int then stands for all), None: any length
    optional: bool = False  # None is allowed, meaning "PyTorch's default" (e.g. pool stride = kernel)
    min_length: int = 1  # "ints" of any length: the fewest values (0: an empty list is allowed)

    def check(self, value: Any) -> Any:
        """Return the value in its canonical form, or raise ParamError saying why it is refused."""
        if value is None:
            if self.optional:
                return None
            raise ParamError(f"'{self.name}' must be set")
        return getattr(self, f"_check_{self.kind}")(value)

    def _check_int(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"'{self.name}' must be a whole number, got {brief(value)}")
        self._check_bounds(value)
        return value

    def _check_float(self, value: Any) -> float:
        try:
            number = float(value) if not isinstance(value, bool) and isinstance(value, (int, float)) else math.nan
        except OverflowError:  # an int too large for a float
            number = math.nan
        if not math.isfinite(number):
            raise ParamError(f"'{self.name}' must be a number, got {brief(value)}")
        self._check_bounds(number)
        return number

    def _check_bool(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ParamError(f"'{self.name}' must be true or false, got {brief(value)}")
        return value

    def _check_choice(self, value: Any) -> str:
        if value not in self.choices:
            raise ParamError(f"'{self.name}' must be one of {', '.join(self.choices)}; got {brief(value)}")
        return value

    def _check_text(self, value: Any) -> str:
        if not isinstance(value, str) or not _TEXT.fullmatch(value):
            raise ParamError(f"'{self.name}' must be a name of letters, digits and _ (at most 32), got {value!r}"[:200])
        return value

    def _check_ints(self, value: Any) -> int | str | list[int]:
        if isinstance(value, str) and value in self.choices:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and self.length is not None:
            self._check_bounds(value)
            return value
        words = f", or one of {', '.join(self.choices)}" if self.choices else ""
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or len(value) < self.min_length or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ParamError(f"'{self.name}' must be {self._ints_words()}{words}; got {brief(value)}")
        if self.length is not None and len(value) != self.length:
            raise ParamError(f"'{self.name}' must have {self.length} values, got {len(value)}")
        if len(value) > 8:
            raise ParamError(f"'{self.name}' has {len(value)} values; at most 8 are allowed")
        for v in value:
            self._check_bounds(v)
        return list(value)

    def _ints_words(self) -> str:
        if self.length is None:
            return "a list of whole numbers"
        return f"a whole number or a list of {self.length} whole numbers"

    def _check_bounds(self, value: float) -> None:
        low, high = self.min, self.max
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                raise ParamError(f"'{self.name}' must be at least {_num(low)}, got {_num(value)}")
            if low is None:
                raise ParamError(f"'{self.name}' must be at most {_num(high)}, got {_num(value)}")
            raise ParamError(f"'{self.name}' must be between {_num(low)} and {_num(high)}, got {_num(value)}")


_TEXT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else brief(value)


def Int(name: str, default: int | None, min: int | None = None, max: int | None = None,
        help: str = "", optional: bool = False) -> Param:
    return Param(name, "int", default, help, min, max, optional=optional)


def Float(name: str, default: float, min: float | None = None, max: float | None = None, help: str = "") -> Param:
    return Param(name, "float", default, help, min, max)


def Bool(name: str, default: bool, help: str = "") -> Param:
    return Param(name, "bool", default, help)


def Choice(name: str, default: str, choices: tuple[str, ...], help: str = "") -> Param:
    return Param(name, "choice", default, help, choices=choices)


def Ints(name: str, default: Any, length: int | None = None, min: int | None = None, max: int | None = None,
         words: tuple[str, ...] = (), help: str = "", optional: bool = False, min_length: int = 1) -> Param:
    return Param(name, "ints", default, help, min, max, choices=words, length=length, optional=optional,
                 min_length=min_length)


def Text(name: str, default: str, help: str = "", suggestions: tuple[str, ...] = ()) -> Param:
    """A short name (letters, digits, _): a dataset field, a group. `suggestions` are offered, not enforced."""
    return Param(name, "text", default, help, choices=suggestions)


@dataclass(frozen=True)
class Construct:
    """How to make a layer's torch module: `torch.nn.<cls>(*args, **kwargs)`.

    The same recipe builds the module (compile, shape inference) and writes it as source (code export).
    """

    cls: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def make(self):
        import torch.nn

        if self.cls == "Parameter":
            return _make_parameter(*self.args, **self.kwargs)
        return getattr(torch.nn, self.cls)(*self.args, **self.kwargs)


def module(cls: str, *args: Any, **kwargs: Any) -> Construct:
    return Construct(cls, args, kwargs)


PARAMETER_INITS = {"zeros": "torch.zeros({})", "ones": "torch.ones({})", "normal": "torch.randn({}) * 0.02"}


def parameter(shape: Shape, init: str | float = "zeros") -> Construct:
    """A learned tensor that is not a module (a class token, a learned position table): the block's forward
    receives the tensor itself, and code export writes `nn.Parameter(torch.zeros(1, 1, 64))`.
    init: "zeros", "ones", "normal" (standard deviation 0.02) or a number to fill it with."""
    return Construct("Parameter", (tuple(shape),), {"init": init})


def parameter_source(shape: Shape, init: str | float) -> str:
    dims = ", ".join(str(d) for d in shape)
    if isinstance(init, str):
        return PARAMETER_INITS[init].format(dims)
    return f"torch.full(({dims}{',' if len(shape) == 1 else ''}), {init!r})"


def _make_parameter(shape: Shape, init: str | float):
    import torch

    if not isinstance(init, str):
        return torch.nn.Parameter(torch.full(shape, float(init)))
    data = {"zeros": torch.zeros, "ones": torch.ones}[init](shape) if init != "normal" else torch.randn(shape) * 0.02
    return torch.nn.Parameter(data)


def check_dim(dim: int, shape: Shape) -> str | None:
    """A complaint if `dim` (PyTorch's numbering, the batch is 0) is not a sample dimension of `shape`."""
    rank = len(shape) + 1
    if not -rank < dim < rank or dim == 0:
        allowed = "1" if rank == 2 else f"from 1 to {rank - 1}, or negative to count from the end"
        return f"dim must be {allowed} (0 is the batch), got {dim}"
    return None


def call_module(m, x, **_params):
    """The usual forward of a layer: call its module on its one input."""
    return m(x)


@dataclass(frozen=True)
class Case:
    """A layer tried on its own (as Keras' run_layer_test): its params (the rest at their defaults), an input
    shape (batch excluded), and the output shape and number of weights that must come out. Every case is
    run through shapes, compilation, a real forward pass, the JSON round trip and both exports.
    A layer with several ports gives a shape per port: `inputs` and `outputs` map port names to shapes
    (`input` and `output` are then the first port's)."""

    params: dict
    input: Shape
    output: Shape
    weights: int = 0
    inputs: dict = field(default_factory=dict)  # {port: shape} for a layer with several ports
    outputs: dict = field(default_factory=dict)
    ports: dict | None = None  # {port: (shape, dtype)} where the ports take different dtypes (a loss)


def case(input_shape: Shape | dict, output_shape: Shape | dict, weights: int = 0, /, **params: Any) -> Case:
    """input_shape / output_shape: one shape, or {port: shape} for a layer with several ports."""
    inputs = {k: tuple(v) for k, v in input_shape.items()} if isinstance(input_shape, dict) else {}
    outputs = {k: tuple(v) for k, v in output_shape.items()} if isinstance(output_shape, dict) else {}
    first_in = next(iter(inputs.values())) if inputs else tuple(input_shape)
    first_out = next(iter(outputs.values())) if outputs else tuple(output_shape)
    return Case(params, first_in, first_out, weights, inputs, outputs)


def ports_case(ports: dict, output_shape: Shape, weights: int = 0, /, **params: Any) -> Case:
    """A case whose ports take different inputs: {port: (shape, dtype)}."""
    first = next(iter(ports.values()))[0] if ports else ()
    return Case(params, tuple(first), tuple(output_shape), weights,
                ports={port: (tuple(shape), dtype) for port, (shape, dtype) in ports.items()})


@dataclass(frozen=True)
class LayerSpec:
    """A layer type, declared once. Palette, inspector, shapes, compiler and exporters all read this.

    build(params, input_shapes) -> Construct, or None for layers that are a pure function.
    forward(module, *inputs, **params) -> output; module is None when build is None (or returns None),
    the tensor itself for a `parameter` construct. It runs on meta tensors (shape inference), real
    tensors, and torch.fx proxies (compilation), so it may only branch on params, never on tensor values.
    A layer with several output ports returns a tuple, one tensor per port in port order.

    Ports: `inputs` is a count, the name of the int param that sets it (in1..inN), or a function of the
    params giving the port names; `outputs` likewise, or a tuple of port names (e.g. ("out", "hidden")).
    """

    type: str
    category: str
    help: str
    params: tuple[Param, ...] = ()
    build: Callable[[dict, list[Shape]], Construct] | None = None
    forward: Callable = call_module
    # ports: a count, the name of the param that sets the count (in1..inN), the ports' names, or a function of
    # the params giving the names (ports that come and go with a param); see the docstring
    inputs: int | str | tuple[str, ...] | Callable[[dict], list[str]] = 1
    outputs: int | str | tuple[str, ...] | Callable[[dict], list[str]] = 1
    ranks: tuple[int, ...] | None = None  # accepted input ranks (batch excluded); None: any
    rank_words: str = ""  # what an accepted input is, e.g. "channels x height x width"
    int_input: bool = False  # expects integer ids (Embedding)
    port_dtypes: dict = field(default_factory=dict)  # per input port: "int64", "float32" or "any" (losses)
    # what the block is in training: "layer"; "loss" (a term of the objective, left out of inference and
    # exports); "source" (makes a tensor per sample from nothing: in exports it becomes an input)
    role: str = "layer"
    infer_forward: Callable | None = None  # the forward in inference and exports, where it differs (Sample)
    shape_aware: bool = False  # forward also receives input_shapes=[shape per port] (batch excluded)
    check: Callable[[dict, list[Shape]], str | None] | None = None  # a readable complaint, or None
    prefix: str = ""  # default block names: prefix1, prefix2, ...
    summary: Callable[[dict], str] | None = None  # the key params in a few characters, e.g. "32 @ 5x5, s1"
    cases: tuple[Case, ...] = ()  # what the layer must make of a few inputs (the layer test harness)
    doc: str = ""  # the layer reference: what it does and when to use it, beyond the one-line help
    formula: str = ""  # what it computes, where a formula helps (plain text, e.g. "y = x W^T + b")

    @property
    def example(self) -> Shape:
        """An input shape the layer accepts (its first case's), for previews and warm-ups."""
        return self.cases[0].input if self.cases else (8,)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def input_ports(self, params: dict[str, Any]) -> list[str]:
        return _ports(self.inputs, params, "in")

    def output_ports(self, params: dict[str, Any] | None = None) -> list[str]:
        return _ports(self.outputs, params if params is not None else self.defaults(), "out")

    def describe(self, params: dict[str, Any]) -> str:
        """The key params for a block's face: the layer's own summary, else the params off their default."""
        if self.summary is not None:
            return self.summary(params)
        changed = [p for p in self.params if params.get(p.name, p.default) != p.default]
        return ", ".join(f"{p.name}={format_value(params[p.name])}" for p in changed)

    def torch_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Params as PyTorch wants them: lists become tuples."""
        return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def _ports(declared: Any, params: dict[str, Any], stem: str) -> list[str]:
    """Port names: `in` / `out` for one, in1..inN for a count (or an int param), else as declared."""
    if callable(declared):
        return list(declared(params))
    if isinstance(declared, tuple):
        return list(declared)
    count = params[declared] if isinstance(declared, str) else declared
    if isinstance(count, (list, tuple)):  # a list param (Split's sizes): one port per entry
        count = len(count)
    if count == 1 and not isinstance(declared, str):
        return [stem]
    return [f"{stem}{i}" for i in range(1, count + 1)]
