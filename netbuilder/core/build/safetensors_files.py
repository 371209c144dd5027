"""Weights in safetensors files (.safetensors): a JSON header naming each tensor's dtype, shape and byte range, then
the raw bytes. Nothing in the file is executed or unpickled, and names and shapes are read without reading a
tensor (a partial load picks what fits the graph from the header alone).

The header is checked here before anything else is read: a length the file cannot hold, a header that is not JSON,
an unknown dtype, a byte range past the end or of the wrong size for its shape each gets one WeightsError naming the
file and the problem. The tensors asked for are then read at their offsets straight into tensors (little-endian, as
the format is): the safetensors library's reader maps the whole file into memory, which fails for a file larger
than the machine's memory even when only a few of its tensors are wanted. The library writes the files, and reads
them on a big-endian machine.

    header = read_header(path)               # {name: TensorEntry(dtype, shape, start, end)}, checked
    state = read_file(path, names=None)      # the tensors (all, or the named ones)
    save_file(state, path)                   # atomically; tensors that share memory are written apart
"""
from __future__ import annotations

import errno
import json
import math
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..base.errors import first_line
from ..base.files import atomic_write

SUFFIX = ".safetensors"
MAX_HEADER = 100 * 2**20  # the safetensors format's own limit on the header
# dtype names of the format -> (torch's name, bytes per element); a dtype not here is refused by name
DTYPES = {
    "F64": ("float64", 8), "F32": ("float32", 4), "F16": ("float16", 2), "BF16": ("bfloat16", 2),
    "I64": ("int64", 8), "I32": ("int32", 4), "I16": ("int16", 2), "I8": ("int8", 1),
    "U64": ("uint64", 8), "U32": ("uint32", 4), "U16": ("uint16", 2), "U8": ("uint8", 1), "BOOL": ("bool", 1),
    "F8_E4M3": ("float8_e4m3fn", 1), "F8_E5M2": ("float8_e5m2", 1), "C64": ("complex64", 8),
}


class SafetensorsError(ValueError):
    """A file that is not a readable safetensors file; weights.py turns it into a WeightsError."""


@dataclass(frozen=True)
class TensorEntry:
    dtype: str  # the format's name: F32, I64, ...
    shape: tuple[int, ...]
    start: int  # byte range in the data section
    end: int
    base: int = 0  # where the data section starts in the file

    @property
    def nbytes(self) -> int:
        return self.end - self.start


def is_safetensors(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() == SUFFIX


def read_header(path: str | os.PathLike) -> dict[str, TensorEntry]:
    """The file's tensors by name, from its header alone; SafetensorsError says what is wrong with it."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise SafetensorsError(f"{size} bytes: too short for a safetensors file")
            (length,) = struct.unpack("<Q", head)
            if length < 2 or length > min(MAX_HEADER, size - 8):
                raise SafetensorsError(f"its header length ({length:,} bytes) is impossible in a file of "
                                       f"{size:,} bytes (truncated, or not a safetensors file)")
            raw = f.read(length)
    except OSError as e:
        raise SafetensorsError(e.strerror or first_line(e)) from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise SafetensorsError(f"its header is not JSON ({first_line(e)})") from None
    if not isinstance(header, dict):
        raise SafetensorsError("its header is not a JSON object of tensors")
    data = size - 8 - length
    entries = {}
    for name, value in header.items():
        if name == "__metadata__":
            if not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
                raise SafetensorsError("its __metadata__ is not a map of texts")
            continue
        entries[name] = _entry(name, value, data, 8 + length)
    return entries


def _entry(name: str, value: object, data: int, base: int) -> TensorEntry:
    shown = repr(name[:60])
    if not isinstance(value, dict) or not {"dtype", "shape", "data_offsets"} <= set(value):
        raise SafetensorsError(f"tensor {shown} lacks its dtype, shape or data_offsets")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES or getattr(torch, DTYPES[dtype][0], None) is None:
        raise SafetensorsError(f"tensor {shown} has dtype {str(dtype)[:20]!r}, which netbuilder cannot read")
    if not (isinstance(shape, list) and all(type(d) is int and 0 <= d < 2**63 for d in shape)):
        raise SafetensorsError(f"tensor {shown} has shape {str(shape)[:40]}, not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        raise SafetensorsError(f"tensor {shown} has data_offsets {str(offsets)[:40]}, not [start, end]")
    start, end = offsets
    if not 0 <= start <= end <= data:
        raise SafetensorsError(f"tensor {shown} lies at bytes {start:,}..{end:,}, past the end of the file's "
                               f"{data:,} bytes of data (truncated?)")
    expected = math.prod(shape) * DTYPES[dtype][1]
    if end - start != expected:
        raise SafetensorsError(f"tensor {shown} ({dtype}, {'x'.join(map(str, shape)) or 'scalar'}) needs "
                               f"{expected:,} bytes; the file gives it {end - start:,}")
    return TensorEntry(dtype, tuple(shape), start, end, base)


def read_file(path: str | os.PathLike, names: list[str] | None = None,
              header: dict[str, TensorEntry] | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (all, or those named), on the CPU; the header is checked first."""
    header = read_header(path) if header is None else header
    wanted = list(header) if names is None else [n for n in names if n in header]
    if sys.byteorder != "little":
        return _read_with_library(path, wanted)
    tensors = {}
    try:
        with open(path, "rb") as f:
            for name in wanted:
                entry = header[name]
                tensor = torch.empty(entry.shape, dtype=getattr(torch, DTYPES[entry.dtype][0]))
                f.seek(entry.base + entry.start)
                if entry.nbytes and f.readinto(tensor.reshape(-1).view(torch.uint8).numpy()) != entry.nbytes:
                    raise SafetensorsError(f"tensor {name[:60]!r} is cut short (the file changed while read?)")
                tensors[name] = tensor
    except OSError as e:
        raise SafetensorsError(e.strerror or first_line(e)) from None
    return tensors


def _read_with_library(path: str | os.PathLike, names: list[str]) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {name: f.get_tensor(name) for name in names}
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as e:  # noqa: BLE001 - SafetensorError, or a Rust panic (a BaseException) on a bad file
        raise SafetensorsError(f"safetensors cannot read it ({first_line(e)})") from None


def save_file(state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write tensors (on the CPU) to a safetensors file, atomically. Tensors that share memory (tied weights) are
    each written out: a safetensors file holds no aliases."""
    from safetensors.torch import save_file as write_file

    tensors, seen = {}, set()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu()
        key = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes()) if tensor.numel() else None
        if key is not None and key in seen or not tensor.is_contiguous():
            tensor = tensor.contiguous().clone()
        if key is not None:
            seen.add(key)
        tensors[name] = tensor

    def write(tmp: str) -> None:
        try:
            write_file(tensors, tmp, metadata={"format": "pt"})
        except OSError:
            raise
        except Exception as e:  # noqa: BLE001 - safetensors reports a full disk as its own error
            raise OSError(errno.EIO, f"cannot write safetensors ({first_line(e)})", str(path)) from None

    atomic_write(path, write)
