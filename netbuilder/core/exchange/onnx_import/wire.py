"""An ONNX file's weights read apart from its structure, at the speed of reading the file.

A model file is a protobuf message; nearly all its bytes are the raw data of its initializers (ModelProto field 7,
the graph; GraphProto field 5, an initializer; TensorProto field 9, its raw data). `split` walks the message's wire
format without decoding it and returns the model without those bytes (a few kilobytes: onnx parses it at once) and
where each initializer's data lies in the file. `read_weights` reads each straight into an array of its own (aligned,
writable): the one copy of the weights the import makes; torch and onnxruntime are both given these arrays.

In the model returned, each initializer read apart is marked as external data (`data_location` EXTERNAL), as ONNX
does for weights kept beside a model: onnxruntime is given the arrays themselves (add_external_initializers).
"""
from __future__ import annotations

import mmap

import numpy as np

from .refusals import OnnxImportError

MODEL_GRAPH, GRAPH_INITIALIZER = 7, 5  # ModelProto.graph, GraphProto.initializer
TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_NAME, TENSOR_RAW_DATA = 1, 2, 8, 9
TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 13, 14
SMALLEST = 1024  # bytes: smaller initializers stay in the model, as they are
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}  # TensorProto.DataType
MEMORY = "netbuilder-memory"  # the location external weights are marked with: onnxruntime is given the arrays


class WireError(OnnxImportError):
    """The bytes are not the protobuf message they should be (onnx.load then says what is wrong); reading.py
    catches it (a user's file: it derives from NetbuilderError all the same)."""


def _varint(buf, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise WireError("a truncated number")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7


def _encode(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _fields(buf, start: int, end: int):
    """(field number, wire type, where the field starts, where its value starts, where it ends) of each field."""
    i = start
    while i < end:
        key, j = _varint(buf, i)
        number, kind = key >> 3, key & 7
        if kind == 0:
            _, k = _varint(buf, j)
        elif kind == 1:
            k = j + 8
        elif kind == 5:
            k = j + 4
        elif kind == 2:
            length, j = _varint(buf, j)
            k = j + length
        else:
            raise WireError(f"wire type {kind}")
        if k > end:
            raise WireError("a field runs past its message")
        yield number, kind, i, j, k
        i = k


def _message(number: int, body: bytes) -> bytes:
    return _encode(number << 3 | 2) + _encode(len(body)) + body


def _external(offset: int, length: int) -> bytes:
    entries = b""
    for key, value in (("location", MEMORY), ("offset", str(offset)), ("length", str(length))):
        entries += _message(TENSOR_EXTERNAL_DATA, _message(1, key.encode()) + _message(2, value.encode()))
    return entries + _encode(TENSOR_DATA_LOCATION << 3) + _encode(1)


def _tensor(buf, start: int, end: int, found: dict) -> bytes:
    raw = name = dtype = None
    kept = bytearray()
    for number, kind, i, j, k in _fields(buf, start, end):
        if number == TENSOR_RAW_DATA and kind == 2:
            raw = (j, k - j)
            continue
        if number == TENSOR_NAME and kind == 2:
            name = bytes(buf[j:k]).decode("utf-8", "replace")
        elif number == TENSOR_DATA_TYPE and kind == 0:
            dtype = _varint(buf, j)[0]
        elif number in (TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION):
            raise WireError("weights already kept outside the file")
        kept += buf[i:k]
    if raw is None or raw[1] < SMALLEST or dtype not in DTYPES or not name or name in found:
        return bytes(buf[start:end])  # as it was
    found[name] = (raw[0], raw[1], DTYPES[dtype])
    return bytes(kept) + _external(*raw)


def split(buf) -> tuple[bytes, dict[str, tuple[int, int, type]]]:
    """The model without its initializers' raw data, and {initializer: (offset, bytes, numpy dtype)} of each."""
    found: dict[str, tuple[int, int, type]] = {}
    model = bytearray()
    for number, kind, i, j, k in _fields(buf, 0, len(buf)):
        if number != MODEL_GRAPH or kind != 2:
            model += buf[i:k]
            continue
        graph = bytearray()
        for g_number, g_kind, gi, gj, gk in _fields(buf, j, k):
            graph += _message(GRAPH_INITIALIZER, _tensor(buf, gj, gk, found)) \
                if g_number == GRAPH_INITIALIZER and g_kind == 2 else buf[gi:gk]
        model += _message(MODEL_GRAPH, bytes(graph))
    return bytes(model), found


def read_weights(file, found: dict, tensors) -> dict[str, np.ndarray]:
    """Each initializer read apart (`found`, from split) from the open `file` (unbuffered) straight into an array
    of its own, shaped as its TensorProto in `tensors` says. WireError when the data does not fill the shape."""
    arrays = {}
    for tensor in tensors:
        if tensor.name not in found:
            continue
        offset, length, dtype = found[tensor.name]
        shape = tuple(int(d) for d in tensor.dims)
        if length != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
            raise WireError(f"initializer {tensor.name} holds {length} bytes, not the size of its shape {shape}")
        array = _empty(shape, dtype, length)
        target = memoryview(array.reshape(-1).view(np.uint8))
        file.seek(offset)
        done = 0
        while done < length:
            count = file.readinto(target[done:])
            if not count:
                raise WireError("the file ends inside an initializer")
            done += count
        arrays[tensor.name] = array
    return arrays


HUGE_FROM = 16 << 20  # bytes: an array this large is given memory in huge pages where the system offers them


def _empty(shape: tuple[int, ...], dtype, length: int) -> np.ndarray:
    """An uninitialized array to read `length` bytes into. A large one gets memory of its own, mapped with
    MADV_HUGEPAGE where the system has it (Linux): filling fresh memory costs a page fault per page, and on a
    virtual machine those faults cost more than reading the file from the page cache (AlexNet's 244 MB: 0.55 s
    in 4 KB pages, 0.2 s in huge pages, measured on the 2-core VM). The array keeps its mapping alive."""
    madvise = getattr(mmap, "MADV_HUGEPAGE", None)
    if length < HUGE_FROM or madvise is None:
        return np.empty(shape, dtype=dtype)
    memory = mmap.mmap(-1, length)
    try:
        memory.madvise(madvise)
    except OSError:  # (a kernel without transparent huge pages: the mapping is as good as np.empty's)
        pass
    return np.frombuffer(memory, dtype=dtype).reshape(shape)


def for_checking(model):
    """A copy of the model the onnx checker can read: each initializer read apart holds one value of its type in
    place of its data (the checker checks the graph; read_weights checked each initializer's size)."""
    checked = type(model)()
    checked.CopyFrom(model)
    for tensor in checked.graph.initializer:
        if tensor.data_location == 1 and any(e.key == "location" and e.value == MEMORY for e in tensor.external_data):
            del tensor.external_data[:]
            tensor.data_location = 0
            tensor.dims[:] = [1] * len(tensor.dims)
            tensor.raw_data = bytes(np.dtype(DTYPES[tensor.data_type]).itemsize)
    return checked
