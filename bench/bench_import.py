"""ONNX import of the light model-zoo files in the onnx wheel, against one forward pass of the imported model.

    python bench/bench_import.py [NAME ...]

Each file's zero weights are replaced by random ones (as in tests/test_import_zoo.py). Times, in one
process: import_onnx (read and check the file, fold, build the graph, compile it with the weights and check it
against onnxruntime at the file's batch size of 1; median of 3) and the imported graph's forward pass on one
3x224x224 image (median of 5). Prints each and their ratio: what an import costs in forward passes of the model
(the import itself runs two: the imported model's and onnxruntime's, in its check). Target (issue 22): VGG-19 and
AlexNet at most 20 each. The last lines are the largest model's (VGG-19, 144 M parameters) and AlexNet's.
"""
import sys
import tempfile
from pathlib import Path

from _common import median_seconds, steady_allocator

steady_allocator()

import torch  # noqa: E402

from netbuilder.core.build.compile import compile_graph  # noqa: E402
from netbuilder.core.exchange.onnx_import import import_onnx  # noqa: E402
from tests.test_import_zoo import LARGE, SMALL, with_random_weights  # noqa: E402


def main() -> None:
    names = sys.argv[1:] or SMALL + LARGE
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = with_random_weights(name, Path(tmp) / f"{name}.onnx")
            imported = []
            importing = median_seconds(lambda: imported.append(import_onnx(path)), 3)
            result = imported[-1]
            model = compile_graph(result.graph).eval()
            model.load_state_dict(result.state)
            x = torch.randn(1, 3, 224, 224)
            with torch.no_grad():
                model(x)
                forward = median_seconds(lambda: model(x), 5)
            params = sum(t.numel() for k, t in result.state.items() if "running" not in k and "num_batches" not in k)
            rows.append((name, params, len(result.graph), importing, forward, result.max_abs_diff))
            path.unlink()
    print(f"{'model':22s} {'parameters':>11s} {'blocks':>6s} {'import':>9s} {'forward':>9s} {'passes':>7s}  parity")
    for name, params, blocks, importing, forward, diff in sorted(rows, key=lambda r: r[1]):
        print(f"{name:22s} {params / 1e6:10.1f}M {blocks:6d} {importing * 1e3:7.0f}ms {forward * 1e3:7.1f}ms "
              f"{importing / forward:7.1f}  {diff:.1e}")
    name, params, _, importing, forward, _ = max(rows, key=lambda r: r[1])
    print(f"largest: {name} ({params / 1e6:.0f} M parameters) imports in {importing / forward:.1f} forward passes")
    for name, params, _, importing, forward, _ in rows:
        if name == "light_bvlc_alexnet":
            print(f"AlexNet ({params / 1e6:.0f} M parameters) imports in {importing / forward:.1f} forward passes")


if __name__ == "__main__":
    main()
