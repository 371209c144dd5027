"""The import defects of issue 10, each shown by the smallest model that had it."""
import logging
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.exchange.onnx_import import OnnxImportError, import_onnx


def export_fixed(model: nn.Module, example, path, opset=17, dynamic=False):
    """torch.onnx.export as a user calls it: without dynamic_axes the batch size is fixed in the file."""
    model.eval()
    example = example if isinstance(example, tuple) else (example,)
    names = [f"x{i}" for i in range(len(example))] if len(example) > 1 else ["x"]
    axes = {name: {0: "batch"} for name in names} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            torch.onnx.export(model, example, str(path), input_names=names, output_names=["y"], dynamic_axes=axes,
                              opset_version=opset, dynamo=False)
        finally:
            logging.disable(logging.NOTSET)
    return path


def save_model(tmp_path, nodes, inputs, outputs, initializers, name="hand.onnx", opset=17):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, tmp_path / name)
    return tmp_path / name


def tensor(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def run_ort(path, *arrays):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, arrays)))


def imported_outputs(imported, *arrays):
    model = compile_graph(imported.graph).eval()
    model.load_state_dict(imported.state)
    with torch.no_grad():
        out = model(*(torch.as_tensor(a) for a in arrays))
    return out


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).view(x.size(0), -1))


@pytest.mark.parametrize("batch", [1, 3])
def test_a_file_with_a_fixed_batch_size_is_checked_at_that_size(batch, tmp_path):
    torch.manual_seed(0)
    model = Small()
    path = export_fixed(model, torch.randn(batch, 1, 8, 8), tmp_path / "fixed.onnx")
    assert onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == batch
    imported = import_onnx(path)
    assert imported.max_abs_diff < 1e-5
    x = torch.randn(5, 1, 8, 8)  # the imported graph itself takes any batch size
    with torch.no_grad():
        torch.testing.assert_close(imported_outputs(imported, x), model(x), rtol=1e-4, atol=1e-5)


def test_folding_follows_the_model_s_own_opset(tmp_path):
    """x.view(x.size(0), -1) at opset 11 writes Unsqueeze with an `axes` attribute (an input from opset 13)."""
    torch.manual_seed(0)
    path = export_fixed(Small(), torch.randn(2, 1, 8, 8), tmp_path / "v11.onnx", opset=11, dynamic=True)
    imported = import_onnx(path)
    assert [n.type for n in imported.graph.nodes] == ["Input", "Conv2d", "ReLU", "Flatten", "Linear", "Output"]


@pytest.mark.parametrize("rows", [1, 4])
def test_gemm_with_a_two_dimensional_bias(rows, tmp_path):
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(3, 5)), rng.normal(size=(1, 3))
    c = np.repeat(b, rows, axis=0)
    path = save_model(tmp_path, [helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1)],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 5])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
                      [tensor("w", w), tensor("c", c)])
    imported = import_onnx(path)
    (fc,) = [n for n in imported.graph.nodes if n.type == "Linear"]
    assert fc.params["bias"] and imported.state[f"{fc.name}.bias"].shape == (3,)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(imported_outputs(imported, x).numpy(), run_ort(path, x)[0], rtol=1e-5, atol=1e-6)


def test_gemm_whose_bias_differs_per_sample_is_refused_by_name(tmp_path):
    rng = np.random.default_rng(0)
    path = save_model(tmp_path, [helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1, name="head")],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 5])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
                      [tensor("w", rng.normal(size=(3, 5))), tensor("c", rng.normal(size=(4, 3)))])
    with pytest.raises(OnnxImportError, match=r"Gemm .*head.*bias C of shape 4x3 differs from one sample to the next"):
        import_onnx(path)


