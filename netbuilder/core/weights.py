"""Trained weights on disk: torch.save(state_dict), read back with weights_only=True (never unpickled)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import NetbuilderError, first_line, summarize
from .files import atomic_write
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
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def read_tensors(path: str | os.PathLike) -> dict:
    """Load a file saved with torch.save, allowing only tensors and plain containers."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - corrupt zip, pickle refused by weights_only, ...
        raise WeightsError(f"{path}: not a weights file netbuilder can read safely ({first_line(e)})") from None


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load a state_dict into the model; every missing, unexpected or mis-shaped tensor is named."""
    state = read_tensors(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: expected a state_dict (names -> tensors)")
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
