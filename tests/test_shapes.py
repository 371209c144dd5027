"""Shape inference: shapes, counts, and errors in a person's words on the block that fails."""
import pytest

from netbuilder.core.checks.shapes import format_shape, infer_shapes
from netbuilder.core.model.graph import Graph


def test_shapes_params_and_macs_of_a_small_convnet(chain):
    g, ids = chain(("Input", {"shape": [1, 28, 28]}), ("Conv2d", {"out_channels": 32, "kernel_size": 5}),
                   ("MaxPool2d", {"kernel_size": 3}), ("Flatten", {}), ("Linear", {"out_features": 10}))
    report = infer_shapes(g)
    shapes = [report.nodes[i].output for i in ids]
    assert shapes == [(1, 28, 28), (32, 24, 24), (32, 8, 8), (2048,), (10,)]
    assert report.nodes[ids[1]].params == 32 * 25 + 32
    assert report.nodes[ids[1]].macs == 32 * 25 * 24 * 24
    assert report.nodes[ids[4]].params == 2048 * 10 + 10
    assert report.nodes[ids[4]].macs == 2048 * 10
    assert report.total_params == 832 + 20490
    assert report.nodes[ids[4]].inputs == ((2048,),)


def test_a_param_edit_changes_the_downstream_shapes_and_counts(chain):
    g, (x, conv, flat, fc) = chain(("Input", {"shape": [3, 8, 8]}), ("Conv2d", {"out_channels": 4, "padding": 1}),
                                   ("Flatten", {}), ("Linear", {"out_features": 2}))
    assert infer_shapes(g).nodes[fc].params == 4 * 64 * 2 + 2
    g.set_param(conv, "out_channels", 6)
    report = infer_shapes(g)
    assert report.nodes[flat].output == (6 * 64,)
    assert report.nodes[fc].params == 6 * 64 * 2 + 2
    g.set_param(conv, "padding", "same")
    g.set_param(conv, "kernel_size", 5)
    assert infer_shapes(g).nodes[conv].output == (6, 8, 8)


@pytest.mark.parametrize("layers, message", [
    ([("Input", {"shape": [1, 28, 28]}), ("Flatten", {}), ("Conv2d", {})],
     "conv1 (Conv2d): expects a channels x height x width input, receives 784"),
    ([("Input", {"shape": [3, 4, 4]}), ("Conv2d", {"kernel_size": 5})],
     "conv1 (Conv2d): the 5x5 kernel is larger than its 4x4 input; lower the kernel or the pooling above it"),
    ([("Input", {"shape": [3, 8, 8]}), ("Conv2d", {"padding": "same", "stride": 2})],
     "conv1 (Conv2d): padding 'same' works only with stride 1; set the stride to 1 or give the padding as a "
     "number"),
    ([("Input", {"shape": [6, 8, 8]}), ("Conv2d", {"groups": 4})],
     "conv1 (Conv2d): its 6 input channels cannot be split into 4 groups; set groups to a number that divides 6"),
    ([("Input", {"shape": [3, 1, 1]}), ("MaxPool2d", {})],
     "pool1 (MaxPool2d): the 2x2 window is larger than its 1x1 input, so nothing is left; lower the kernel size, "
     "or the pooling above it"),
    ([("Input", {"shape": [1024]}), ("Reshape", {"shape": [3, 5]})],
     "reshape1 (Reshape): cannot reshape 1024 values into 3x5 (15 values)"),
    ([("Input", {"shape": [10]}), ("Reshape", {"shape": [-1, 3]})],
     "reshape1 (Reshape): cannot reshape 10 values into -1x3 (3 values)"),
    ([("Input", {"shape": [10]}), ("Reshape", {"shape": [-1, -1]})],
     "reshape1 (Reshape): at most one dimension of the shape may be -1"),
    ([("Input", {"shape": [2, 3]}), ("Permute", {"dims": [0, 1, 1]})],
     "permute1 (Permute): dims must order all 3 dimensions 0..2 (0 is the batch), got (0, 1, 1)"),
    ([("Input", {"shape": [2, 3]}), ("Permute", {"dims": [1, 0, 2]})],
     "permute1 (Permute): dims must keep the batch dimension first (start with 0)"),
    ([("Input", {"shape": [8]}), ("LayerNorm", {"dims": 2})],
     "ln1 (LayerNorm): normalizes the last 2 dimensions, but the input has only 1"),
    ([("Input", {"shape": [8]}), ("Embedding", {})],
     "embed1 (Embedding): expects integer ids (set the Input's dtype to int64), receives float32 values"),
    ([("Input", {"shape": [8], "dtype": "int64"}), ("Linear", {})],
     "fc1 (Linear): expects real numbers, receives integer ids (put an Embedding before it)"),
    ([("Input", {"shape": [8]}), ("Softmax", {"dim": 3})],
     "softmax1 (Softmax): dim must be 1 (0 is the batch), got 3"),
    ([("Input", {"shape": [8]}), ("LogSoftmax", {"dim": -2})],
     "logsoftmax1 (LogSoftmax): dim must be 1 (0 is the batch), got -2"),
    ([("Input", {"shape": [65536, 65536]})], "input1 (Input): 65536x65536 is 4,294,967,296 values a sample"),
])
def test_errors_name_the_block_and_say_why(chain, layers, message):
    g, ids = chain(*layers)
    report = infer_shapes(g)
    assert report.errors == [message] or report.errors[0].startswith(message)
    assert report.nodes[ids[-1]].message == report.errors[0]
    assert report.errors[0] == f"{g.node(ids[-1]).label}: {report.nodes[ids[-1]].error}"
    assert not report.ok


