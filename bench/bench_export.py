"""ONNX export (with its verification) and import of ResNet-18, against one forward pass of the model.

    python bench/bench_export.py

Times, in one process: the compiled resnet18.json's forward pass on one 3x224x224 image (median of 10);
export_onnx (compile, export, onnx.checker, onnxruntime parity; median of 3); import_onnx of the file
written (build the graph, fold shape arithmetic, check against onnxruntime; median of 3). Prints each
and its ratio to the forward pass.
"""
import tempfile
from pathlib import Path

from _common import EXAMPLES, median_seconds, steady_allocator

steady_allocator()

import torch  # noqa: E402

from netbuilder.core.build.compile import compile_graph  # noqa: E402
from netbuilder.core.exchange.onnx_export import export_onnx  # noqa: E402
from netbuilder.core.exchange.onnx_import import import_onnx  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402


def main() -> None:
    graph = Graph.load(EXAMPLES / "resnet18.json")
    model = compile_graph(graph).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        model(x)
        forward = median_seconds(lambda: model(x), 10)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet18.onnx"
        export_onnx(graph, path)  # warm-up: the exporter's first call sets up much
        import_onnx(path)
        reports = []
        export = median_seconds(lambda: reports.append(export_onnx(graph, path)), 3)
        imported = []
        importing = median_seconds(lambda: imported.append(import_onnx(path)), 3)
        size = path.stat().st_size
    print(f"resnet18.json: {len(graph)} blocks, ONNX file {size / 2**20:.1f} MB, "
          f"export verified to {reports[-1].max_abs_diff:.1e}, import to {imported[-1].max_abs_diff:.1e}")
    print(f"  forward pass 1x3x224x224 (median of 10):       {forward * 1e3:8.1f} ms")
    print(f"  export + checker + onnxruntime (median of 3):  {export * 1e3:8.1f} ms   = {export / forward:6.1f} forward passes")
    print(f"  import + onnxruntime parity (median of 3):     {importing * 1e3:8.1f} ms   = {importing / forward:6.1f} forward passes")


if __name__ == "__main__":
    main()
