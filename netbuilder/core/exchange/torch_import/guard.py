"""Reading a .pt2 file (torch.export.save) without running anything it holds.

torch.export.load is not safe on a file from elsewhere: it unpickles weights and constants with
weights_only=False, unpickles "opaque" constants with pickle, loads ScriptObjects, parses the symbolic sizes
with sympy (which evaluates text), resolves each operator by walking attributes from `torch`, and the
program's `module()` executes the file's "guards" as Python code; an AOTInductor package carries compiled
libraries. So before torch sees the file, netbuilder reads it into memory and checks it whole:
- a zip whose entries hold what they declare (no zip bomb), without compiled code (aotinductor);
- every pickled entry loads with torch.load(weights_only=True), which builds tensors and plain containers only
  (a pickle that loads that way calls nothing else when torch loads it again); custom and opaque objects are
  refused;
- the program's JSON names only ATen, prims, operator and math functions as its operators, and its symbolic
  sizes are made of known names, numbers and arithmetic;
then torch.export.load reads the checked bytes (not the file again), the program's guards are dropped before
its module is made, and every operator of the loaded graph is checked to be an ATen operator or one of a few
Python functions of numbers.
"""
from __future__ import annotations

import io
import json
import math
import operator
import os
import re
import zipfile
from pathlib import Path

import torch

from ...base.errors import first_line
from ...base.files import check_regular
from ...base.system import available_bytes, format_bytes
from .source import TorchImportError

MAX_UNPACK_RATIO = 100
TARGET_PREFIXES = ("torch.ops.aten.", "torch.ops.prims.", "_operator.", "math.", "torch.sym_", "torch._sym_")
SYMPY_NAMES = {"Symbol", "Integer", "Rational", "Float", "positive", "integer", "real", "True", "False", "oo",
               "Max", "Min", "Mod", "FloorDiv", "CeilDiv", "CleanDiv", "ModularIndexing", "PythonMod", "Abs",
               "floor", "ceiling", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "Mul", "Add", "Pow",
               "ToFloat", "TruncToInt", "TruncToFloat", "FloorToInt", "CeilToInt", "IntTrueDiv", "FloatTrueDiv",
               "PowByNatural", "FloatPow", "RoundToInt", "Identity", "Where", "LShift", "RShift", "sqrt"}
_SYMBOL = re.compile(r"[a-z]+\d+$|unbacked_\w+$")
_EXPR = re.compile(r"[\w\s+\-*/(),.=<>!%']*")
PYTHON_FUNCTIONS = {operator.getitem, operator.add, operator.sub, operator.mul, operator.floordiv, operator.truediv,
                    operator.mod, operator.neg, operator.pow, operator.eq, operator.ne, operator.lt, operator.le,
                    operator.gt, operator.ge, math.ceil, math.floor, math.sqrt, math.trunc}


