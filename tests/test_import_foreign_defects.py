"""The import defects issue 23 found on foreign ONNX files, each shown by the smallest file that had it (built here
with onnx.helper), and export's check made relative like the import's."""
import logging
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from netbuilder.cli.main import main
from netbuilder.core.base.files import shipped
from netbuilder.core.build.weights import save_state
from netbuilder.core.exchange.agreement import compare
from netbuilder.core.exchange.onnx_export import ExportError, export_onnx
from netbuilder.core.exchange.onnx_import import OnnxImportError, import_onnx
from netbuilder.core.model.graph import Graph
from tests.test_import_defects import imported_outputs, run_ort

RNG = np.random.default_rng(3)


def model_file(tmp_path, nodes, inputs, outputs, initializers=(), opset=17, name="m.onnx"):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(initializers)),
                              opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, tmp_path / name)
    return tmp_path / name


def value(name, shape, kind=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, kind, shape)


def tensor(name, array, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def refusal(path) -> str:
    with pytest.raises(OnnxImportError) as caught:
        import_onnx(path)
    return str(caught.value)


def agrees(path, *arrays):
    imported = import_onnx(path)
    got = imported_outputs(imported, *arrays)
    expected = run_ort(path, *arrays)[0]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)
    return imported


def test_flatten_with_axis_minus_rank_is_refused_by_name_not_a_crash(tmp_path):
    path = model_file(tmp_path, [helper.make_node("Flatten", ["x"], ["y"], axis=-4)], [value("x", ["n", 2, 3, 4])],
                      [value("y", [None, None])])
    message = refusal(path)  # it flattens the batch into the features: axis -4 of 4 axes is axis 0
    assert "Flatten (first at y): flattens the whole batch into one row (axis 0)" in message
    assert "ValueError" not in message
    ok = model_file(tmp_path, [helper.make_node("Flatten", ["x"], ["y"], axis=-3)], [value("x", ["n", 2, 3, 4])],
                    [value("y", ["n", 24])], name="ok.onnx")
    assert [n.type for n in agrees(ok, RNG.normal(size=(2, 2, 3, 4)).astype(np.float32)).graph.nodes] == \
        ["Input", "Flatten", "Output"]


def test_gelu_in_the_dynamo_exporter_s_opset_18_order(tmp_path):
    """Div(x, sqrt 2) -> Erf -> Add 1 -> Mul(0.5, that) -> Mul(x, that)."""
    nodes = [helper.make_node("Div", ["x", "root2"], ["a"]), helper.make_node("Erf", ["a"], ["b"]),
             helper.make_node("Add", ["b", "one"], ["c"]), helper.make_node("Mul", ["half", "c"], ["d"]),
             helper.make_node("Mul", ["x", "d"], ["y"])]
    path = model_file(tmp_path, nodes, [value("x", ["n", 5])], [value("y", ["n", 5])],
                      [tensor("root2", 2 ** 0.5), tensor("one", 1.0), tensor("half", 0.5)], opset=18)
    imported = agrees(path, RNG.normal(size=(3, 5)).astype(np.float32))
    assert [n.type for n in imported.graph.nodes] == ["Input", "GELU", "Output"]


def written_out_norm(prefix: str, x: str, out: str, scale: str, shift: str) -> list:
    """A layer norm as exporters write it before opset 17 (over the last axis)."""
    n = lambda op, ins, o, **a: helper.make_node(op, ins, [f"{prefix}{o}"], **a)  # noqa: E731
    return [n("ReduceMean", [x], "m", axes=[-1]), n("Sub", [x, f"{prefix}m"], "d"),
            n("Pow", [f"{prefix}d", "two"], "p"), n("ReduceMean", [f"{prefix}p"], "v", axes=[-1]),
            n("Add", [f"{prefix}v", "eps"], "ve"), n("Sqrt", [f"{prefix}ve"], "s"),
            n("Div", [f"{prefix}d", f"{prefix}s"], "q"), n("Mul", [f"{prefix}q", scale], "w"),
            helper.make_node("Add", [f"{prefix}w", shift], [out])]


