"""Design-time analysis: each problem a graph can have is found on its block, and its fix, applied headless,
makes it go away (leaving a graph that works)."""
import json

from netbuilder.cli import main
from netbuilder.core.checks.analysis import analyze, data_facts
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.data import load_dataset
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES

CONV = [("Input", {"shape": [1, 28, 28]}), ("Conv2d", {"out_channels": 8, "kernel_size": 5}),
        ("MaxPool2d", {"kernel_size": 2}), ("ReLU", {})]


def codes(findings):
    return [f.code for f in findings]


def only(findings, code):
    (found,) = [f for f in findings if f.code == code]
    return found


def fix_and_recheck(graph, code, **context):
    finding = only(analyze(graph, **context), code)
    assert finding.fix is not None
    finding.fix.apply(graph)
    after = analyze(graph, **context)
    assert code not in codes(after), [f.line for f in after]
    return finding, after


def test_a_dense_layer_after_a_feature_map_asks_for_a_flatten(chain):
    g, ids = chain(*CONV, ("Linear", {"out_features": 10}), ("Output", {}))
    finding, after = fix_and_recheck(g, "flatten")
    assert finding.block == "fc1" and finding.severity == "warning"
    assert finding.message == ("receives a 8x12x12 tensor and transforms only its last dimension, giving 8x12x10 "
                               "(130 parameters); a Flatten before it makes it see all 1,152 values")
    assert finding.fix.label == "Insert Flatten before fc1"
    report = infer_shapes(g)
    assert report.ok and report.nodes[ids[-2]].output == (10,)
    assert [g.node(e.src).type for e in g.input_edges(ids[-2])] == ["Flatten"]


def test_a_softmax_before_cross_entropy_is_a_double_softmax(chain):
    g, ids = chain(("Input", {"shape": [8]}), ("Linear", {"out_features": 10}), ("Softmax", {}), ("Output", {}))
    finding, after = fix_and_recheck(g, "double-softmax")
    assert finding.block == "softmax1"
    assert "the trainer's cross-entropy loss for output1 applies a softmax itself" in finding.message
    assert after == [] and [n.type for n in g.nodes] == ["Input", "Linear", "Output"]
    assert g.input_edges(ids[-1])[0].src == ids[1]


def test_a_log_softmax_too(chain):
    g, _ = chain(("Input", {"shape": [8]}), ("Linear", {"out_features": 3}), ("LogSoftmax", {}), ("Output", {}))
    fix_and_recheck(g, "double-softmax")


def test_a_sigmoid_before_a_binary_classifiers_output(chain):
    g, _ = chain(("Input", {"shape": [2]}), ("Linear", {"out_features": 1}), ("Sigmoid", {}), ("Output", {}))
    finding = only(analyze(g), "double-sigmoid")
    assert finding.message.endswith("applies a sigmoid itself, if this is a binary classifier: remove sigmoid1 so "
                                    "that output1 receives the raw score")
    xor = data_facts(load_dataset("xor"), (2,))
    finding, after = fix_and_recheck(g, "double-sigmoid", data=xor)
    assert "binary classifier" not in finding.message and after == []


def test_a_sigmoid_before_a_regression_output_is_fine(chain):
    g, _ = chain(("Input", {"shape": [3]}), ("Linear", {"out_features": 1}), ("Sigmoid", {}), ("Output", {}))
    temperature = data_facts(load_dataset("temperature"), (3,))
    assert analyze(g, data=temperature) == []


def test_the_output_must_match_the_datasets_classes(chain):
    g, ids = chain(("Input", {"shape": [1, 8, 8]}), ("Flatten", {}), ("Linear", {"out_features": 5}), ("Output", {}))
    digits = data_facts(load_dataset("digits"), (1, 8, 8))
    finding, after = fix_and_recheck(g, "output-size", data=digits)
    assert finding.severity == "error" and finding.block == "output1"
    assert finding.message == "receives 5 values per sample; digits has 10 classes: it needs 10 scores per sample, " \
                              "one per class"
    assert g.node(ids[2]).params["out_features"] == 10 and after == []


def test_blocks_that_reach_no_output(chain):
    g, ids = chain(("Input", {"shape": [4]}), ("Linear", {"out_features": 2}), ("ReLU", {}))
    finding, after = fix_and_recheck(g, "unused")
    assert finding.block == "relu1" and finding.message == (
        "its result reaches no Output (nor do the 2 blocks that feed only it): it is computed for nothing and not "
        "trained")
    assert [n.type for n in g.nodes][-1] == "Output" and after == []
    spare = g.add_node("Input", {"shape": [3]})
    finding = only(analyze(g), "unused")
    assert finding.block == spare.name and finding.message == "feeds no block: nothing is done with this input"
    finding.fix.apply(g)
    assert spare.id not in g


