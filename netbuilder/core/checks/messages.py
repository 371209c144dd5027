"""PyTorch's complaints in a person's words.

torch says "Calculated padded input size per channel: (3 x 3). Kernel size: (5 x 5). Kernel size can't be
greater than actual input size"; a person wants "the 5x5 kernel is larger than its 3x3 input; lower the
kernel or the pooling above it". Each rule of the table below matches one of torch's messages and writes it
again from what the block knows: its type, its params and the shapes it receives. `explain` is used by
shape inference on every block that fails; `translate` (no block at hand) by the entry points for errors
raised while training, through `describe`: the one line an entry point shows for any error.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..base.errors import EXPECTED, NetbuilderError, first_line, os_error_message, shorten
from ..layers.spec import format_shape, format_value


@dataclass
class Context:
    """What the failing block knows: its layer type, its params and its input shapes (batch excluded).
    Empty when the error comes without a block (a run that fails mid-way)."""

    type: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def spatial(self) -> str:
        """The input's size without its channels: `3x3` for a 64x3x3 input."""
        return format_shape(self.inputs[0][1:]) if self.inputs and len(self.inputs[0]) > 1 else "?"

    @property
    def dims(self) -> int:
        return max(1, len(self.inputs[0]) - 1) if self.inputs else 2

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def window(self, noun: str = "kernel", name: str = "kernel_size") -> str:
        """`the 5x5 kernel`; `the kernel of size 5` along one dimension."""
        value = self.param(name)
        size = format_value(value, self.dims) if value is not None else "?"
        return f"the {noun} of size {size}" if self.dims == 1 else f"the {size} {noun}"

    @property
    def input_words(self) -> str:
        """`its 3x3 input`; `its input of length 4` along one dimension."""
        return f"its input of length {self.spatial}" if self.dims == 1 else f"its {self.spatial} input"


def _kernel_too_big(m: re.Match, c: Context) -> str:
    padding, dilation = c.param("padding", 0), c.param("dilation", 1)
    grown = f" (spread to {m['kernel'].replace(' ', '')} by its dilation)" if dilation not in (1, [1] * c.dims) else ""
    padded = f" ({m['input'].replace(' ', '')} with padding)" if padding not in (0, "valid", [0] * c.dims) else ""
    return (f"{c.window()}{grown} is larger than {c.input_words}{padded}; "
            "lower the kernel or the pooling above it")


def _window_leaves_nothing(m: re.Match, c: Context) -> str:
    if c.type.startswith("ConvTranspose"):
        return (f"a padding of {format_value(c.param('padding'))} removes more than the output has "
                f"(from a {c.spatial} input); lower the padding")
    noun = "window" if "Pool" in c.type else "kernel"
    return (f"{c.window(noun)} is larger than {c.input_words}, so nothing is left; "
            "lower the kernel size, or the pooling above it")


def _pad_over_half(m: re.Match, c: Context) -> str:
    pad, kernel = int(m["pad"]), int(m["kernel"])
    return (f"a padding of {pad} is more than half the {format_value(kernel, c.dims)} window; "
            f"use at most {kernel // 2}")


def _same_with_stride(m: re.Match, c: Context) -> str:
    return "padding 'same' works only with stride 1; set the stride to 1 or give the padding as a number"


def _in_groups(m: re.Match, c: Context) -> str:
    channels, groups = (c.inputs[0][0] if c.inputs else "its"), c.param("groups", "?")
    return (f"its {channels} input channels cannot be split into {groups} groups; "
            f"set groups to a number that divides {channels}")


def _out_groups(m: re.Match, c: Context) -> str:
    groups = c.param("groups", "?")
    return (f"its {c.param('out_channels', '?')} filters cannot be split into {groups} groups; "
            f"make out_channels a multiple of {groups}")


def _matmul(m: re.Match, c: Context) -> str:
    return f"expects {m['expected']} features per sample, receives {m['got']}"


def _elementwise(m: re.Match, c: Context) -> str:
    return (f"its inputs differ in size along dimension {m['dim']} ({m['a']} and {m['b']}); "
            "they must have the same shape")


def _concat(m: re.Match, c: Context) -> str:
    shapes = ", ".join(format_shape(s) for s in c.inputs) or "its inputs"
    return f"its inputs ({shapes}) must match in every dimension except the one it joins along"


def _dim_range(m: re.Match, c: Context) -> str:
    return f"dimension {m['got']} does not exist here: use {m['low']} to {m['high']} (0 is the batch)"


def _reshape(m: re.Match, c: Context) -> str:
    return f"cannot give {m['size']} values the shape {m['shape'].replace(', ', 'x')}"


def _batch_of_one(m: re.Match, c: Context) -> str:
    return ("a batch of a single sample reached a BatchNorm, which needs at least 2 values per channel to "
            "normalize while training: choose a batch size that does not leave 1 sample in the last batch, "
            "or use LayerNorm")


def _empty_interpolation(m: re.Match, c: Context) -> str:
    return f"its output would be empty (from a {c.spatial} input); raise the scale factor"


def _rank(m: re.Match, c: Context) -> str:
    shape = format_shape(c.inputs[0]) if c.inputs else "a tensor of another rank"
    return f"expects an input of another rank, receives {shape}"


