"""PyTorch code as an ExportedProgram: `FILE.py:NAME` (a module class, a function returning a module, or a module),
built and exported with torch.export on example inputs of the given shapes.

Importing a .py file RUNS that file, as `python FILE.py` would: it is the user's own code, imported by their
choice (the README says so). Nothing else here runs code from a file.
"""
from __future__ import annotations

import contextlib
import importlib.util
import linecache
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ...base.errors import NetbuilderError, first_line

BATCH = 2  # the example batch: dynamic when torch.export allows it; 1 would be specialized away
FIXED_BATCH = 3  # when the code only exports at a fixed batch size
_SPEC = re.compile(r"(?:(?P<dtype>float32|int64):)?(?P<shape>\d+(?:x\d+)*)$")


class TorchImportError(NetbuilderError):
    """Code or a file that cannot be imported; the message says why (and where, for code)."""


def parse_input(text: str) -> tuple[tuple[int, ...], str]:
    """`1x3x224x224` -> ((3, 224, 224), "float32") (the first size is the batch, left out); `int64:1x12` for ids."""
    match = _SPEC.match(text.strip())
    if not match:
        raise TorchImportError(f"--input {text!r}: write the shape with the batch first, e.g. 1x3x224x224, or "
                               "int64:1x12 for token ids")
    sizes = [int(d) for d in match["shape"].split("x")]
    if any(d < 1 or d > 1_000_000 for d in sizes):
        raise TorchImportError(f"--input {text!r}: every size must be from 1 to 1,000,000")
    return tuple(sizes[1:]), match["dtype"] or "float32"


def split_target(target: str) -> tuple[Path, str | None]:
    """`model.py:Net` -> (Path("model.py"), "Net"); `model.pt2` -> (Path("model.pt2"), None)."""
    head, colon, name = target.rpartition(":")
    if colon and head and re.fullmatch(r"[A-Za-z_]\w*", name) and not (len(head) == 1 and head.isalpha()):
        return Path(head), name
    return Path(target), None


@dataclass
class Built:
    module: torch.nn.Module
    source: str  # the file's text (for the names and comments netbuilder's own code carries)
    filename: str  # the name its code runs under (tracebacks and the program's stack traces say it)


def run_code(source: str, filename: str, name: str, module_name: str = "netbuilder_user_code") -> Built:
    """Run the code and build NAME from it (a class taking no arguments, a function returning a module, or a
    module). TorchImportError names the line of the code that failed, and why."""
    if not re.fullmatch(r"[A-Za-z_]\w*", name or ""):
        raise TorchImportError(f"{name!r} is not a Python name: write FILE.py:NAME, NAME the class or function "
                               "that makes the network")
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as e:
        raise TorchImportError(f"line {e.lineno}: {e.msg}") from None
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show the lines
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=filename)
    namespace = importlib.util.module_from_spec(spec)
    namespace.__file__ = filename
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = namespace  # dataclasses and pickling look their module up here
    try:
        with _beside(filename):
            exec(code, namespace.__dict__)  # noqa: S102 - the user's own code, imported at their request
            made = namespace.__dict__.get(name)
            if made is None:
                raise TorchImportError(f"{Path(filename).name} defines no {name}")
            module = made() if callable(made) and not isinstance(made, torch.nn.Module) else made
    except TorchImportError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's code may raise anything: say where and what
        raise TorchImportError(f"{code_line(e, filename)}{type(e).__name__}: {first_line(e)}") from None
    finally:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
    if not isinstance(module, torch.nn.Module):
        raise TorchImportError(f"{name} gives a {type(module).__name__}, not a torch.nn.Module")
    return Built(module, source, filename)


def read_code(path: Path, name: str) -> Built:
    from ...base.files import check_regular

    try:
        check_regular(path)
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TorchImportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TorchImportError(f"{path}: {getattr(e, 'strerror', None) or first_line(e)}") from None
    stem = re.sub(r"\W", "_", path.stem)
    return run_code(source, str(path.resolve()), name, f"netbuilder_user_{stem}")


@contextlib.contextmanager
def _beside(filename: str):
    """The code's own folder on sys.path while it runs (its local imports)."""
    folder = str(Path(filename).parent) if Path(filename).is_file() else None
    if folder:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if folder and folder in sys.path:
            sys.path.remove(folder)


def code_line(error: BaseException, filename: str) -> str:
    """`line 12: ` of the innermost frame of the user's code in an exception's traceback, or ""."""
    import traceback

    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    return f"line {frames[-1].lineno}: " if frames else ""


def example_inputs(module: torch.nn.Module, shapes: list[tuple[tuple[int, ...], str]], batch: int) -> tuple:
    """Random inputs of these shapes (ids below every Embedding's vocabulary)."""
    generator = torch.Generator().manual_seed(0)
    vocab = min((m.num_embeddings for m in module.modules() if isinstance(m, torch.nn.Embedding)), default=2)
    return tuple(torch.randint(0, vocab, (batch, *shape), generator=generator) if dtype == "int64"
                 else torch.randn((batch, *shape), generator=generator) for shape, dtype in shapes)


def export(built: Built, shapes: list[tuple[tuple[int, ...], str]]):
    """The module exported in eval mode with a dynamic batch (a fixed one when its code needs it)."""
    import warnings

    module = built.module.eval()
    problems = []
    for batch, dynamic in ((BATCH, True), (FIXED_BATCH, False)):
        inputs = example_inputs(module, shapes, batch)
        dims = tuple({0: torch.export.Dim("batch", min=1, max=1 << 20)} for _ in inputs) if dynamic else None
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                return torch.export.export(module, inputs, dynamic_shapes=dims)
        except Exception as e:  # noqa: BLE001 - torch.export raises many kinds, about the user's code
            problems.append(e)
    error = problems[-1]
    raise TorchImportError(f"torch.export cannot trace it: {code_line(error, built.filename)}"
                           f"{type(error).__name__}: {first_line(error)[:300]}") from None
