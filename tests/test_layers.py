"""One harness for every registered layer (as Keras' run_layer_test): a layer is tested by being registered.

Each layer declares its cases (params, input shape, expected output shape and weight count) beside its
definition. Every case is put between an Input and an Output and must infer the expected shape and count,
compile, run on a real batch, survive the JSON round trip, and export to ONNX and to PyTorch code, each
export verified against the compiled graph; the ONNX file must import back, matching onnxruntime.
"""
import json

import pytest
import torch

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.exchange.codegen import export_code
from netbuilder.core.exchange.onnx_export import export_onnx, sample_inputs
from netbuilder.core.exchange.onnx_import import import_onnx
from netbuilder.core.layers import LAYERS, get_layer
from netbuilder.core.model.graph import Graph, single_layer_graph

TESTED = [name for name in LAYERS if name not in ("Input", "Output")]
# PyTorch exports local_response_norm as a 3-D average pool inside an If, not as ONNX's LRN (which imports)
NO_ROUND_TRIP = {"LocalResponseNorm"}
CASES = [pytest.param(name, i, id=f"{name}-{i}") for name in TESTED for i in range(len(get_layer(name).cases))]


def test_every_layer_declares_cases():
    assert all(get_layer(name).cases for name in TESTED)


@pytest.mark.parametrize("type_name, index", CASES)
def test_layer_case(type_name, index, tmp_path):
    spec = get_layer(type_name)
    case = spec.cases[index]
    graph, layer_id = single_layer_graph(type_name, case.params, case.inputs or case.input, case.ports)
    node = graph.node(layer_id)
    expected = case.outputs or ({node.output_ports()[0]: case.output} if node.output_ports() else {"out": case.output})
    assert not node.output_ports() or list(expected) == node.output_ports(), "a case gives every output port's shape"

    report = infer_shapes(graph)
    assert report.ok, report.errors
    info = report.nodes[layer_id]
    assert info.output == case.output
    assert info.outputs == expected
    assert info.params == case.weights
    assert Graph.from_dict(json.loads(json.dumps(graph.to_dict()))) == graph

    if spec.role == "loss":  # a term of the objective: a finite number per batch, in training only
        model = compile_graph(graph, report, mode="train")
        feeds = [torch.randint(0, 2, (3, *shape)) if dtype == "int64" else torch.randn(3, *shape)
                 for shape, dtype in case.ports.values()]  # labels and flags of 0 and 1 suit every loss
        out = model(*feeds)
        value = out["losses"][graph.node(layer_id).name]
        assert value.shape == () and torch.isfinite(value)
        return
    model = compile_graph(graph, report)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == case.weights
    if spec.build is not None and spec.build(spec.torch_params(node.params), list(info.inputs)) is not None:
        assert hasattr(model, node.name), "the module is registered under the block's name"
    ys = model(*sample_inputs(graph, model, batch=3))
    ys = ys if isinstance(ys, tuple) else (ys,)
    assert [tuple(y.shape) for y in ys] == [(3, *shape) for shape in expected.values()]
    assert [str(y.dtype) for y in ys] == [f"torch.{info.dtypes[port]}" for port in expected]

    assert export_onnx(graph, tmp_path / "layer.onnx").max_abs_diff < 1e-4
    assert export_code(graph, tmp_path / "layer.py").max_abs_diff <= 1e-6
    if type_name not in NO_ROUND_TRIP:  # and back: the import matches onnxruntime on the exported file
        assert import_onnx(tmp_path / "layer.onnx").max_abs_diff < 1e-4


@pytest.mark.parametrize("type_name", [t for t in TESTED if get_layer(t).ranks])
def test_layer_refuses_an_input_of_the_wrong_rank_in_words(type_name):
    spec = get_layer(type_name)
    g, layer_id = single_layer_graph(type_name)
    wrong = [7] * (max(spec.ranks) + 1)
    for x in [n for n in g.nodes if n.type == "Input"]:
        g.set_param(x.id, "shape", wrong)
    info = infer_shapes(g).nodes[layer_id]
    assert info.error == f"expects a {spec.rank_words} input, receives {'x'.join(map(str, wrong))}"
    assert info.message == f"{g.node(layer_id).label}: {info.error}"


def test_sizes_that_follow_from_the_input_are_inferred_never_typed():
    for type_name in ("Conv1d", "Conv2d", "ConvTranspose2d", "Linear", "BatchNorm1d", "BatchNorm2d", "LSTM", "GRU",
                      "RNN", "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer"):
        names = {p.name for p in get_layer(type_name).params}
        assert not names & {"in_channels", "in_features", "num_features", "input_size", "embed_dim", "d_model"}, \
            type_name
    g, layer_id = single_layer_graph("Conv2d", {"out_channels": 5}, (7, 9, 9))
    model = compile_graph(g)
    assert model.conv1.in_channels == 7 and model.conv1.out_channels == 5


def test_every_category_is_shown_and_every_layer_has_one():
    from netbuilder.core.layers import CATEGORIES

    used = {spec.category for spec in LAYERS.values()}
    assert used == set(CATEGORIES)
