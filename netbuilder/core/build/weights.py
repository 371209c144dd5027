"""Trained weights on disk, in either of two formats, chosen by the file's suffix:
- `.pt`: torch.save(state_dict), read back with weights_only=True (never unpickled), behind a check of the zip's
  declared sizes (a deflate bomb) and of the memory it needs;
- `.safetensors`: a JSON header and raw bytes (safetensors_files.py): nothing executed, names and shapes read
  without reading a tensor, the header checked before anything is read.
Checkpoints (a run's optimizer state and more) stay torch.save files.

A trained model's file holds its weights and, where training normalized an input, that normalization
(`normalize_<input>_mean` and `normalize_<input>_std`), so that exports take raw inputs.
"""
from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..base.errors import NetbuilderError, first_line, summarize
from ..base.files import atomic_write, check_regular
from ..layers.spec import format_shape
from . import safetensors_files
from .safetensors_files import SafetensorsError, is_safetensors

_NORMALIZATION = re.compile(r"normalize_(?P<input>\w+)_(?P<which>mean|std)")


class WeightsError(NetbuilderError):
    """Weights that cannot be read or do not fit the graph; the message says which tensor and why."""


def graph_weights(graph, graph_path: str | os.PathLike | None) -> Path | None:
    """The weights file a graph names in its meta (an imported model's), beside the graph file."""
    name = graph.meta.get("weights")
    return Path(graph_path).parent / name if name and graph_path else None


WEIGHTS_SUFFIXES = (".pt", ".safetensors")  # what a weights file may be called (the file chooser offers both)


def save_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write the model's state_dict (on the CPU) atomically: safetensors for a .safetensors name, else torch.save."""
    save_state(model.state_dict(), path)


def save_state(state: dict, path: str | os.PathLike) -> None:
    state = {k: v.detach().cpu() for k, v in state.items()}
    if is_safetensors(path):
        safetensors_files.save_file(state, path)
    else:
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
    from ..base.system import format_bytes

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
    _check_memory(path, declared)


def _check_file(path: str | os.PathLike) -> None:
    try:
        check_regular(path)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except OSError as e:
        raise WeightsError(f"{path}: {e.strerror or first_line(e)}") from None


def _check_memory(path: str | os.PathLike, needed: int) -> None:
    from ..base.system import available_bytes, format_bytes

    available = available_bytes()
    if available is not None and needed > available:
        raise WeightsError(f"{path}: holds {format_bytes(needed)} of tensors; this machine has "
                           f"{format_bytes(available)} of memory available")


def safetensors_header(path: str | os.PathLike) -> dict[str, safetensors_files.TensorEntry]:
    """A .safetensors file's tensors (dtype, shape, bytes) from its header alone, checked; WeightsError if not."""
    _check_file(path)
    try:
        return safetensors_files.read_header(path)
    except SafetensorsError as e:
        raise WeightsError(f"{path}: not a safetensors file netbuilder can read: {e}") from None


def _read_safetensors(path: str | os.PathLike, names: list[str] | None = None) -> dict:
    header = safetensors_header(path)
    _check_memory(path, sum(header[n].nbytes for n in (header if names is None else names) if n in header))
    try:
        return safetensors_files.read_file(path, names, header)
    except SafetensorsError as e:
        raise WeightsError(f"{path}: not a safetensors file netbuilder can read: {e}") from None


def read_tensors(path: str | os.PathLike) -> dict:
    """Load a weights file: a .safetensors file (its header checked first), or a file saved with torch.save,
    allowing only tensors and plain containers."""
    if is_safetensors(path):
        return _read_safetensors(path)
    _check_file(path)
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


def read_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict file (names -> plain tensors)."""
    return check_state(read_tensors(path), str(path))


def split_normalization(state: dict) -> tuple[dict, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """(the weights, {Input block name: (mean, std)}) of a trained state."""
    weights, parts = {}, {}
    for key, value in state.items():
        match = _NORMALIZATION.fullmatch(key)
        if match:
            parts.setdefault(match["input"], {})[match["which"]] = value
        else:
            weights[key] = value
    stats = {name: (p["mean"], p["std"]) for name, p in parts.items() if "mean" in p and "std" in p}
    return weights, stats


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load a state_dict into the model; every missing, unexpected or mis-shaped tensor is named."""
    apply_state(model, read_state(path), str(path))


