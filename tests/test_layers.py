"""One harness for every registered layer (as Keras' run_layer_test): a layer is tested by being registered.

Each layer is put between an Input of its example shape and an Output, then must infer a shape,
compile, run on a real batch, and agree with its own inference on output shape and parameter count.
"""
import pytest
import torch

from netbuilder.core.compile import compile_graph
from netbuilder.core.layers import LAYERS, get_layer
from netbuilder.core.shapes import infer_shapes, single_layer_graph

TESTED = [name for name in LAYERS if name not in ("Input", "Output")]


def example_batch(spec, batch=3):
    shape = (batch, *spec.example)
    return torch.randint(0, 10, shape) if spec.int_input else torch.randn(shape)


@pytest.mark.parametrize("type_name", TESTED)
def test_layer_infers_compiles_and_runs(type_name):
    spec = get_layer(type_name)
    g, layer_id = single_layer_graph(type_name)
    report = infer_shapes(g)
    assert report.ok, report.errors
    info = report.nodes[layer_id]
    model = compile_graph(g, report)
    assert isinstance(model, torch.fx.GraphModule)
    y = model(example_batch(spec))
    assert tuple(y.shape) == (3, *info.output)
    assert str(y.dtype) == f"torch.{info.dtype}"
    assert sum(p.numel() for p in model.parameters()) == info.params
    if spec.build is not None:
        assert hasattr(model, g.node(layer_id).name), "the module is registered under the block's name"


@pytest.mark.parametrize("type_name", [t for t in TESTED if get_layer(t).ranks])
def test_layer_refuses_an_input_of_the_wrong_rank_in_words(type_name):
    spec = get_layer(type_name)
    g, layer_id = single_layer_graph(type_name)
    wrong = [7] * (max(spec.ranks) + 1)
    g.set_param(g.find("x").id, "shape", wrong)
    error = infer_shapes(g).nodes[layer_id].error
    assert error == (f"{g.node(layer_id).label}: expects a {spec.rank_words} input, "
                     f"receives {'x'.join(map(str, wrong))}")


def test_sizes_that_follow_from_the_input_are_inferred_never_typed():
    for type_name in ("Conv1d", "Conv2d", "ConvTranspose2d", "Linear", "BatchNorm1d", "BatchNorm2d", "LSTM", "GRU",
                      "RNN"):
        names = {p.name for p in get_layer(type_name).params}
        assert not names & {"in_channels", "in_features", "num_features", "input_size"}, type_name
    g, layer_id = single_layer_graph("Conv2d", out_channels=5)
    g.set_param(g.find("x").id, "shape", [7, 9, 9])
    model = compile_graph(g)
    assert model.conv1.in_channels == 7 and model.conv1.out_channels == 5


def test_every_category_is_shown_and_every_layer_has_one():
    from netbuilder.core.layers import CATEGORIES

    used = {spec.category for spec in LAYERS.values()}
    assert used == set(CATEGORIES)