def merge_graph(type_name, shapes, **params):
    g = Graph()
    merge = g.add_node(type_name, {"inputs": len(shapes), **params})
    for shape in shapes:
        g.connect(g.add_node("Input", {"shape": shape}).id, merge.id)
    return g, merge.id


@pytest.mark.parametrize("type_name, shapes, params, message", [
    ("Add", [[64, 8, 8], [128, 4, 4]], {}, "add1 (Add): inputs must have the same shape: in1 is 64x8x8, in2 is 128x4x4"),
    ("Multiply", [[4], [4], [5]], {}, "mul1 (Multiply): inputs must have the same shape: in1 is 4, in3 is 5"),
    ("Concat", [[3, 4], [3, 5]], {}, "cat1 (Concat): inputs must match except along dim 1: in1 is 3x4, in2 is 3x5"),
    ("Concat", [[3, 4], [3, 5]], {"dim": 0}, "cat1 (Concat): dim must be from 1 to 2, or negative to count from the end (0 is the batch), got 0"),
])
def test_merge_errors_compare_the_inputs(type_name, shapes, params, message):
    g, merge = merge_graph(type_name, shapes, **params)
    assert infer_shapes(g).nodes[merge].message.startswith(message)


def test_concat_joins_along_its_dim():
    g, merge = merge_graph("Concat", [[3, 4], [3, 5]], dim=2)
    assert infer_shapes(g).nodes[merge].output == (3, 9)
    g, merge = merge_graph("Concat", [[3, 4], [3, 5]], dim=-1)
    assert infer_shapes(g).nodes[merge].output == (3, 9)


def test_an_unconnected_input_is_an_error_and_downstream_blocks_wait_quietly(chain):
    g, (conv, relu, fc) = chain(("Conv2d", {}), ("ReLU", {}), ("Linear", {}))
    report = infer_shapes(g)
    assert report.errors == ["conv1 (Conv2d): its input is not connected"]
    assert report.nodes[relu].output is None and report.nodes[relu].error is None
    assert format_shape(report.nodes[fc].output) == "?"
    add = g.add_node("Add", {"inputs": 3})
    g.connect(fc, add.id, dst_port="in2")
    assert infer_shapes(g).nodes[add.id].error == "input in1, in3 is not connected"


def test_a_block_named_like_a_module_attribute_is_refused():
    g = Graph()
    x = g.add_node("Input", {"shape": [4]})
    fc = g.add_node("Linear", name="eval")
    g.connect(x.id, fc.id)
    assert infer_shapes(g).errors == ["eval (Linear): the name 'eval' is taken by PyTorch's Module; rename the block"]


def test_recurrent_output_choice(chain):
    g, (x, lstm) = chain(("Input", {"shape": [7, 5]}),
                         ("LSTM", {"hidden_size": 6, "bidirectional": True, "num_layers": 2}))
    assert infer_shapes(g).nodes[lstm].output == (7, 12)
    g.set_param(lstm, "output", "last")
    report = infer_shapes(g)
    assert report.nodes[lstm].output == (12,)
    # torch.nn.LSTM: 4 gates x (W_ih, W_hh, b_ih, b_hh), two directions, two layers (the second reads 12)
    per_direction = [4 * 6 * (5 + 6) + 8 * 6, 4 * 6 * (12 + 6) + 8 * 6]
    assert report.nodes[lstm].params == 2 * sum(per_direction)
    assert report.nodes[lstm].macs > 0
