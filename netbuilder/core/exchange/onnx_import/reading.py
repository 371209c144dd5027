"""Reading an ONNX file: checked, with its opset, its inputs and its batch size; its weights read apart from its
structure (wire.py), once, and shared by the import and by onnxruntime's check of it (parity.py)."""
from __future__ import annotations

import mmap
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...base.errors import first_line
from . import wire
from .refusals import OnnxImportError

BATCH = 1_000_000_007  # a dynamic batch size, as it flows through constant shape arithmetic
DTYPES = {1: "float32", 7: "int64", 6: "int64"}


@dataclass
class InputSpec:
    name: str
    shape: list[int]  # without the batch
    dtype: str


@dataclass
class ModelFile:
    path: Path
    model: object  # onnx.ModelProto
    opset: int  # of the default domain
    inputs: list[InputSpec]
    batch: int  # the file's fixed batch size, or BATCH when it is dynamic
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # initializers read apart (wire.py)

    @property
    def fixed_batch(self) -> int | None:
        return None if self.batch == BATCH else self.batch

    def initializer(self, tensor) -> np.ndarray:
        """An initializer's values: read apart, or from the model (small ones, weights kept in files beside it)."""
        array = self.weights.get(tensor.name)
        if array is not None:
            return array
        from onnx import numpy_helper

        return numpy_helper.to_array(tensor, base_dir=str(self.path.parent))

    def session(self):
        """An onnxruntime session on the file's model, given the weights as they were read (no second reading,
        no copy: onnxruntime computes with the arrays themselves). Its graph optimizations are off: it runs
        once, on the graph as the file has it."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.add_session_config_entry("session.disable_prepacking", "1")
        providers = ["CPUExecutionProvider"]
        if not self.weights:
            return onnxruntime.InferenceSession(str(self.path), options, providers=providers)
        names = list(self.weights)
        options.add_external_initializers(names, [onnxruntime.OrtValue.ortvalue_from_numpy(self.weights[name])
                                                  for name in names])
        return onnxruntime.InferenceSession(self.model.SerializeToString(), options, providers=providers)


def read_model(path: str | Path) -> ModelFile:
    """Load and check the file; OnnxImportError for a missing, corrupt or unsuitable one."""
    import onnx

    from .. import onnx_guard

    path = Path(path)
    if problem := onnx_guard.file_problem(path):  # a FIFO, a file bigger than memory
        raise OnnxImportError(f"{path}: {problem}")
    try:
        model, weights = _load(path)
        onnx.checker.check_model(wire.for_checking(model) if weights else model)
    except FileNotFoundError:
        raise OnnxImportError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - protobuf decode errors, checker errors, ...
        raise OnnxImportError(f"{path} is not a valid ONNX model ({first_line(e)[:200]})") from None
    if problem := onnx_guard.opset_problem(model):  # an opset onnxruntime cannot run
        raise OnnxImportError(f"{path.name}: {problem}")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise OnnxImportError(f"{path.name}: the model uses no standard ONNX operator set")
    initializers = {i.name for i in model.graph.initializer}
    inputs, batches = [], set()
    for value in model.graph.input:
        if value.name in initializers:  # files before IR version 4 list their weights as inputs too
            continue
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if len(dims) < 2 or any(d is None or d < 1 for d in dims[1:]):
            raise OnnxImportError(f"{path.name}: input {value.name} has shape {dims}: netbuilder needs a batch "
                                  "dimension first and fixed sizes after it")
        dtype = DTYPES.get(tensor.elem_type)
        if dtype is None:
            raise OnnxImportError(f"{path.name}: input {value.name}: element type {tensor.elem_type} is not "
                                  "supported (float32 or int64)")
        inputs.append(InputSpec(value.name, dims[1:], dtype))
        batches.add(dims[0])
    if not inputs:
        raise OnnxImportError(f"{path.name}: the model has no input")
    batch = batches.pop() if len(batches) == 1 and None not in batches else BATCH
    return ModelFile(path, model, opset, inputs, batch, weights)


def _load(path: Path):
    """The model and its initializers read apart (wire.py); where the file is not as wire.py reads it (weights kept
    in files beside it, a damaged file, a big-endian machine), onnx.load reads it all (and says what is wrong)."""
    import onnx

    if sys.byteorder == "little" and path.stat().st_size:
        with open(path, "rb", buffering=0) as f:
            try:
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:  # its structure: a few pages
                    skeleton, found = wire.split(mapped)
                model = onnx.ModelProto.FromString(skeleton)
                weights = wire.read_weights(f, found, model.graph.initializer)
            except Exception:  # noqa: BLE001 - not a message wire.py reads: onnx.load decides and words it
                model = None
        if model is not None:
            return model, weights
    return onnx.load(str(path)), {}
