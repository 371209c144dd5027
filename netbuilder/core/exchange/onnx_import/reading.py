"""Reading an ONNX file: checked, with its opset, its inputs and its batch size."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...base.errors import first_line
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

    @property
    def fixed_batch(self) -> int | None:
        return None if self.batch == BATCH else self.batch


def read_model(path: str | Path) -> ModelFile:
    """Load and check the file; OnnxImportError for a missing, corrupt or unsuitable one."""
    import onnx

    from .. import onnx_guard

    path = Path(path)
    if problem := onnx_guard.file_problem(path):  # a FIFO, a file bigger than memory
        raise OnnxImportError(f"{path}: {problem}")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
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
    return ModelFile(path, model, opset, inputs, batch)