@pytest.mark.parametrize("op, gates", [("LSTM", 4), ("GRU", 3)])
def test_a_recurrent_node_without_biases_imports_without_biases(op, gates, tmp_path):
    rng = np.random.default_rng(1)
    hidden, features, steps = 4, 3, 5
    attrs = {"hidden_size": hidden} | ({"linear_before_reset": 1} if op == "GRU" else {})
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node(op, ["xt", "w", "r"], ["y"], name="rnn", **attrs),
             helper.make_node("Squeeze", ["y", "one"], ["ys"]),
             helper.make_node("Transpose", ["ys"], ["out"], perm=[1, 0, 2])]
    inits = [tensor("w", rng.normal(size=(1, gates * hidden, features))),
             tensor("r", rng.normal(size=(1, gates * hidden, hidden))),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "one")]
    path = save_model(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", steps, features])],
                      [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", steps, hidden])], inits)
    imported = import_onnx(path)
    (rnn,) = [n for n in imported.graph.nodes if n.type == op]
    assert rnn.params["bias"] is False
    assert not [k for k in imported.state if "bias" in k]
    x = rng.normal(size=(2, steps, features)).astype(np.float32)
    np.testing.assert_allclose(imported_outputs(imported, x).numpy(), run_ort(path, x)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_layers_without_bias_gain_no_trainable_bias(kind, tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(3, 4, batch_first=True, bias=False)

        def forward(self, x):
            return self.rnn(x)[0]

    torch.manual_seed(0)
    model = Net()
    imported = import_onnx(export_fixed(model, torch.randn(2, 5, 3), tmp_path / "rnn.onnx", dynamic=True))
    compiled = compile_graph(imported.graph)
    trained = sum(p.numel() for p in compiled.parameters() if p.requires_grad)
    assert trained == sum(p.numel() for p in model.parameters())


def test_conv_transpose_honours_output_shape(tmp_path):
    rng = np.random.default_rng(2)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], output_shape=[10, 9],
                            kernel_shape=[3, 3], name="up")
    path = save_model(tmp_path, [node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 5, 5])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, 10, 9])],
                      [tensor("w", rng.normal(size=(2, 3, 3, 3))), tensor("b", rng.normal(size=3))])
    imported = import_onnx(path)
    x = rng.normal(size=(2, 2, 5, 5)).astype(np.float32)
    expected = run_ort(path, x)[0]
    assert expected.shape == (2, 3, 10, 9)
    np.testing.assert_allclose(imported_outputs(imported, x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_the_check_is_relative_to_the_size_of_the_outputs(tmp_path):
    class Huge(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(16, 16), nn.Linear(16, 4)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    torch.manual_seed(0)
    model = Huge()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3000.0)  # outputs around 1e8: float32 rounding alone differs by more than 1e-4
    path = export_fixed(model, torch.randn(2, 16), tmp_path / "huge.onnx", dynamic=True)
    imported = import_onnx(path)
    x = torch.randn(3, 16)
    with torch.no_grad():
        expected = model(x)
    assert expected.abs().max() > 1e6
    torch.testing.assert_close(imported_outputs(imported, x), expected, rtol=1e-5, atol=0.0)


def test_the_tolerance_is_stated_when_the_check_fails():
    from netbuilder.core.exchange.onnx_import.parity import compare

    assert compare([np.full((2, 3), 1e6, np.float32)], [torch.full((2, 3), 1e6 + 50)]) == pytest.approx(50)
    with pytest.raises(OnnxImportError) as caught:
        compare([np.full((2, 3), 1e6, np.float32)], [torch.full((2, 3), 1e6 + 500)], "m.onnx")
    assert "differs from onnxruntime by 500 (more than 1e-4 x max(1, largest |output|) = 100)" in str(caught.value)


class Cumulative(nn.Module):
    """Something we have no block for (a running sum) early in a long chain."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=1) for _ in range(30))

    def forward(self, x):
        x = torch.cumsum(x, dim=2)
        for conv in self.convs:
            x = torch.relu(conv(x)) + x
        return x


def test_one_root_cause_is_reported_once_with_what_it_affects(tmp_path):
    path = export_fixed(Cumulative(), torch.randn(2, 4, 6, 6), tmp_path / "cum.onnx", dynamic=True)
    with pytest.raises(OnnxImportError) as caught:
        import_onnx(path)
    message = str(caught.value)
    assert len(message.splitlines()) <= 10
    assert message.count("- CumSum") == 1 and "Conv" not in message
    assert "/CumSum" in message and "90 nodes after it" in message  # 30 x (Conv, Relu, Add)


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(6, 4)

    def forward(self, a, b):
        return (self.encoder(a) - self.encoder(b)).abs()


def test_weights_used_twice_stay_one_shared_tensor(tmp_path):
    model = Siamese()
    path = export_fixed(model, (torch.randn(2, 6), torch.randn(2, 6)), tmp_path / "siamese.onnx", dynamic=True)
    imported = import_onnx(path)
    linears = [n for n in imported.graph.nodes if n.type == "Linear"]
    assert len(linears) == 2 and linears[1].shares == linears[0].id, "the second tower uses the first's weights"
    assert infer_shapes(imported.graph).total_params == sum(p.numel() for p in model.parameters())
    assert sorted(imported.state) == [f"{linears[0].name}.bias", f"{linears[0].name}.weight"]
    assert imported.max_abs_diff < 1e-5