def read_program(path: Path):
    """The ExportedProgram of a checked .pt2 file; TorchImportError says why a file is refused."""
    data = _read(path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise TorchImportError(f"{path.name} is not a torch.export file ({first_line(e)})") from None
    _check_sizes(path, entries)
    names = [e.filename for e in entries]
    if not any(n.endswith(("models/model.json", "/archive_format")) for n in names):
        raise TorchImportError(f"{path.name} is not a torch.export file (saved with torch.export.save); torch.save "
                               "files and TorchScript archives cannot be imported: export the model first")
    if any("/data/aotinductor/" in n or n.endswith((".so", ".dll", ".dylib", ".cpp")) for n in names):
        raise TorchImportError(f"{path.name} holds compiled code (an AOTInductor package); netbuilder reads only "
                               "exported programs")
    raw = set()
    for name in names:
        if name.endswith(("_weights_config.json", "_constants_config.json")):
            raw |= _payloads(path, archive, name)
    for name in names:
        if name.endswith(".json") and "/models/" in name:
            _check_program(path, json.loads(archive.read(name)))
        elif name not in raw and "/data/" in name and not name.endswith(".json"):
            _check_pickle(path, name, archive.read(name))
    try:
        program = torch.export.load(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - a file from another torch version, a damaged one
        raise TorchImportError(f"{path.name}: torch.export cannot read it ({first_line(e)[:200]})") from None
    program._guards_code = []  # executed as Python when the module is made: never from a file
    _check_operators(path, program)
    return program


def _read(path: Path) -> bytes:
    try:
        check_regular(path)
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise TorchImportError(f"{path}: no such file") from None
    except OSError as e:
        raise TorchImportError(f"{path}: {e.strerror or first_line(e)}") from None
    available = available_bytes()
    if available is not None and 3 * size > available:
        raise TorchImportError(f"{path.name} is {format_bytes(size)}; reading it needs about three times that and "
                               f"this machine has {format_bytes(available)} of memory available")
    return path.read_bytes()


def _check_sizes(path: Path, entries) -> None:
    declared = sum(e.file_size for e in entries)
    packed = sum(e.compress_size for e in entries)
    if declared > 2**24 and declared > MAX_UNPACK_RATIO * max(packed, 1):
        raise TorchImportError(f"{path.name} declares {format_bytes(declared)} packed into {format_bytes(packed)} "
                               "(a zip bomb?); not read")
    available = available_bytes()
    if available is not None and declared > available:
        raise TorchImportError(f"{path.name} holds {format_bytes(declared)}; this machine has "
                               f"{format_bytes(available)} of memory available")


def _payloads(path: Path, archive, config_name: str) -> set[str]:
    """The entries a payload config names as raw tensor bytes (never unpickled); custom objects refused."""
    folder = config_name.rsplit("/", 1)[0]
    try:
        config = json.loads(archive.read(config_name)).get("config", {})
    except (ValueError, AttributeError):
        raise TorchImportError(f"{path.name}: {config_name} is not a payload list torch writes") from None
    raw = set()
    for fqn, meta in config.items():
        file = meta.get("path_name", "") if isinstance(meta, dict) else ""
        if file.startswith(("custom_obj", "opaque")):
            raise TorchImportError(f"{path.name} holds a custom object ({fqn}), which netbuilder would have to "
                                   "unpickle; only tensors are read")
        if not meta.get("use_pickle"):
            raw.add(f"{folder}/{file}")
    return raw


def _check_pickle(path: Path, name: str, data: bytes) -> None:
    if data[:2] != b"PK" and data[:1] != b"\x80":
        return  # not a pickle (a version number, a byte order)
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - the restricted unpickler refuses anything but tensors
        raise TorchImportError(f"{path.name}: {name} holds more than tensors ({first_line(e)[:120]}); it is not "
                               "read, since loading it could run code") from None


def _check_program(path: Path, document) -> None:
    for key, value in _walk(document):
        if isinstance(value, dict) and {"target", "inputs", "outputs"} <= value.keys():  # an operator node
            target = value["target"]
            if not isinstance(target, str) or "__" in target or not target.startswith(TARGET_PREFIXES):
                raise TorchImportError(f"{path.name} calls {str(target)[:80]!r}, which is not an ATen operator; only "
                                       "programs of ATen operators are read")
        elif key == "expr_str" and isinstance(value, str) and not _safe_expression(value):
            raise TorchImportError(f"{path.name}: a symbolic size {value[:80]!r} is not arithmetic of sizes")
        elif key in ("as_custom_obj", "custom_obj", "as_opaque_obj") and value:
            raise TorchImportError(f"{path.name} uses a custom object; only tensors are read")
        elif key == "guards_code" and value and not all(isinstance(g, str) for g in value):
            raise TorchImportError(f"{path.name}: its guards are not text")


def _walk(value, key=None):
    """Every (key, value) of a JSON document, the values of lists under their list's key."""
    yield key, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)


def _safe_expression(text: str) -> bool:
    if "__" in text or not _EXPR.fullmatch(text):
        return False
    words = re.findall(r"[A-Za-z_]\w*", re.sub(r"'[a-z]+\d+'", "", text))
    return all(w in SYMPY_NAMES or _SYMBOL.match(w) for w in words)


def _check_operators(path: Path, program) -> None:
    for node in program.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        target = node.target
        ok = (isinstance(target, torch._ops.OpOverload) and target.namespace in ("aten", "prims")) \
            or target in PYTHON_FUNCTIONS or getattr(target, "__module__", "") == "torch" and \
            getattr(target, "__name__", "").startswith(("sym_", "_sym_"))
        if node.op != "call_function" or not ok:
            raise TorchImportError(f"{path.name}: its node {node.name} calls {str(target)[:80]}, which is not an "
                                   "ATen operator; only programs of ATen operators are read")
