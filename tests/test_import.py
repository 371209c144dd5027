"""Import of ONNX models the tests export themselves from hand-written PyTorch, with output parity."""
import json
import logging
import warnings

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from netbuilder.cli import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import load_weights
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.exchange.onnx_export import export_onnx, sample_inputs
from netbuilder.core.exchange.onnx_import import OnnxImportError, import_onnx, import_onnx_file
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES


def torch_export(model: nn.Module, example: torch.Tensor, path, dynamo: bool = False):
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            if dynamo:
                torch.onnx.export(model, (example,), str(path), input_names=["x"], output_names=["y"],
                                  dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True,
                                  external_data=False, verbose=False)
            else:
                torch.onnx.export(model, (example,), str(path), input_names=["x"], output_names=["y"],
                                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
                                  dynamo=False)
        finally:
            logging.disable(logging.NOTSET)
    return path


def check_parity(model: nn.Module, example_shape, tmp_path, dynamo=False):
    """Export the hand-written model, import it, and compare the imported graph with torch and onnxruntime."""
    torch.manual_seed(0)
    path = torch_export(model, torch.randn(2, *example_shape), tmp_path / "model.onnx", dynamo)
    imported = import_onnx(path)
    assert imported.max_abs_diff < 1e-4
    compiled = compile_graph(imported.graph).eval()
    compiled.load_state_dict(imported.state)
    x = torch.randn(4, *example_shape)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
    return imported


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.down = nn.Conv2d(8, 16, 1, stride=2)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = torch.relu(self.a(x) + x)
        x = torch.relu(self.b(x) + self.down(x))
        return self.head(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


class Inception(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(4, 6, 1)
        self.b2 = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(4, 2, 1), nn.ReLU6(), nn.Conv2d(2, 4, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(4, 3, 1))
        self.out = nn.Sequential(nn.LeakyReLU(0.2), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(21 * 4 * 4, 3))

    def forward(self, x):
        return self.out(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1))


class NormAndDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.bn = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x):
        return torch.softmax(self.fc2(self.drop(torch.sigmoid(self.bn(self.fc1(x))))), dim=1)


