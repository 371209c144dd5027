"""Every shipped example loads, infers cleanly, compiles and runs; totals match the published ones."""
import pytest
import torch

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.exchange.onnx_export import sample_inputs
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES

# Parameter totals of the same architectures in torchvision (224x224 inputs, 1000 classes) and the literature.
KNOWN_TOTALS = {
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "googlenet": 6_624_904,
    "lenet5": 61_706,
    "mnist_convnet": 105_506,  # conv1 832 + conv2 51,264 + fc1 51,400 + fc2 2,010
    "mlp_regression": 41,  # 3*4+4 + 4*4+4 + 4+1
}
REQUIRED = ["mnist_convnet", "lenet5", "mlp_xor", "mlp_regression", "alexnet", "vgg16", "resnet18", "googlenet",
            "autoencoder", "lstm_classifier", "denoising_autoencoder", "vae", "gan_ring", "gan_mnist", "siamese_mnist",
            "fcn_shapes", "transfer_learning"]
ALL = sorted(path.stem for path in EXAMPLES.glob("*.json"))


def test_all_required_examples_are_shipped():
    assert set(REQUIRED) <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_example_infers_compiles_and_runs(name):
    graph = Graph.load(EXAMPLES / f"{name}.json")
    report = infer_shapes(graph)
    assert report.ok, report.errors
    assert graph.meta.get("title") and graph.meta.get("description")
    if name in KNOWN_TOTALS:
        assert report.total_params == KNOWN_TOTALS[name]
    training = compile_graph(graph, report, mode="train")  # every block that training uses
    assert sum(p.numel() for p in training.parameters()) == report.total_params, "shared weights count once"
    model = compile_graph(graph, report).eval()
    (out,) = [n for n in graph.nodes if n.type == "Output"]
    with torch.no_grad():
        y = model(*sample_inputs(graph, model, batch=2))
    assert tuple(y.shape) == (2, *report.nodes[out.id].output)
    assert torch.isfinite(y).all()


def test_googlenet_concatenates_four_branches():
    graph = Graph.load(EXAMPLES / "googlenet.json")
    concats = [n for n in graph.nodes if n.type == "Concat"]
    assert len(concats) == 9 and all(len(graph.input_edges(n.id)) == 4 for n in concats)
    assert infer_shapes(graph).nodes[graph.find("inception3a").id].output == (256, 28, 28)


def test_resnet18_has_residual_adds_and_downsampling_shortcuts():
    graph = Graph.load(EXAMPLES / "resnet18.json")
    adds = [n for n in graph.nodes if n.type == "Add"]
    assert len(adds) == 8
    shortcuts = [graph.node(e.src).name for n in adds for e in graph.input_edges(n.id)]
    assert sum(name.endswith("downsample_bn") for name in shortcuts) == 3
    assert sum(name.endswith("relu2") or name == "maxpool" for name in shortcuts) == 5  # identity shortcuts
