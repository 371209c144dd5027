"""What a file asks for is honoured or refused by name: optional inputs, attributes, semantics of old opsets."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from netbuilder.core.exchange.onnx_import import OnnxImportError, import_onnx
from tests.test_import_defects import save_model, tensor


def refusal(tmp_path, nodes, x_shape, y_shape, initializers=(), opset=17) -> str:
    path = save_model(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], list(initializers), opset=opset)
    with pytest.raises(OnnxImportError) as caught:
        import_onnx(path)
    return str(caught.value)


def test_an_optional_input_we_cannot_honour_is_named(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("LSTM", ["x", "w", "r", "", "", "", "", "p"], ["y"], hidden_size=2, layout=1,
                              name="rnn")]
    message = refusal(tmp_path, nodes, ["n", 3, 4], ["n", 3, 1, 2],
                      [tensor("w", rng.normal(size=(1, 8, 4))), tensor("r", rng.normal(size=(1, 8, 2))),
                       tensor("p", rng.normal(size=(1, 6)))])
    assert "- LSTM (first at rnn): its optional input 'P' is not supported" in message


def test_resizing_without_a_block_is_named(tmp_path):
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic", name="up")]
    message = refusal(tmp_path, nodes, ["n", 2, 4, 4], ["n", 2, 8, 8],
                      [tensor("scales", [1.0, 1.0, 2.0, 2.0])])
    assert "- Resize (first at up): cubic resizing has no block (nearest and bilinear have)" in message


def test_a_softmax_before_opset_13_keeps_its_old_meaning(tmp_path):
    """Opset 11's Softmax(axis=1) of a 3-D tensor normalizes over axes 1 and 2 together: no block does that."""
    nodes = [helper.make_node("Softmax", ["x"], ["y"], axis=1, name="probabilities")]
    message = refusal(tmp_path, nodes, ["n", 3, 4], ["n", 3, 4], opset=11)
    assert "before opset 13 it normalizes over every axis from 1 on" in message


def test_dilated_pooling_is_refused_by_name(tmp_path):
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 2], name="pool")]
    message = refusal(tmp_path, nodes, ["n", 1, 6, 6], ["n", 1, 4, 4])
    assert "- MaxPool (first at pool): only 1-D and 2-D pooling without dilation has blocks" in message
