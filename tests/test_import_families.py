"""The families of models people download, written by hand in tests/families.py and exported by PyTorch's own
exporters: opsets 11 and 17 with a dynamic batch, opset 17 with a fixed one (made here), and the dynamo
exporter (its files, seconds each to make, are stored in tests/data/dynamo by tools/make_test_models.py).
Each is imported, matched against onnxruntime and against the model, exported again, and fine-tuned a step."""
import numpy as np
import onnxruntime
import pytest
import torch

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.exchange.onnx_export import export_onnx
from netbuilder.core.exchange.onnx_import import import_onnx
from tests.exporting import DYNAMO_FILES, export_family, family_model
from tests.families import FAMILIES, example_inputs

VARIANTS = ["opset11", "opset17", "opset17-fixed-batch", "dynamo"]
_IMPORTED: dict = {}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tmp_path_factory.mktemp("families")


def imported(name: str, variant: str, files):
    """(the file, its import): each family and variant is exported and imported once for all tests here."""
    if (name, variant) not in _IMPORTED:
        path = DYNAMO_FILES / f"{name}.onnx" if variant == "dynamo" else files / f"{name}-{variant}.onnx"
        if variant != "dynamo":
            export_family(name, variant, path)
        _IMPORTED[name, variant] = path, import_onnx(path)
    return _IMPORTED[name, variant]


def expected(name: str, variant: str, path, inputs) -> list[np.ndarray]:
    """What the model computes: the torch module for a fresh export, onnxruntime for a stored file."""
    if variant == "dynamo":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})
    with torch.no_grad():
        return [family_model(name)(*inputs).numpy()]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_family_imports_matches_exports_again_and_fine_tunes(name, variant, files, tmp_path):
    path, result = imported(name, variant, files)
    assert result.max_abs_diff < 1e-4  # the import's own check against onnxruntime, at the file's batch size
    compiled = compile_graph(result.graph).eval()
    compiled.load_state_dict(result.state)
    inputs = example_inputs(name, 4, seed=1)  # another batch size than the file's
    with torch.no_grad():
        np.testing.assert_allclose(compiled(*inputs).numpy(), expected(name, variant, path, inputs)[0], rtol=1e-4,
                                   atol=1e-5)

    assert export_onnx(result.graph, tmp_path / "again.onnx", model=compiled).max_abs_diff < 1e-4

    compiled.train()
    before = {k: v.clone() for k, v in compiled.state_dict().items()}
    loss = compiled(*inputs).pow(2).mean()
    loss.backward()
    torch.optim.SGD(compiled.parameters(), lr=0.1).step()
    assert torch.isfinite(loss)
    assert [k for k, v in compiled.state_dict().items() if not torch.equal(v, before[k])], "one step changes weights"


def types(graph) -> list[str]:
    return [n.type for n in graph.nodes]


def test_what_the_families_become(files):
    dense = imported("dense-block", "opset17", files)[1].graph
    assert [n.params["inputs"] for n in dense.nodes if n.type == "Concat"] == [2, 3, 4]
    shuffle = imported("channel-split-shuffle", "dynamo", files)[1].graph
    assert {"Chunk", "ChannelShuffle", "Concat"} <= set(types(shuffle))
    mobile = imported("squeeze-excite-hardswish", "opset11", files)[1].graph
    assert types(mobile).count("HardSwish") == 2 and {"HardSigmoid", "Multiply"} <= set(types(mobile))
    fcn = imported("fcn-bilinear", "opset17", files)[1].graph
    (resize,) = [n for n in fcn.nodes if n.type == "Resize"]
    assert (resize.params["mode"], resize.params["by"], resize.params["size"]) == ("bilinear", "size", [8, 8])


@pytest.mark.parametrize("name, wanted", [
    ("convnext-block", {"LayerNorm", "GELU", "LayerScale", "Permute"}),
    ("vit", {"ClassToken", "PositionalEncoding", "MatMul", "Softmax", "LayerNorm", "GELU", "Select"}),
    ("multihead-attention", {"MatMul", "Softmax", "Linear"}),
    ("gru-encoder-decoder", {"GRU"}),
    ("embedding-lstm", {"Embedding", "LSTM"}),
])
@pytest.mark.parametrize("variant", ["opset11", "dynamo"])
def test_imports_keep_every_weight_and_no_more(name, wanted, variant, files):
    graph = imported(name, variant, files)[1].graph
    assert wanted <= set(types(graph))
    compiled = compile_graph(graph)
    assert sum(p.numel() for p in compiled.parameters()) == sum(p.numel() for p in family_model(name).parameters())


def test_an_encoder_s_state_starts_the_decoder(files):
    graph = imported("gru-encoder-decoder", "opset17", files)[1].graph
    encoder, decoder = [n for n in graph.nodes if n.type == "GRU"]
    assert decoder.params["initial_state"] and not encoder.params["initial_state"]
    (state,) = [e for e in graph.input_edges(decoder.id) if e.dst_port == "hidden"]
    assert (state.src, state.src_port) == (encoder.id, "hidden")
    text = imported("embedding-lstm", "opset17", files)[1].graph
    (lstm,) = [n for n in text.nodes if n.type == "LSTM"]
    assert lstm.params["output"] == "last", "y[:, -1] became the LSTM's own last step"
