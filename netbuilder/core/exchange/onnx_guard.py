"""What an ONNX file must be before netbuilder reads it: checks that come before the importer, so that a
file it cannot handle is refused with a reason instead of failing inside onnx, onnxruntime or the allocator.

Each check returns the problem in words (without the file's name), or None.
"""
from __future__ import annotations

import os
from functools import lru_cache

from ..base.errors import first_line
from ..base.files import check_regular
from ..base.system import available_bytes, format_bytes

ONNX_DOMAINS = ("", "ai.onnx")


def file_problem(path: str | os.PathLike) -> str | None:
    """A file that is not a regular one, or that is bigger than the memory left to read it into."""
    try:
        check_regular(path)
        size = os.path.getsize(path)
    except FileNotFoundError:
        return None  # onnx.load says so, and the importer words it
    except OSError as e:
        return e.strerror or first_line(e)
    available = available_bytes()
    if available is not None and 2 * size > available:
        return (f"the file is {format_bytes(size)}; reading it needs about twice that and this machine has "
                f"{format_bytes(available)} of memory available")
    return None


def opset_problem(model) -> str | None:
    """An opset of the standard operators newer than onnx or onnxruntime here know."""
    import onnx

    for opset in model.opset_import:
        if opset.domain not in ONNX_DOMAINS:
            continue
        newest = min(onnx.defs.onnx_opset_version(), _newest_runtime_opset())
        if not 1 <= opset.version <= newest:
            return f"it declares ONNX opset {opset.version}; netbuilder can check opsets 1 to {newest}"
    return None


@lru_cache(maxsize=1)
def _newest_runtime_opset() -> int:
    """The newest opset onnxruntime loads: tried on a one-node model, from onnx's newest down."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [value],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    for version in range(onnx.defs.onnx_opset_version(), 6, -1):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", version)], ir_version=8)
        try:
            session(model.SerializeToString())
        except Exception:  # noqa: BLE001 - onnxruntime's errors derive from Exception alone
            continue
        return version
    return 7


def session(model):
    """An onnxruntime session on the CPU for a file or a serialized model, its warnings kept off the terminal
    (onnxruntime writes them straight to stderr: "[W:onnxruntime:, graph.cc MergeShapeInfo] ..."); its errors are
    still raised."""
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def runtime_errors() -> tuple[type[BaseException], ...]:
    """The exceptions onnxruntime raises for a model it cannot load or run."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return tuple(value for value in vars(state).values()
                 if isinstance(value, type) and issubclass(value, Exception))