def _problems(own: dict, state: dict) -> list[str]:
    problems = [f"{k} is missing" for k in own if k not in state]
    problems += [f"{k} is not in the graph" for k in state if k not in own]
    problems += [f"{k} has shape {format_shape(tuple(state[k].shape))}, the graph needs {format_shape(tuple(v.shape))}"
                 for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    return problems


def apply_state(model: torch.nn.Module, state: dict, source: str) -> None:
    """Load a state exactly (the input normalization a trained file holds is for exports, and is skipped when
    the model does not normalize); WeightsError names what does not fit."""
    own = model.state_dict()
    if not any(_NORMALIZATION.fullmatch(k) for k in own):
        state, _ = split_normalization(state)
    problems = _problems(own, state)
    if problems:
        raise WeightsError(f"{source}: the weights do not fit the graph: {summarize(problems)}")
    check_state(state, source)
    model.load_state_dict(state)


def check_finite(model: torch.nn.Module, source: str) -> None:
    """WeightsError naming the tensors that hold NaN or infinite values (a run that diverged): such weights
    are not worth exporting, and every output computed with them would be NaN."""
    bad = [name for name, tensor in model.state_dict().items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise WeightsError(f"{source}: {summarize(bad)} hold{'s' if len(bad) == 1 else ''} NaN or infinite values "
                           "(a run that diverged?); train again, or export without these weights")


@dataclass
class PartialLoad:
    """What loading weights into a changed graph did: the tensors it loaded and those it skipped, why."""

    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "fc2.weight: 10x200 in the file, 5x200 in the graph"

    def summary(self) -> str:
        return (f"{self.source}: loaded {len(self.loaded)} of the graph's tensors; started fresh: "
                f"{summarize(self.skipped, 4, 'more')}")


def read_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """The tensors' names and shapes in a weights file: from a .safetensors file's header alone (no tensor read);
    a .pt file is read whole."""
    if is_safetensors(path):
        return {name: entry.shape for name, entry in safetensors_header(path).items()}
    return {name: tuple(tensor.shape) for name, tensor in read_state(path).items()}


def load_partial(model: torch.nn.Module, path: str | os.PathLike) -> PartialLoad:
    """Load every tensor of a weights file that fits the model (by name and shape); the others start fresh
    and are named. Transfer learning: a trained body under a new head. WeightsError when nothing fits. From a
    .safetensors file, only the tensors that fit are read (chosen from its header)."""
    own = model.state_dict()
    if is_safetensors(path):
        shapes, state = read_shapes(path), None
    else:
        state = read_state(path)
        shapes = {name: tuple(tensor.shape) for name, tensor in state.items()}
    shapes, _ = split_normalization(shapes)
    result = PartialLoad(str(path))
    fitting = []
    for key, value in own.items():
        if key not in shapes:
            result.skipped.append(f"{key}: not in the file")
        elif shapes[key] != tuple(value.shape):
            result.skipped.append(f"{key}: {format_shape(shapes[key])} in the file, "
                                  f"{format_shape(tuple(value.shape))} in the graph")
        else:
            fitting.append(key)
    if own and not fitting:
        raise WeightsError(f"{path}: none of its tensors fit the graph (it holds {summarize(list(shapes), 3)})")
    fitting = {k: state[k] for k in fitting} if state is not None else _read_safetensors(path, fitting)
    check_state(fitting, str(path))
    model.load_state_dict(fitting, strict=False)
    result.loaded = list(fitting)
    return result


def load_for_inference(model: torch.nn.Module, state: dict, source: str) -> None:
    """Load the tensors an inference model needs from a trained state, which may hold more (the weights of
    blocks that only training uses); WeightsError names what is missing or mis-shaped."""
    own = model.state_dict()
    problems = [p for p in _problems(own, state) if not p.endswith("is not in the graph")]
    if problems:
        raise WeightsError(f"{source}: the weights do not fit the graph: {summarize(problems)}")
    subset = {k: state[k] for k in own}
    check_state(subset, source)
    model.load_state_dict(subset)


def fits(model: torch.nn.Module, state: dict) -> bool:
    """Whether a state holds every tensor of the model, each of the model's shape (it may hold more: the
    discriminator of a GAN whose generator is exported, say)."""
    own = model.state_dict()
    return all(k in state and tuple(state[k].shape) == tuple(v.shape) for k, v in own.items())


def fit_state(graph, state: dict | None) -> torch.nn.Module | None:
    """The graph compiled for inference with `state` loaded (trained weights and input normalization), when
    the state fits the graph as it is now; None when it does not (the graph was edited since) or the graph
    does not compile."""
    from .compile import compile_graph

    if not state:
        return None
    weights, normalization = split_normalization(state)
    try:
        model = compile_graph(graph, normalization=normalization)
    except NetbuilderError:
        return None
    full = {**weights, **{k: v for k, v in state.items() if k not in weights}}
    if not fits(model, full):
        return None
    model.load_state_dict({k: full[k].detach().cpu() for k in model.state_dict()})
    return model


def compiled_with(graph, state: dict, source: str) -> torch.nn.Module:
    """The graph compiled for inference holding `state` (which must fit it exactly: WeightsError names what does
    not), without first filling weights that `state` replaces at once: the blocks are made on the meta device and
    given the state's tensors themselves (an imported model's hundreds of megabytes are not initialized at random
    and then overwritten). A block whose module keeps tensors of its own outside its state (non-persistent
    buffers) is built as usual instead."""
    from .compile import compile_graph

    try:
        with torch.device("meta"):
            model = compile_graph(graph)
    except (NotImplementedError, RuntimeError):  # an initialization the meta device cannot run
        model = None
    if model is None or any(module._non_persistent_buffers_set for module in model.modules()):
        model = compile_graph(graph)
        apply_state(model, state, source)
        return model
    weights = split_normalization(state)[0]
    problems = _problems(model.state_dict(), weights)
    if problems:
        raise WeightsError(f"{source}: the weights do not fit the graph: {summarize(problems)}")
    check_state(weights, source)
    model.load_state_dict(weights, assign=True)
    return model