def test_layer_norms_whose_weights_the_exporter_deduplicated_are_layer_norms(tmp_path):
    """Two norms starting at ones and zeros: the legacy exporter keeps one initializer of each and passes it to
    each norm through an Identity node. 2 norms of 8 features: 32 parameters, not 32 + a LayerScale and a Bias."""
    nodes = [helper.make_node("Identity", ["ones"], ["w1"]), helper.make_node("Identity", ["zeros"], ["b1"]),
             helper.make_node("Identity", ["ones"], ["w2"]), helper.make_node("Identity", ["zeros"], ["b2"])]
    nodes += written_out_norm("a_", "x", "h", "w1", "b1") + [helper.make_node("Relu", ["h"], ["r"])]
    nodes += written_out_norm("b_", "r", "y", "w2", "b2")
    path = model_file(tmp_path, nodes, [value("x", ["n", 4, 8])], [value("y", ["n", 4, 8])],
                      [tensor("ones", np.ones(8)), tensor("zeros", np.zeros(8)), tensor("two", 2.0),
                       tensor("eps", 1e-5)], opset=13)
    imported = agrees(path, RNG.normal(size=(2, 4, 8)).astype(np.float32))
    assert [n.type for n in imported.graph.nodes] == ["Input", "LayerNorm", "ReLU", "LayerNorm", "Output"]
    assert sum(t.numel() for t in imported.state.values()) == 32


def test_shared_matmul_weights_with_a_bias_stay_shared(tmp_path):
    w, b = RNG.normal(size=(4, 5)), RNG.normal(size=5)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["p"]), helper.make_node("Add", ["p", "b"], ["p2"]),
             helper.make_node("Identity", ["w"], ["w_again"]),  # deduplicated: the same initializer, renamed
             helper.make_node("MatMul", ["c", "w_again"], ["q"]), helper.make_node("Add", ["q", "b"], ["q2"]),
             helper.make_node("Sub", ["p2", "q2"], ["y"])]
    path = model_file(tmp_path, nodes, [value("a", ["n", 4]), value("c", ["n", 4])], [value("y", ["n", 5])],
                      [tensor("w", w), tensor("b", b)])
    arrays = [RNG.normal(size=(3, 4)).astype(np.float32) for _ in range(2)]
    imported = agrees(path, *arrays)
    linears = [n for n in imported.graph.nodes if n.type == "Linear"]
    assert linears[1].shares == linears[0].id and linears[0].params == {"out_features": 5, "bias": True}
    assert sum(t.numel() for t in imported.state.values()) == 25  # one matrix and one bias, as in the file


def test_weights_shared_in_part_are_refused_by_name(tmp_path):
    w = RNG.normal(size=(4, 5))
    nodes = [helper.make_node("MatMul", ["a", "w"], ["p"]), helper.make_node("Add", ["p", "b1"], ["p2"]),
             helper.make_node("MatMul", ["c", "w"], ["q"]), helper.make_node("Add", ["q", "b2"], ["q2"]),
             helper.make_node("Sub", ["p2", "q2"], ["y"])]
    path = model_file(tmp_path, nodes, [value("a", ["n", 4]), value("c", ["n", 4])], [value("y", ["n", 5])],
                      [tensor("w", w), tensor("b1", np.ones(5)), tensor("b2", np.zeros(5))])
    assert "a block shares all of another block's weights or none" in refusal(path)


def test_a_legacy_17_transformer_encoder_keeps_its_shared_weights_shared(tmp_path):
    torch.manual_seed(0)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True), 2,
                                    enable_nested_tensor=False).eval()  # its two layers start alike
    path = tmp_path / "encoder.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            torch.onnx.export(encoder, (torch.randn(2, 5, 16),), str(path), input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "b"}}, opset_version=17, dynamo=False)
        finally:
            logging.disable(logging.NOTSET)
    model = onnx.load(str(path))
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    aliases = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    products = [n for n in model.graph.node if n.op_type in ("MatMul", "Gemm")]
    matrices = {aliases.get(n.input[1], n.input[1]) for n in products} & initializers.keys()  # weights, not
    shared = [name for name in matrices  # attention's products of computed tensors
              if sum(aliases.get(n.input[1], n.input[1]) == name for n in products) > 1]
    assert shared  # the exporter gave both layers one initializer (they start alike)
    imported = import_onnx(path)
    graph = imported.graph
    assert len([n for n in graph.nodes if n.shares]) >= len(shared)
    linear = sum(t.numel() for k, t in imported.state.items() if k.endswith(".weight") and t.dim() == 2
                 and graph.find(k.split(".")[0]).type == "Linear")
    assert linear == sum(initializers[name].size for name in matrices)  # one tensor per matrix of the file


@pytest.mark.parametrize("axes, keep, shape", [([1], 0, ["n", 8]), ([2], 1, ["n", 6, 1]), ([-1, 1], 0, ["n"])])
def test_reduce_mean_over_other_axes_is_a_mean_block(tmp_path, axes, keep, shape):
    path = model_file(tmp_path, [helper.make_node("ReduceMean", ["x"], ["y"], axes=axes, keepdims=keep)],
                      [value("x", ["n", 6, 8])], [value("y", shape)], opset=13)
    imported = agrees(path, RNG.normal(size=(2, 6, 8)).astype(np.float32))
    assert [n.type for n in imported.graph.nodes] == ["Input", "Mean", "Output"]