def _memory(m: re.Match, c: Context) -> str:
    return "the machine ran out of memory; try a smaller batch size or a smaller network"


Rule = tuple[re.Pattern, Callable[[re.Match, Context], str]]

RULES: list[Rule] = [(re.compile(pattern), words) for pattern, words in [
    (r"Calculated padded input size per channel: \((?P<input>[\d x]+)\)\. Kernel size: \((?P<kernel>[\d x]+)\)",
     _kernel_too_big),
    (r"Given input size(?: per channel)?: [\(\[].*[\)\]]\. Calculated output size(?: per channel)?: "
     r"[\(\[].*[\)\]]\. Output size is too small", _window_leaves_nothing),
    (r"Invalid computed output size: -?\d+", _window_leaves_nothing),
    (r"pad should be at most half of effective kernel size, but got pad=(?P<pad>\d+), kernel_size=(?P<kernel>\d+)",
     _pad_over_half),
    (r"padding='same' is not supported for strided convolutions", _same_with_stride),
    (r"in_channels must be divisible by groups", _in_groups),
    (r"out_channels must be divisible by groups", _out_groups),
    (r"mat1 and mat2 shapes cannot be multiplied \(\d+x(?P<got>\d+) and (?P<expected>\d+)x\d+\)", _matmul),
    (r"The size of tensor a \((?P<a>\d+)\) must match the size of tensor b \((?P<b>\d+)\) at non-singleton "
     r"dimension (?P<dim>\d+)", _elementwise),
    (r"Sizes of tensors must match except in dimension", _concat),
    (r"Dimension out of range \(expected to be in range of \[(?P<low>-?\d+), (?P<high>-?\d+)\], but got "
     r"(?P<got>-?\d+)\)", _dim_range),
    (r"shape '\[(?P<shape>[-\d, ]*)\]' is invalid for input of size (?P<size>\d+)", _reshape),
    (r"Expected more than 1 value per channel when training", _batch_of_one),
    (r"Input and output sizes should be greater than 0", _empty_interpolation),
    (r"Expected \d+D .*input.* but got input of size", _rank),
    (r"(?i)out of memory|can't allocate memory|not enough memory|std::bad_alloc|Cannot allocate memory", _memory),
]]


def translate(text: str, context: Context | None = None) -> str | None:
    """torch's message in words, or None when no rule knows it."""
    context = context or Context()
    for pattern, words in RULES:
        match = pattern.search(text)
        if match:
            return words(match, context)
    return None


def explain(text: str, type_name: str = "", params: dict | None = None,
            inputs: list[tuple[int, ...]] | None = None) -> str:
    """What went wrong with a block, in words: a rule's sentence, else torch's own first line."""
    found = translate(text, Context(type_name, dict(params or {}), list(inputs or [])))
    if found is not None:
        return found
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"PyTorch cannot run this block: {first}" if first else "PyTorch cannot run this block"


def empty_output(output: tuple[int, ...], inputs: list[tuple[int, ...]]) -> str | None:
    """A complaint when a block would produce no values at all (a 3x0x0 output)."""
    if output and math.prod(output) == 0:
        source = f" from its {format_shape(inputs[0])} input" if inputs else ""
        return f"its output would be empty ({format_shape(output)}){source}; raise its size or scale"
    return None


_WORKER = re.compile(r"\ACaught (?P<type>\w+) in DataLoader worker process \d+\.\s*\nOriginal Traceback")


def worker_message(error: BaseException) -> str:
    """An error raised in a DataLoader worker process (a streamed dataset's reader) comes back as the same type
    holding the worker's whole traceback ("Caught DataError in DataLoader worker process 0. Original Traceback
    ..."): its own message again, from the traceback's last line. Any other error: its message as it is."""
    text = str(error)
    if not _WORKER.match(text):
        return text
    tail = text.rstrip().splitlines()
    for i in range(len(tail) - 1, 0, -1):  # the line naming the type starts the message (which may span lines)
        head, _, rest = tail[i].partition(": ")
        if head.rsplit(".", 1)[-1] == type(error).__name__ and rest:
            return "\n".join([rest, *tail[i + 1:]])
    return tail[-1]


def describe(error: BaseException) -> str:
    """The one line an entry point shows for an error: the message of a user's error, the file and the
    reason of the machine's refusal, and for anything else that it is a bug."""
    if isinstance(error, NetbuilderError):
        text = worker_message(error)
    elif isinstance(error, OSError):
        text = os_error_message(error)
    elif isinstance(error, MemoryError):
        text = "out of memory: the machine cannot hold what this needs (try a smaller batch or model)"
    else:
        words = translate(str(error))  # torch's complaints that a user can cause, in words if isinstance(error, (RuntimeError, ValueError)) else None
        text = words or (f"unexpected error, a bug in netbuilder (please report it): {type(error).__name__}: "
                         f"{first_line(error)}")
    return shorten(text)


def is_bug(error: BaseException) -> bool:
    if isinstance(error, (*EXPECTED, MemoryError)):
        return False
    return not (isinstance(error, (RuntimeError, ValueError)) and translate(str(error)) is not None)