def test_an_input_the_dataset_does_not_fit(chain):
    g, ids = chain(("Input", {"shape": [3, 32, 32]}), ("Flatten", {}), ("Linear", {"out_features": 10}),
                   ("Output", {}))
    digits = data_facts(load_dataset("digits"), (3, 32, 32))
    finding = only(analyze(g, data=digits), "input-shape")
    assert finding.message == "is 3x32x32, but digits gives samples of 1x8x8"
    finding.fix.apply(g)
    refreshed = data_facts(load_dataset("digits"), (1, 8, 8))
    assert analyze(g, data=refreshed) == [] and g.node(ids[0]).params["shape"] == [1, 8, 8]


def test_a_batchnorm_that_would_see_a_batch_of_one(chain):
    g, ids = chain(("Input", {"shape": [2]}), ("Linear", {"out_features": 8}), ("BatchNorm1d", {}), ("ReLU", {}),
                   ("Linear", {"out_features": 2}), ("Output", {}))
    xor = data_facts(load_dataset("xor"), (2,))
    assert xor.train_size == 700
    assert "batch-of-one" not in codes(analyze(g, data=xor, batch_size=64))
    finding = only(analyze(g, data=xor, batch_size=3), "batch-of-one")
    assert finding.severity == "error" and "the last batch of each epoch holds 1 sample (700 training samples in " \
                                           "batches of 3)" in finding.message
    assert only(analyze(g), "batch-of-one").severity == "info"
    fix_and_recheck(g, "batch-of-one", data=xor, batch_size=3)
    assert [n.type for n in g.nodes][2] == "LayerNorm" and infer_shapes(g).ok


def test_a_dense_layer_holding_most_of_the_weights():
    g = Graph.load(EXAMPLES / "vgg16.json")
    finding, _ = fix_and_recheck(g, "heavy-dense")
    assert finding.block == "fc6" and finding.message.startswith("holds 74% of the parameters (102,764,544)")
    assert infer_shapes(g).nodes[g.find("fc6").id].params == 512 * 4096 + 4096


def test_dropout_right_before_the_output(chain):
    g, _ = chain(("Input", {"shape": [8]}), ("Linear", {"out_features": 3}), ("Dropout", {}), ("Output", {}))
    finding, after = fix_and_recheck(g, "dropout-output")
    assert finding.block == "drop1" and after == []


def test_a_deep_plain_chain(chain):
    layers = [("Input", {"shape": [3, 32, 32]})]
    for _ in range(10):
        layers += [("Conv2d", {"out_channels": 8, "padding": 1}), ("ReLU", {})]
    g, _ = chain(*layers, ("GlobalAvgPool2d", {}), ("Linear", {"out_features": 10}), ("Output", {}))
    finding, after = fix_and_recheck(g, "deep-plain")
    assert finding.block == "fc1" and "a chain of 11 weight layers" in finding.message
    assert sum(n.type == "BatchNorm2d" for n in g.nodes) == 10 and infer_shapes(g).ok


def test_shape_errors_are_findings_and_a_recurrent_layer_fed_an_image_gets_a_reshape(chain):
    g, ids = chain(("Input", {"shape": [1, 28, 28]}), ("LSTM", {"output": "last"}), ("Linear", {}), ("Output", {}))
    finding, after = fix_and_recheck(g, "shape")
    assert finding.severity == "error" and finding.fix.label.startswith("Insert a Reshape to 28x28 before lstm1")
    assert infer_shapes(g).ok and after == []


def test_every_example_checks_without_errors(capsys):
    for path in sorted(EXAMPLES.glob("*.json")):
        assert main(["check", str(path)]) == 0, path.name
    out = capsys.readouterr().out
    assert "vgg16.json: 0 errors, 1 warning, 1 info" in out


def test_check_exits_1_on_errors_and_speaks_json(tmp_path, capsys):
    Graph.load(EXAMPLES / "alexnet.json").save(tmp_path / "alexnet.json")
    assert main(["check", str(tmp_path / "alexnet.json"), "--data", "mnist-5k", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["errors"], data["warnings"], data["infos"]) == (2, 0, 1)
    assert [f["code"] for f in data["findings"]] == ["input-shape", "output-size", "heavy-dense"]
    assert data["findings"][1]["fix"] == "Set fc8's out_features to 10"
