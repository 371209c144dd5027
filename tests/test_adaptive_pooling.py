"""Train what PyTorch trains (issue 22): adaptive pooling of any output size passes the shape checks, trains and
exports; a limit of the ONNX exporter never refuses training. AlexNet and VGG16 on small images (their 6x6 and 7x7
adaptive average of a 1x1 feature map) train an epoch from the command line, and their PyTorch code computes what
torch computes. The ONNX export writes an exact equivalent (the layer harness, tests/test_layers.py, runs every
case of both adaptive poolings through it and back through the import)."""
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from netbuilder.cli import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.exchange.onnx_equivalents import ExactAdaptivePool, windows
from netbuilder.core.exchange.onnx_export import export_onnx
from netbuilder.core.exchange.onnx_import import import_onnx
from netbuilder.core.model.graph import Graph, single_layer_graph
from tests.conftest import EXAMPLES


def image_folder(root, classes=3, per_class=3, size=8):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i}.png")
    return root


@pytest.mark.parametrize("name, size, pooled", [("alexnet", 64, (1, 1)), ("vgg16", 32, (1, 1))])
def test_a_classic_network_trains_an_epoch_on_small_images_and_its_code_matches_torch(name, size, pooled, tmp_path):
    graph = Graph.load(EXAMPLES / f"{name}.json")
    graph.set_param(next(n for n in graph.nodes if n.type == "Input").id, "shape", [3, size, size])
    head = [n for n in graph.nodes if n.type == "Linear"][-1]
    graph.set_param(head.id, "out_features", 3)  # three classes of pictures
    report = infer_shapes(graph)
    assert report.ok, report.errors
    pool = next(n for n in graph.nodes if n.type == "AdaptiveAvgPool2d")
    assert report.nodes[pool.id].inputs[0][1:] == pooled  # a 1x1 feature map, averaged to 6x6 or 7x7
    path = tmp_path / f"{name}.json"
    graph.save(path)
    out = tmp_path / "run"
    code = main(["train", str(path), "--data", f"images:{image_folder(tmp_path / 'pictures')}", "--epochs", "1",
                 "--batch-size", "3", "--optimizer", "sgd", "--lr", "0.001", "--val-fraction", "0",
                 "--test-fraction", "0.34", "--statistics", "0", "--compile", "off", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["samples"]["train"] == 6
    # the PyTorch code computes what the compiled graph computes (to 1e-6; export checks it before writing)
    assert main(["export", str(path), "-o", str(tmp_path / "model.py")]) == 0
    assert "nn.AdaptiveAvgPool2d" in (tmp_path / "model.py").read_text()


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("size, out", [((1, 1), (6, 6)), ((1, 1), (7, 7)), ((3, 3), (6, 6)), ((5, 7), (3, 2)),
                                       ((6, 2), (3, 4)), ((2, 2), (7, 7)), ((13, 13), (6, 6))])
def test_the_onnx_equivalent_of_adaptive_pooling_is_exact(kind, size, out):
    module = (torch.nn.AdaptiveAvgPool2d if kind == "avg" else torch.nn.AdaptiveMaxPool2d)(out)
    x = torch.randn(2, 3, *size)
    torch.testing.assert_close(ExactAdaptivePool(kind, size, out)(x), module(x), rtol=1e-6, atol=1e-6)
    assert windows(5, 3) == [(0, 2), (1, 4), (3, 5)]  # PyTorch's windows: of different sizes, overlapping


def test_vgg_head_on_a_2x2_map_exports_to_onnx_and_imports_back(tmp_path):
    """VGG16's 7x7 average of a 2x2 feature map (a 64x64 image): windows of different sizes, written with MatMul."""
    graph, _ = single_layer_graph("AdaptiveAvgPool2d", {"output_size": [7, 7]}, (16, 2, 2))
    report = export_onnx(graph, tmp_path / "head.onnx")  # checked against torch in onnxruntime
    assert report.max_abs_diff < 1e-5
    assert "MatMul" in {node.op_type for node in onnx.load(str(tmp_path / "head.onnx")).graph.node}
    assert import_onnx(tmp_path / "head.onnx").max_abs_diff < 1e-5
    model = compile_graph(graph)
    assert isinstance(model.get_submodule("avgpool1"), torch.nn.AdaptiveAvgPool2d), "the model is as it was"


def test_a_global_max_pool_imports_as_adaptive_max_pooling(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 1, 1])
    model = helper.make_model(helper.make_graph([helper.make_node("GlobalMaxPool", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "gmp.onnx"))
    imported = import_onnx(tmp_path / "gmp.onnx")  # checked against onnxruntime
    pool = next(n for n in imported.graph.nodes if n.type == "AdaptiveMaxPool2d")
    assert pool.params["output_size"] == 1
