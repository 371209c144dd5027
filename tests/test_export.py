"""Export to ONNX and to PyTorch code, verified with the real onnx, onnxruntime and the generated code."""
import importlib.util

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import save_weights
from netbuilder.core.exchange.codegen import export_code, to_source
from netbuilder.core.exchange.onnx_export import ExportError, export_onnx, sample_inputs
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES

EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
SMALL = [name for name in EXAMPLE_NAMES if name not in ("alexnet", "vgg16")]


def run_onnx(path, inputs: dict) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def trained_weights(name, tmp_path):
    """Weights unlike the initial ones, as after training: every float tensor perturbed by about 10%."""
    model = compile_graph(Graph.load(EXAMPLES / f"{name}.json"))
    torch.manual_seed(5)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.mul_(1 + 0.1 * torch.randn_like(tensor))
    save_weights(model, tmp_path / "trained.pt")
    return model, tmp_path / "trained.pt"


@pytest.mark.parametrize("name", SMALL)
def test_every_example_exports_to_onnx_with_and_without_weights(name, tmp_path):
    graph = Graph.load(EXAMPLES / f"{name}.json")
    plain = export_onnx(graph, tmp_path / "plain.onnx")
    model, weights = trained_weights(name, tmp_path)
    trained = export_onnx(graph, tmp_path / "trained.onnx", weights=weights)
    for report in (plain, trained):
        assert report.max_abs_diff < 1e-4 and report.opset == 17 and report.bytes == report.path.stat().st_size
        onnx.checker.check_model(str(report.path))
    inputs = [n.target for n in model.graph.find_nodes(op="placeholder")]  # Inputs, then noise sources
    outputs = [n.name for n in graph.nodes if n.type == "Output"]
    loaded = onnx.load(str(tmp_path / "trained.onnx"))
    assert [i.name for i in loaded.graph.input] == inputs and [o.name for o in loaded.graph.output] == outputs
    assert loaded.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # the batch dimension is dynamic
    batch = sample_inputs(graph, model, batch=5, seed=9)
    with torch.no_grad():
        expected = model.eval()(*batch)
    got = run_onnx(tmp_path / "trained.onnx", {name: t.numpy() for name, t in zip(inputs, batch)})[0]
    assert np.abs(got - expected.numpy()).max() < 1e-4, "the trained weights are in the file"


@pytest.mark.parametrize("name", ["alexnet", "vgg16"])
def test_the_big_examples_export_too(name, tmp_path):
    report = export_onnx(Graph.load(EXAMPLES / f"{name}.json"), tmp_path / "big.onnx")
    assert report.max_abs_diff < 1e-4 and report.bytes > 200 * 2**20


def load_module(path, class_name="Net"):
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_exports_to_code_that_matches_the_compiled_graph(name, tmp_path):
    graph = Graph.load(EXAMPLES / f"{name}.json")
    model, weights = trained_weights(name, tmp_path)
    report = export_code(graph, tmp_path / "model.py", weights=weights)
    assert report.weights_path == tmp_path / "model.pt"
    source = (tmp_path / "model.py").read_text()
    assert "netbuilder" not in [line.split()[1] for line in source.splitlines() if line.startswith("import ")]
    assert all(line.startswith(("import torch", "from torch")) for line in source.splitlines()
               if line.startswith(("import", "from")))
    written = load_module(tmp_path / "model.py")().eval()
    written.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    batch = sample_inputs(graph, model, batch=2, seed=4)
    with torch.no_grad():
        assert torch.equal(written(*batch), model.eval()(*batch))
    export_code(graph, tmp_path / "fresh.py")
    assert not (tmp_path / "fresh.pt").exists(), "no weights file without trained weights"


def test_the_code_reads_like_hand_written_pytorch():
    source = to_source(Graph.load(EXAMPLES / "mnist_convnet.json"))
    assert "        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)\n" in source
    assert "        self.fc1 = nn.Linear(256, 200)\n" in source
    # every tensor is named after the block that computes it (not input1, input2, ...)
    assert "        conv1 = self.conv1(x)\n        pool1 = self.pool1(conv1)\n" in source
    assert source.rstrip().endswith("return fc2  # outputs: logits")
    resnet = to_source(Graph.load(EXAMPLES / "resnet18.json"))
    assert "        layer1_0_add = layer1_0_bn2 + maxpool\n" in resnet
    assert "nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False)" in resnet
    assert "        # group layer1.0: layer1_0_conv1, layer1_0_bn1," in resnet  # what plain PyTorch cannot say
    googlenet = to_source(Graph.load(EXAMPLES / "googlenet.json"))
    assert ("inception3a = torch.cat([inception3a_b1_relu, inception3a_b2b_relu, inception3a_b3b_relu, "
            "inception3a_b4_relu], dim=1)") in googlenet


def test_an_export_that_cannot_be_verified_writes_nothing(tmp_path):
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    (tmp_path / "old.onnx").write_bytes(b"previous export")
    with pytest.raises(ExportError, match="opset must be 7..21, got 99"):
        export_onnx(graph, tmp_path / "old.onnx", opset=99, overwrite=True)  # (replacing it is allowed)
    graph.disconnect(graph.find("fc1").id, "in")
    from netbuilder.core.build.compile import CompileError

    with pytest.raises(CompileError, match="fc1 \\(Linear\\): its input is not connected"):
        export_onnx(graph, tmp_path / "old.onnx", overwrite=True)
    assert (tmp_path / "old.onnx").read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.onnx"]


def test_cli_export_both_ways(tmp_path, capsys):
    assert main(["export", str(EXAMPLES / "lenet5.json"), "-o", str(tmp_path / "lenet.onnx")]) == 0
    line = capsys.readouterr().out
    assert "opset 17" in line and "onnx.checker passed" in line and "onnxruntime matches torch to" in line
    assert main(["export", str(EXAMPLES / "lenet5.json"), "-o", str(tmp_path / "lenet.py")]) == 0
    assert (tmp_path / "lenet.py").exists()
    assert main(["export", str(EXAMPLES / "lenet5.json"), "-o", str(tmp_path / "lenet.txt")]) == 1
    assert "write a .onnx (ONNX) or a .py (PyTorch code) file" in capsys.readouterr().err
