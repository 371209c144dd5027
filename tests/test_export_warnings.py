"""ONNX export silences only the warnings it names (torch's TorchScript exporter's notes about every export of
ours); any other warning raised while exporting reaches the user."""
import warnings

import pytest
import torch

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.exchange.onnx_export import export_onnx
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES


@pytest.mark.parametrize("name", ["mlp_xor", "lstm_classifier"])
def test_an_export_raises_no_warning_of_its_own(tmp_path, name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_onnx(Graph.load(EXAMPLES / f"{name}.json"), tmp_path / "m.onnx")
    assert [str(w.message)[:80] for w in caught] == []


def test_a_warning_the_export_does_not_name_reaches_the_user(tmp_path):
    graph = Graph.load(EXAMPLES / "mlp_xor.json")
    model = compile_graph(graph).eval()
    module = next(m for name, m in model.named_children() if name)  # a block of the graph

    def speak(*_):
        if torch.onnx.is_in_onnx_export():  # while exporting only (the export also runs the model to verify it)
            warnings.warn("a block with something to say", UserWarning, stacklevel=1)

    module.register_forward_hook(speak)
    with pytest.warns(UserWarning, match="a block with something to say"):
        export_onnx(graph, tmp_path / "m.onnx", model=model)
    assert (tmp_path / "m.onnx").is_file()
