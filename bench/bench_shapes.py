"""How fast shapes are re-inferred after one edit, against one forward pass of the same model.

    python bench/bench_shapes.py

Edits `out_channels` of a convolution in the middle of ResNet-18 to 20 different values (each a
new value, as when typing) and re-infers every shape after each; reports the median beside the
median forward pass of the compiled model on one 3x224x224 image. Target: well under 100 ms an edit.
"""
from _common import EXAMPLES, median_seconds, steady_allocator

steady_allocator()

import torch  # noqa: E402

from netbuilder.core.build.compile import compile_graph  # noqa: E402
from netbuilder.core.checks.shapes import clear_cache, infer_shapes  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402


def main() -> None:
    graph = Graph.load(EXAMPLES / "resnet18.json")
    conv = graph.find("layer3_0_conv1").id
    model = compile_graph(graph).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        model(x)  # warm up
        forward = median_seconds(lambda: model(x), 20)

    clear_cache()
    cold = median_seconds(lambda: infer_shapes(graph), 1)
    edit = median_seconds(lambda: infer_shapes(graph), 20,
                          setup=lambda i: graph.set_param(conv, "out_channels", 200 + i))
    print(f"resnet18.json: {len(graph)} blocks")
    print(f"  forward pass, 1x3x224x224 (median of 20):   {forward * 1e3:8.2f} ms")
    print(f"  shape inference, first time (cold cache):   {cold * 1e3:8.2f} ms")
    print(f"  shape inference after one edit (median 20): {edit * 1e3:8.2f} ms")
    print(f"ratio edit / forward: {edit / forward:.3f}")


if __name__ == "__main__":
    main()
