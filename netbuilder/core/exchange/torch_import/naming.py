"""Where an operator of an ExportedProgram came from, and what the blocks made of it are called.

torch.export keeps, on every node, the stack of module calls it ran in (`nn_module_stack`: each call's key,
its module path and its class; a module called a second time has keys ending in `@1`) and the Python stack
that made it (`stack_trace`, with the line of source). From these:
- a block made inside a torch.nn module is named after the module's path (`layer1.0.conv1` -> `layer1_0_conv1`);
- a block made by a line `name = ...` of the user's own code is named `name` (and a module called again takes
  the name its result is given there);
- a block belongs to the group of its path's first module (`layer1.0`), as ONNX import groups scopes.

netbuilder's own generated code also says, in comments, what plain PyTorch cannot: its groups, its Inputs'
dataset fields and normalization, and its Output blocks' names (see codegen.py). `Conventions` reads them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...model.groups import group_name

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)\n(?P<code>[^\n]*)')
_ASSIGN = re.compile(r"\s*(?P<name>[A-Za-z_]\w*)\s*(?::[^=]+)?=(?!=)")
TORCH_NN = "torch.nn."


@dataclass(frozen=True)
class Call:
    """One module call on a node's stack."""

    key: str  # unique per call: `L__self__tower@1`
    path: str  # `tower`
    cls: str  # `torch.nn.modules.linear.Linear`

    @property
    def index(self) -> int:
        """0 for the first call of the module, 1 for the second, ..."""
        tail = self.key.rsplit("@", 1)
        return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 0

    @property
    def class_name(self) -> str:
        return self.cls.rsplit(".", 1)[-1]

    @property
    def is_torch(self) -> bool:
        return self.cls.startswith(TORCH_NN)


@dataclass
class Origin:
    """What a node's metadata says about where it came from."""

    calls: list[Call]  # outermost first, the top module left out
    file: str | None = None  # the innermost frame of the user's own code
    line: int | None = None
    target: str | None = None  # `name` of a line `name = ...` there

    @property
    def innermost(self) -> Call | None:
        return self.calls[-1] if self.calls else None

    def where(self) -> str:
        return f"line {self.line}" if self.line else ""


def origin(fx_node, own_files: set[str] | None = None) -> Origin:
    stack = fx_node.meta.get("nn_module_stack") or {}
    calls = [Call(key, path, str(cls)) for key, (path, cls) in stack.items()
             if path and not key.startswith("_empty")]
    found = Origin(calls)
    frames = list(_FRAME.finditer(fx_node.meta.get("stack_trace") or ""))
    own = [f for f in frames if _own(f["file"], own_files)]
    if own:
        frame = own[-1]
        found.file, found.line = frame["file"], int(frame["line"])
        match = _ASSIGN.match(frame["code"])
        found.target = match["name"] if match else None
    return found


def _own(path: str, own_files: set[str] | None) -> bool:
    if own_files is not None:
        return path in own_files
    return not re.search(r"[/\\](torch|site-packages|dist-packages|lib[/\\]python\d)", path)


def op_name(fx_node) -> str:
    """`aten.conv2d.default`, or the name of a Python function (`getitem`)."""
    import operator

    import torch

    target = fx_node.target
    if target is operator.getitem:
        return "getitem"
    return str(target) if isinstance(target, torch._ops.OpOverload) else getattr(target, "__name__", str(target))


def module_name(path: str, index: int = 0) -> str:
    """`layer1.0.conv1` -> `layer1_0_conv1` (`_2` for a second call)."""
    name = re.sub(r"\W", "_", path).strip("_") or "module"
    if name[0].isdigit():
        name = f"m_{name}"
    return name if index == 0 else f"{name}_{index + 1}"


def group_of(found: Origin) -> str | None:
    """The group a node's block belongs to: the first module of its path (with the list index after it), and
    `name #2` for blocks of a second call of it."""
    if not found.calls:
        return None
    name = group_name(found.calls[-1].path)
    if not name:
        return None
    call = next((c for c in found.calls if c.path == name), None)
    return name if call is None or call.index == 0 else f"{name} #{call.index + 1}"


# ----- what netbuilder's generated code says in comments

_GROUP = re.compile(r"#\s*group (?P<name>.+?)(?P<collapsed> \(collapsed\))?:\s*(?P<members>[\w ,]*)$")
_INPUT = re.compile(r"#\s*(?P<name>\w+): Input (?P<shape>[\dx]+|scalar) (?P<dtype>float32|int64)"
                    r"(?:, field (?P<field>\w+))?(?:, normalize (?P<normalize>\w+))?(?: \(.*\))?\s*$")
_OUTPUT = re.compile(r"#\s*outputs?: (?P<names>[\w ,]+)$")


@dataclass
class Conventions:
    groups: dict[str, tuple[list[str], bool]] = field(default_factory=dict)  # name -> (block names, collapsed)
    inputs: dict[str, dict] = field(default_factory=dict)  # Input name -> its params
    outputs: list[str] = field(default_factory=list)  # Output block names, in the order forward returns them

    def input_shapes(self) -> list[tuple[tuple[int, ...], str]] | None:
        """(shape, dtype) of each Input, in the order written, when the code names them."""
        if not self.inputs:
            return None
        return [(tuple(p["shape"]), p["dtype"]) for p in self.inputs.values()]


def conventions(source: str) -> Conventions:
    """The groups, Inputs and Outputs netbuilder's generated code describes in its comments."""
    import io
    import tokenize

    found = Conventions()
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return found
    pending = None  # a group whose member list continues on the next comment line
    for token in tokens:
        text = token.string.strip()
        if pending is not None and text.startswith("#   "):
            found.groups[pending][0].extend(n for n in re.split(r"[,\s]+", text[1:]) if n)
            continue
        pending = None
        if match := _GROUP.match(text):
            members = [n for n in re.split(r"[,\s]+", match["members"]) if n]
            found.groups[match["name"]] = (members, bool(match["collapsed"]))
            pending = match["name"]
        elif match := _INPUT.match(text):
            shape = [] if match["shape"] == "scalar" else [int(d) for d in match["shape"].split("x")]
            found.inputs[match["name"]] = {"shape": shape, "dtype": match["dtype"],
                                           "field": match["field"] or "x", "normalize": match["normalize"] or "none"}
        elif match := _OUTPUT.search(text):
            found.outputs = [n for n in re.split(r"[,\s]+", match["names"]) if n]
    return found