class Recurrent(nn.Module):
    def __init__(self, kind, **kwargs):
        super().__init__()
        self.rnn = getattr(nn, kind)(6, 12, batch_first=True, **kwargs)
        self.fc = nn.Linear(12 * (2 if kwargs.get("bidirectional") else 1), 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class PerStep(nn.Module):
    """A GRU's whole output sequence through a Linear layer: ONNX MatMul + Add."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 2)

    def forward(self, x):
        return torch.tanh(self.fc(self.gru(x)[0]))


class Decoder(nn.Module):
    """view() from flat to an image, a transposed convolution, a sigmoid gate (Mul) and a permute."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
        self.gate = nn.Conv2d(2, 2, 1)

    def forward(self, x):
        up = self.up(x.view(x.size(0), 4, 6, 6))
        return (up * torch.sigmoid(self.gate(up))).permute(0, 1, 3, 2)


@pytest.mark.parametrize("model, shape", [
    (Residual(), (3, 16, 16)),
    (Inception(), (4, 8, 8)),
    (NormAndDropout(), (10,)),
    (Recurrent("LSTM"), (9, 6)),
    (Recurrent("LSTM", num_layers=2, bidirectional=True), (9, 6)),
    (Recurrent("GRU"), (9, 6)),
    (PerStep(), (8, 5)),
    (Decoder(), (144,)),
], ids=["residual", "inception", "batchnorm-dropout", "lstm", "lstm-2-layers-bidirectional", "gru", "gru-per-step",
        "decoder"])
def test_models_exported_by_torch_import_with_the_same_outputs(model, shape, tmp_path):
    torch.manual_seed(1)
    imported = check_parity(model, shape, tmp_path)
    assert infer_shapes(imported.graph).ok
    assert sum(t.numel() for k, t in imported.state.items() if "num_batches" not in k) > 0


def test_what_the_imports_become(tmp_path):
    types = lambda imported: [n.type for n in imported.graph.nodes]  # noqa: E731
    inception = check_parity(Inception(), (4, 8, 8), tmp_path)
    assert types(inception).count("Concat") == 1 and "ReLU6" in types(inception) and "LeakyReLU" in types(inception)
    cat = [n for n in inception.graph.nodes if n.type == "Concat"][0]
    assert cat.params["inputs"] == 4 and cat.params["dim"] == 1
    lstm = check_parity(Recurrent("LSTM", num_layers=2, bidirectional=True), (9, 6), tmp_path)
    rnns = [n for n in lstm.graph.nodes if n.type == "LSTM"]
    assert [(n.params["bidirectional"], n.params["output"]) for n in rnns] == [(True, "sequence"), (True, "last")]
    per_step = check_parity(PerStep(), (8, 5), tmp_path)
    fc = [n for n in per_step.graph.nodes if n.type == "Linear"][0]
    assert fc.params["bias"] is True, "MatMul followed by Add became one Linear with a bias"


def test_a_dropout_node_becomes_a_dropout_block(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    node = helper.make_node("Dropout", ["x", "ratio"], ["y"], name="/drop/Dropout")
    ratio = helper.make_tensor("ratio", TensorProto.FLOAT, [], [0.3])
    model = helper.make_model(helper.make_graph([node], "g", [x], [y], [ratio]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "drop.onnx")
    imported = import_onnx(tmp_path / "drop.onnx")
    (drop,) = [n for n in imported.graph.nodes if n.type == "Dropout"]
    assert drop.name == "drop" and drop.params["p"] == pytest.approx(0.3)


def test_the_dynamo_exporter_s_output_imports_too(tmp_path):
    check_parity(Residual(), (3, 16, 16), tmp_path, dynamo=True)


class Unsupported(nn.Module):
    """Two things without a block, side by side: a running sum and a flip."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        x = self.conv(x)
        return torch.cumsum(x, dim=2) + x.flip(3)


def test_every_unsupported_operator_is_named_and_nothing_is_written(tmp_path, capsys):
    path = torch_export(Unsupported(), torch.randn(2, 1, 8, 8), tmp_path / "odd.onnx")
    with pytest.raises(OnnxImportError) as caught:
        import_onnx(path)
    message = str(caught.value)
    assert message.startswith("odd.onnx: netbuilder cannot import 2 operators of this model:\n")
    assert "- CumSum (first at /CumSum): netbuilder has no block for this operator" in message
    assert "- Slice (first at /Slice): slices backwards (a negative step)" in message
    assert main(["import", str(path), "-o", str(tmp_path / "odd.json")]) == 1
    assert "CumSum (first at /CumSum)" in capsys.readouterr().err
    assert not (tmp_path / "odd.json").exists() and not (tmp_path / "odd.pt").exists()


@pytest.mark.parametrize("content, message", [
    (b"", "is not a valid ONNX model"),
    (b"\x08\x07\x12\x07pytorch", "is not a valid ONNX model"),
    (b"GIF89a not a model at all", "is not a valid ONNX model"),
])
def test_a_truncated_or_foreign_file_gives_one_clear_error(tmp_path, content, message):
    (tmp_path / "bad.onnx").write_bytes(content)
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(tmp_path / "bad.onnx")


def test_a_truncated_real_model_is_refused(tmp_path):
    path = torch_export(Residual(), torch.randn(2, 3, 16, 16), tmp_path / "full.onnx")
    data = path.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxImportError, match="cut.onnx is not a valid ONNX model"):
        import_onnx(tmp_path / "cut.onnx")


ROUND_TRIP = sorted(p.stem for p in EXAMPLES.glob("*.json"))
# blocks the exporter writes as several ONNX operators: they come back as those parts (same outputs, other names)
COMPOSITE = {"TransformerEncoderLayer", "MultiheadAttention", "ClassToken", "PositionalEncoding"}


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_every_example_round_trips_through_onnx(name, tmp_path):
    graph = Graph.load(EXAMPLES / f"{name}.json")
    torch.manual_seed(2)
    model = compile_graph(graph).eval()
    export_onnx(graph, tmp_path / "model.onnx", model=model)
    imported = import_onnx_file(tmp_path / "model.onnx", tmp_path / "back.json")
    back = Graph.load(tmp_path / "back.json")
    assert back.meta["weights"] == "back.pt"
    # what inference uses (a GAN's generator, a VAE without its log-variance branch) is what was exported
    assert infer_shapes(back).total_params == sum(p.numel() for p in model.parameters())
    compiled = compile_graph(back).eval()
    load_weights(compiled, tmp_path / "back.pt")
    batch = sample_inputs(graph, model, batch=3)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*batch), model(*batch), rtol=1e-4, atol=1e-5)
    if not {n.type for n in graph.nodes} & COMPOSITE:
        names = {n.name for n in back.nodes if n.spec.build is not None and n.type not in ("ReLU", "Tanh", "Sigmoid")}
        assert names <= {n.name for n in graph.nodes} | {f"reshape{i}" for i in range(1, 4)}, "blocks keep their names"
    assert imported.max_abs_diff < 1e-4


def test_an_imported_model_can_be_fine_tuned(tmp_path):
    from netbuilder.core.training.config import TrainConfig
    from netbuilder.core.training.experiment import prepare_training
    from netbuilder.core.training.trainer import Trainer

    assert main(["train", str(EXAMPLES / "mnist_convnet.json"), "--data", "mnist-5k", "--epochs", "2",
                 "--out", str(tmp_path / "run")]) == 0
    trained = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"]
    assert main(["export", str(EXAMPLES / "mnist_convnet.json"), "--weights", str(tmp_path / "run" / "weights.pt"),
                 "-o", str(tmp_path / "convnet.onnx")]) == 0
    assert main(["import", str(tmp_path / "convnet.onnx"), "-o", str(tmp_path / "imported.json")]) == 0
    graph = Graph.load(tmp_path / "imported.json")
    run = prepare_training(graph, "mnist-5k", weights=tmp_path / graph.meta["weights"])
    trainer = Trainer(run.model, run.splits, TrainConfig(epochs=1))
    assert trainer.evaluate("test")[1] == pytest.approx(trained, abs=1e-9), "the imported weights are the trained ones"
    result = trainer.fit()
    assert result.status == "finished" and result.test_metric > 0.85