def test_mean_pooling_of_a_sequence_at_opset_18(tmp_path):
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)]
    path = model_file(tmp_path, nodes, [value("x", ["n", 6, 8])], [value("y", ["n", 8])],
                      [tensor("axes", [1], np.int64)], opset=18)
    assert agrees(path, RNG.normal(size=(2, 6, 8)).astype(np.float32)).graph.nodes[1].params == \
        {"dims": [1], "keepdim": False}


def test_messages_say_what_is_refused_in_words(tmp_path):
    power = model_file(tmp_path, [helper.make_node("Pow", ["x", "e"], ["y"])], [value("x", ["n", 3])],
                       [value("y", ["n", 3])], [tensor("e", [3.0])], name="pow.onnx")
    message = refusal(power)
    assert "raises to the power 3" in message and "optional" not in message
    expand = model_file(tmp_path, [helper.make_node("Expand", ["x", "s"], ["y"])], [value("x", ["n", 3])],
                        [value("y", ["n", 3, 3])], [tensor("s", [2, 3, 3], np.int64)], name="expand.onnx")
    message = refusal(expand)
    assert "expands a batchx3 tensor to 2x3x3" in message
    assert "ValueError" not in message and "please report" not in message
    reshape = model_file(tmp_path, [helper.make_node("Reshape", ["x", "s"], ["y"])], [value("x", ["n", 2, 3, 2])],
                         [value("y", [2, None, 2])], [tensor("s", [2, -1, 2], np.int64)], name="reshape.onnx")
    assert "reshapes batchx2x3x2 to 2x3*batchx2, which cuts across the batch" in refusal(reshape)


def test_conv_transpose_output_shape_larger_than_its_default_is_honoured(tmp_path):
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], output_shape=[12, 12],
                            kernel_shape=[3, 3])  # by default (5 - 1) * 2 + 3 = 11
    path = model_file(tmp_path, [node], [value("x", ["n", 2, 5, 5])], [value("y", ["n", 3, 12, 12])],
                      [tensor("w", RNG.normal(size=(2, 3, 3, 3))), tensor("b", RNG.normal(size=3))])
    imported = agrees(path, RNG.normal(size=(2, 2, 5, 5)).astype(np.float32))
    assert imported.graph.nodes[1].params["output_padding"] in (1, [1, 1])


def test_export_s_check_is_relative_to_the_outputs_like_the_import_s(tmp_path):
    """Outputs in the millions (a ResNet-152 with random weights gives thousands): float32 alone differs by more
    than 1e-4 there; the rule allows 1e-4 of the largest output."""
    graph = Graph()
    x = graph.add_node("Input", {"shape": [64], "normalize": "none"}, name="x")
    fc1 = graph.add_node("Linear", {"out_features": 64}, name="fc1")
    relu = graph.add_node("ReLU", name="relu")
    fc2 = graph.add_node("Linear", {"out_features": 8}, name="fc2")
    out = graph.add_node("Output", name="y")
    for a, b in [(x, fc1), (fc1, relu), (relu, fc2), (fc2, out)]:
        graph.connect(a.id, b.id)
    torch.manual_seed(0)
    state = {"fc1.weight": torch.randn(64, 64) * 300, "fc1.bias": torch.randn(64) * 300,
             "fc2.weight": torch.randn(8, 64) * 300, "fc2.bias": torch.randn(8)}
    save_state(state, tmp_path / "big.pt")
    report = export_onnx(graph, tmp_path / "big.onnx", weights=tmp_path / "big.pt")
    assert report.max_abs_diff > 1e-4  # what the old absolute rule refused
    assert not compare(np.full(3, 1e6), np.full(3, 1e6 + 500)).ok and compare(np.full(3, 1e6), np.full(3, 1e6 + 50)).ok
    with pytest.raises(ExportError, match=r"disagrees with torch by .* \(more than 1e-4 x max\(1, largest \|output\|\)"):
        raise ExportError("onnxruntime disagrees with torch by " + compare([2.0], [1.0]).excess())


def test_the_transfer_learning_example_exports_as_it_stands(tmp_path, capsys):
    example = shipped("examples") / "transfer_learning.json"
    assert main(["export", str(example), "-o", str(tmp_path / "transfer.onnx")]) == 0
    line = capsys.readouterr().out
    assert "onnxruntime matches torch" in line and "head1, head2 start with fresh weights (not in " \
        "transfer_learning.pt)" in line
    partly = {"conv1.weight": torch.zeros(32, 1, 5, 5)}  # a block held in part still refuses
    save_state(partly, tmp_path / "part.pt")
    from netbuilder.core.build.weights import WeightsError

    with pytest.raises(WeightsError, match="conv1.bias is missing"):
        export_onnx(Graph.load(example), tmp_path / "x.onnx", weights=tmp_path / "part.pt")
