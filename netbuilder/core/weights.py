"""Trained weights on disk: torch.save(state_dict), read back with weights_only=True (never unpickled)."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch

from .errors import NetbuilderError, first_line, summarize
from .files import atomic_write, check_regular
from .layers.spec import format_shape


class WeightsError(NetbuilderError):
    """Weights that cannot be read or do not fit the graph; the message says which tensor and why."""


def graph_weights(graph, graph_path: str | os.PathLike | None) -> Path | None:
    """The weights file a graph names in its meta (an imported model's), beside the graph file."""
    name = graph.meta.get("weights")
    return Path(graph_path).parent / name if name and graph_path else None


def save_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write the model's state_dict (on the CPU) atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save(state, path)


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """torch.save, atomically. torch reports a failed write (a full disk) as `RuntimeError: [enforce fail at
    inline_container.cc...]`; it is written through a file of ours, so the disk's own error is raised instead."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            try:
                torch.save(obj, f)
            except RuntimeError as e:
                if isinstance(e.__context__, OSError):
                    cause = e.__context__
                    raise OSError(cause.errno, cause.strerror or str(cause), str(path)) from None
                raise

    try:
        atomic_write(path, write)
    except OSError as e:
        if e.filename is None or str(e.filename) != str(path):
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise


MAX_UNPACK_RATIO = 100  # torch.save stores tensors uncompressed; a file that inflates more is not its


def _check_archive(path: str | os.PathLike) -> None:
    """Refuse a zip whose entries declare far more than they hold (a deflate bomb) before torch.load inflates
    them: the sizes are read from the zip's directory, nothing is decompressed."""
    from .memory import available_bytes, format_bytes

    if not zipfile.is_zipfile(path):
        return  # torch.load says what it is not
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise WeightsError(f"{path}: not a weights file netbuilder can read safely ({first_line(e)})") from None
    declared = sum(e.file_size for e in entries)
    packed = sum(e.compress_size for e in entries)
    if declared > 2**24 and declared > MAX_UNPACK_RATIO * max(packed, 1):
        raise WeightsError(f"{path}: declares {format_bytes(declared)} packed into {format_bytes(packed)} "
                           "(a zip bomb?); not read")
    available = available_bytes()
    if available is not None and declared > available:
        raise WeightsError(f"{path}: holds {format_bytes(declared)} of tensors; this machine has "
                           f"{format_bytes(available)} of memory available")


def read_tensors(path: str | os.PathLike) -> dict:
    """Load a file saved with torch.save, allowing only tensors and plain containers."""
    try:
        check_regular(path)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except OSError as e:
        raise WeightsError(f"{path}: {e.strerror or first_line(e)}") from None
    _check_archive(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - corrupt zip, pickle refused by weights_only, ...
        raise WeightsError(f"{path}: not a weights file netbuilder can read safely ({first_line(e)})") from None


def check_state(state: object, source: str) -> dict[str, torch.Tensor]:
    """A state_dict of plain tensors: names -> dense tensors of real numbers in memory. Meta tensors (no
    data), sparse, quantized or complex ones are named and refused, rather than failing inside torch."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise WeightsError(f"{source}: expected a state_dict (names -> tensors)")
    bad = [f"{k} ({_kind(v)})" for k, v in state.items() if _kind(v)]
    if bad:
        raise WeightsError(f"{source}: not plain tensors: {summarize(bad)}")
    return state


def _kind(tensor: torch.Tensor) -> str | None:
    """What is wrong with a tensor as a weight, or None."""
    if tensor.is_meta:
        return "a meta tensor, without data"
    if tensor.layout != torch.strided:
        return f"{str(tensor.layout).removeprefix('torch.')} layout"
    if tensor.is_quantized or tensor.is_complex() or tensor.device.type != "cpu":
        return f"{str(tensor.dtype).removeprefix('torch.')} on {tensor.device.type}"
    return None


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load a state_dict into the model; every missing, unexpected or mis-shaped tensor is named."""
    state = check_state(read_tensors(path), str(path))
    apply_state(model, state, str(path))


def apply_state(model: torch.nn.Module, state: dict, source: str) -> None:
    own = model.state_dict()
    problems = [f"{k} is missing" for k in own if k not in state]
    problems += [f"{k} is not in the graph" for k in state if k not in own]
    problems += [f"{k} has shape {format_shape(tuple(state[k].shape))}, the graph needs {format_shape(tuple(v.shape))}"
                 for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise WeightsError(f"{source}: the weights do not fit the graph: {'; '.join(problems[:3])}{more}")
    model.load_state_dict(state)


def check_finite(model: torch.nn.Module, source: str) -> None:
    """WeightsError naming the tensors that hold NaN or infinite values (a run that diverged): such weights
    are not worth exporting, and every output computed with them would be NaN."""
    bad = [name for name, tensor in model.state_dict().items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise WeightsError(f"{source}: {summarize(bad)} hold{'s' if len(bad) == 1 else ''} NaN or infinite values "
                           "(a run that diverged?); train again, or export without these weights")


def fits(model: torch.nn.Module, state: dict) -> bool:
    """Whether a state_dict holds exactly the model's tensors, each of the model's shape."""
    own = model.state_dict()
    return own.keys() == state.keys() and all(tuple(state[k].shape) == tuple(v.shape) for k, v in own.items())


def fit_state(graph, state: dict | None) -> torch.nn.Module | None:
    """The graph compiled with `state` loaded (trained weights, say), when the state fits the graph as it is
    now; None when it does not (the graph was edited since) or the graph does not compile."""
    from .compile import CompileError, compile_graph

    if not state:
        return None
    try:
        model = compile_graph(graph)
    except CompileError:
        return None
    if not fits(model, state):
        return None
    model.load_state_dict({k: v.detach().cpu() for k, v in state.items()})
    return model
