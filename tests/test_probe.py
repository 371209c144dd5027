"""Looking inside a network, headless: what a probe shows is what the network computes, probing changes
nothing, per-block statistics name what is wrong, and `netbuilder inspect` writes the pictures."""
import json
import threading

import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import load_for_inference, split_normalization
from netbuilder.core.inside.probe import (
    ProbeError,
    fresh_model,
    held_out_samples,
    live_model,
    prediction_of,
    read_picture,
    trained_model,
)
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.block_stats import statistics_warnings
from netbuilder.core.training.config import TrainConfig, TrainingError
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.trainer import Trainer
from tests.conftest import EXAMPLES


@pytest.fixture(autouse=True)
def one_thread():
    """These networks see one sample or a small batch: one thread is quicker than several (and much quicker on a
    busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def residual_graph() -> Graph:
    """Two branches joined by an Add and a Concat, with BatchNorm: blocks whose output is not a module's."""
    g = Graph()
    x = g.add_node("Input", {"shape": [3, 8, 8]}, name="x").id
    a = g.add_node("Conv2d", {"out_channels": 4, "padding": 1}, name="conv_a").id
    bn = g.add_node("BatchNorm2d", name="bn").id
    relu = g.add_node("ReLU", name="relu").id
    b = g.add_node("Conv2d", {"out_channels": 4, "padding": 1}, name="conv_b").id
    add = g.add_node("Add", name="add").id
    cat = g.add_node("Concat", name="cat").id
    pool = g.add_node("MaxPool2d", name="pool").id
    flat = g.add_node("Flatten", name="flatten").id
    fc = g.add_node("Linear", {"out_features": 5}, name="fc").id
    out = g.add_node("Output", name="scores").id
    for src, dst, port in [(x, a, "in"), (a, bn, "in"), (bn, relu, "in"), (relu, b, "in"), (relu, add, "in1"),
                           (b, add, "in2"), (add, cat, "in1"), (a, cat, "in2"), (cat, pool, "in"),
                           (pool, flat, "in"), (flat, fc, "in"), (fc, out, "in")]:
        g.connect(src, dst, dst_port=port)
    return g


def random_state(graph: Graph, input_shape) -> dict:
    """Weights, BatchNorm statistics and an input normalization, all random: a state no run would leave."""
    generator = torch.Generator().manual_seed(5)
    model = compile_graph(graph)
    state = {k: torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    state.update({k: v.abs() + 0.5 for k, v in state.items() if k.endswith("running_var")})
    channels = input_shape[0] if len(input_shape) == 3 else 1
    view = (channels, 1, 1) if len(input_shape) == 3 else tuple(input_shape)
    state["normalize_x_mean"] = torch.rand(view, generator=generator)
    state["normalize_x_std"] = torch.rand(view, generator=generator) + 0.5
    return state


def cut_at(graph: Graph, block: str) -> Graph:
    """The sub-network that ends at `block`: the graph with its Outputs replaced by one after the block."""
    cut = graph.copy()
    for node in [n for n in cut.nodes if n.type == "Output"]:
        cut.remove_node(node.id)
    end = cut.add_node("Output", name="cut_here")
    cut.connect(cut.find(block).id, end.id)
    return cut


@pytest.mark.parametrize("make", [residual_graph, lambda: Graph.load(EXAMPLES / "mnist_convnet.json")],
                         ids=["residual", "mnist_convnet"])
def test_the_maps_of_a_block_are_what_the_network_cut_at_that_block_computes(make):
    graph = make()
    shape = tuple(graph.find("x").params["shape"])
    state = random_state(graph, shape)
    model = trained_model(graph, state)
    sample = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    _, normalization = split_normalization(state)
    assert set(model.blocks()) == {n.name for n in graph.nodes}
    for block in model.blocks():
        if graph.find(block).type == "Output":  # an Output shows what the whole network computes
            cut = compile_graph(graph, normalization=normalization)
        else:
            cut = compile_graph(cut_at(graph, block), normalization=normalization)
        load_for_inference(cut, state, "state")
        expected = cut.eval()(sample[None])[0].detach()
        probed = model.run(block, {"x": sample})
        assert probed.value.shape == expected.shape, block
        torch.testing.assert_close(probed.value, expected, rtol=1e-5, atol=1e-6, msg=block)
        assert list(probed.outputs) == [n.name for n in graph.nodes if n.type == "Output"]


def test_a_block_that_only_feeds_a_loss_or_nothing_is_named():
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    spare = graph.add_node("Linear", name="spare")
    graph.connect(graph.find("relu3").id, spare.id)
    model = fresh_model(graph)
    with pytest.raises(ProbeError, match="spare is not part of the network"):
        model.run("spare", torch.rand(1, 28, 28))
    with pytest.raises(ProbeError, match="no block named 'nope'"):
        model.run("nope", torch.rand(1, 28, 28))
    with pytest.raises(ProbeError, match="fc1 \\(Linear\\) has no filters"):
        model.filters("fc1")
    with pytest.raises(ProbeError, match="takes 1x28x28"):
        model.run("conv1", torch.rand(28, 28))


def test_filters_are_the_convolution_weights_output_channel_first():
    graph = Graph()
    x = graph.add_node("Input", {"shape": [3, 6, 6], "normalize": "none"}, name="x").id
    up = graph.add_node("ConvTranspose2d", {"out_channels": 2, "kernel_size": 3}, name="up").id
    conv = graph.add_node("Conv2d", {"out_channels": 5, "kernel_size": 3}, name="conv").id
    out = graph.add_node("Output").id
    graph.connect(x, up)
    graph.connect(up, conv)
    graph.connect(conv, out)
    model = fresh_model(graph)
    assert torch.equal(model.filters("conv"), model.module.conv.weight.detach())  # 5 x 2 x 3 x 3
    assert torch.equal(model.filters("up"), model.module.up.weight.detach().transpose(0, 1))  # 3x2x.. -> 2x3x..


def test_saliency_of_a_linear_classifier_is_its_class_row_over_the_input_std():
    graph = Graph()
    x = graph.add_node("Input", {"shape": [4]}, name="x").id
    fc = graph.add_node("Linear", {"out_features": 3}, name="fc").id
    out = graph.add_node("Output", name="scores").id
    graph.connect(x, fc)
    graph.connect(fc, out)
    state = random_state(graph, (4,))
    model = trained_model(graph, state)
    sample = torch.tensor([0.3, -1.0, 2.0, 0.5])
    saliency = model.saliency({"x": sample}, target=2)
    expected = (state["fc.weight"][2] / state["normalize_x_std"]).abs()  # d score_2 / d raw input
    torch.testing.assert_close(saliency.map, expected)
    predicted = model.saliency({"x": sample})
    assert predicted.target == int(model.outputs({"x": sample})["scores"].argmax())


def test_predictions_read_logits_probabilities_and_log_probabilities_alike():
    logits = torch.tensor([2.0, 0.0, -1.0])
    for value in (logits, torch.softmax(logits, 0), torch.log_softmax(logits, 0)):
        prediction = prediction_of({"out": value}, ["cat", "dog", "owl"])
        assert prediction.describe() == "predicted cat (84%)"
        assert prediction.probabilities == pytest.approx(torch.softmax(logits, 0).tolist(), abs=1e-6)


def test_held_out_samples_are_the_runs_test_split_before_normalization():
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    setup = prepare_training(graph, "digits:size=28", test_fraction=0.25, seed=3)
    samples = held_out_samples(graph, "digits:size=28", test_fraction=0.25, seed=3)
    mean, std = setup.splits.normalization["x"]
    torch.testing.assert_close(samples.inputs["x"], setup.splits.test.x * std + mean)
    assert samples.label(4) == setup.splits.test.classes[int(setup.splits.test.y[4])]
    with pytest.raises(ProbeError, match="sample 9999 is not in"):
        samples.sample(9999)


def test_a_picture_file_becomes_a_sample_of_the_inputs_shape(tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "red.png")
    grey = read_picture(tmp_path / "red.png", (1, 28, 28))
    assert grey.shape == (1, 28, 28) and torch.allclose(grey, torch.full_like(grey, 76 / 255))  # Pillow's luma
    assert read_picture(tmp_path / "red.png", (3, 8, 8))[0].min() == 1.0
    assert read_picture(tmp_path / "red.png", (784,)).shape == (784,)
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    with pytest.raises(ProbeError, match="not a picture"):
        read_picture(tmp_path / "bad.png", (1, 28, 28))
    with pytest.raises(ProbeError, match="fits an image Input"):
        read_picture(tmp_path / "red.png", (10,))


# ----- probing a training run


def _dropout_net() -> Graph:
    """Dropout (random draws in training mode) and BatchNorm (running statistics): a probe that ran them in
    training mode, or drew random numbers, would change the run."""
    g = Graph()
    x = g.add_node("Input", {"shape": [1, 8, 8]}, name="x").id
    conv = g.add_node("Conv2d", {"out_channels": 6}, name="conv").id
    bn = g.add_node("BatchNorm2d", name="bn").id
    relu = g.add_node("ReLU", name="relu").id
    flat = g.add_node("Flatten", name="flatten").id
    drop = g.add_node("Dropout", {"p": 0.3}, name="drop").id
    fc = g.add_node("Linear", {"out_features": 10}, name="fc").id
    out = g.add_node("Output", name="logits").id
    for src, dst in [(x, conv), (conv, bn), (bn, relu), (relu, flat), (flat, drop), (drop, fc), (fc, out)]:
        g.connect(src, dst)
    return g


def _run(graph: Graph, probe_at: int | None):
    """An epoch on digits; with probe_at, the run is paused after that batch and another thread has it probe
    every block, the filters and saliency, then resumes it."""
    setup = prepare_training(graph, "digits", seed=0)
    config = TrainConfig(epochs=1, batch_size=64, seed=0, report_interval=0.0)
    samples = held_out_samples(graph, "digits")
    probed, threads = {}, {}

    def probe_everything():
        threads["probe"] = threading.get_ident()
        model = live_model(graph, trainer)
        sample = samples.sample(0)
        maps = {block: model.run(block, sample) for block in model.blocks()}
        return maps, model.filters("conv"), model.saliency(sample)

    def ask():
        probed["result"] = trainer.request(probe_everything).result(timeout=60)
        probed["paused"] = trainer.paused
        trainer.resume()

    def on_batch(report):
        threads["training"] = threading.get_ident()
        if report.epoch == 1 and report.batch == probe_at:
            trainer.pause()
            threading.Thread(target=ask).start()

    trainer = Trainer(setup.model, setup.splits, config, objective=setup.objective, on_batch=on_batch)
    trainer.fit()
    return trainer, probed, threads


def test_a_run_paused_probed_and_resumed_ends_with_the_weights_of_a_run_never_probed():
    graph = _dropout_net()
    probed_run, probed, threads = _run(graph, probe_at=5)
    plain_run, _, _ = _run(graph, probe_at=None)
    assert probed["paused"] and threads["probe"] == threads["training"]  # on the run's thread, while paused
    maps, filters, saliency = probed["result"]
    assert maps["conv"].value.shape == (6, 6, 6) and filters.shape == (6, 1, 3, 3) and saliency.map.shape == (8, 8)
    assert maps["drop"].value.equal(maps["flatten"].value)  # eval mode: dropout lets everything through
    mine, theirs = probed_run.model.state_dict(), plain_run.model.state_dict()
    for key in theirs:
        assert torch.equal(mine[key], theirs[key]), key
    losses = [[e[k] for k in ("train_loss", "val_loss", "val_metric")] for e in plain_run.history]
    assert probed_run.model.training and [[e[k] for k in ("train_loss", "val_loss", "val_metric")]
                                          for e in probed_run.history] == losses
    with pytest.raises(TrainingError, match="has ended"):
        probed_run.request(lambda: None).result(timeout=1)


# ----- per-block statistics


def _mlp() -> Graph:
    g = Graph()
    prev = g.add_node("Input", {"shape": [1, 8, 8]}, name="x").id
    for type_name, params, name in [("Flatten", {}, "flatten"), ("Linear", {"out_features": 32}, "fc1"),
                                    ("ReLU", {}, "relu1"), ("Linear", {"out_features": 32}, "fc2"),
                                    ("ReLU", {}, "relu2"), ("Linear", {"out_features": 10}, "fc3"),
                                    ("Output", {}, "logits")]:
        node = g.add_node(type_name, params, name=name).id
        g.connect(prev, node)
        prev = node
    return g


def _train_mlp(dead: bool, statistics: int = 5):
    setup = prepare_training(_mlp(), "digits")
    if dead:  # every pre-activation of fc1 far below zero: relu1 outputs zeros, fc1 gets no gradient
        with torch.no_grad():
            setup.model.fc1.bias.fill_(-1000.0)
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=1, statistics=statistics, batch_size=64),
                      objective=setup.objective)
    trainer.fit()
    return trainer


def test_statistics_name_a_dead_relu_and_the_layer_it_starves():
    trainer = _train_mlp(dead=True)
    record = trainer.statistics.epochs[-1]
    batches = -(-len(trainer.data.train) // 64)
    assert record["observed"] == len(range(0, batches, 5))  # batches 0, 5, 10, ...
    assert record["blocks"]["relu1"]["dead"] == 1.0 and record["blocks"]["relu2"]["dead"] < 0.5
    assert record["blocks"]["fc1"]["grad_std"] == 0.0 and record["blocks"]["fc1"]["update_norm"] == 0.0
    assert record["blocks"]["fc2"]["grad_std"] > 0
    warnings = statistics_warnings(record)
    assert any(w.startswith("relu1: its outputs are all zero for 100% of samples") for w in warnings)
    assert any(w.startswith("fc1: receives no gradient") for w in warnings)
    assert not any(w.startswith(("relu2", "fc2", "fc3")) for w in warnings)


def test_a_healthy_network_gets_no_warning_and_statistics_do_not_change_training():
    observed, plain = _train_mlp(dead=False), _train_mlp(dead=False, statistics=0)
    record = observed.statistics.epochs[-1]
    assert statistics_warnings(record) == []
    assert set(record["blocks"]) == {"flatten", "fc1", "relu1", "fc2", "relu2", "fc3"}
    assert all(record["blocks"][name]["update_ratio"] > 0 for name in ("fc1", "fc2", "fc3"))
    for key, value in plain.model.state_dict().items():
        assert torch.equal(observed.model.state_dict()[key], value), key
    assert plain.statistics is None


def test_netbuilder_train_writes_the_statistics_and_warnings_to_metrics_json(tmp_path, capsys):
    graph = _mlp()
    graph.save(tmp_path / "mlp.json")
    assert main(["train", str(tmp_path / "mlp.json"), "--data", "digits", "--epochs", "2", "--statistics", "10",
                 "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics["blocks"]] == [1, 2] and metrics["warnings"] == []
    assert set(metrics["blocks"][0]["blocks"]["fc1"]) == {"act_mean", "act_std", "grad_mean", "grad_std",
                                                          "update_norm", "update_ratio"}
    # resumed with one more epoch: the statistics go on from the checkpoint's
    assert main(["train", str(tmp_path / "mlp.json"), "--data", "digits", "--epochs", "3", "--out",
                 str(tmp_path / "run"), "--resume", str(tmp_path / "run" / "checkpoint.pt")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics["blocks"]] == [1, 2, 3]
    assert main(["train", str(tmp_path / "mlp.json"), "--data", "digits", "--epochs", "1", "--statistics", "0",
                 "--out", str(tmp_path / "off")]) == 0
    assert "blocks" not in json.loads((tmp_path / "off" / "metrics.json").read_text())


# ----- netbuilder inspect


def test_netbuilder_inspect_writes_maps_filters_and_saliency_with_given_weights(tmp_path, capsys):
    from PIL import Image

    graph_path = EXAMPLES / "mnist_convnet.json"
    state = random_state(Graph.load(graph_path), (1, 28, 28))
    torch.save(state, tmp_path / "w.pt")
    out = tmp_path / "maps.png"
    assert main(["inspect", str(graph_path), "--weights", str(tmp_path / "w.pt"), "--data", "digits:size=28",
                 "--sample", "2", "--block", "conv1", "--block", "relu2", "--show", "maps,saliency",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    samples = held_out_samples(Graph.load(graph_path), "digits:size=28")
    model = trained_model(Graph.load(graph_path), state)
    expected = model.run("conv1", samples.sample(2))
    assert expected.describe() in printed and f"sample 2 of {samples.name} (class {samples.label(2)})" in printed
    assert expected.prediction(samples.classes).describe() in printed
    assert Image.open(out).size[0] == 1100
    assert main(["inspect", str(graph_path), "--show", "filters", "-o", str(tmp_path / "filters.png"),
                 "--data", "digits:size=28"]) == 0
    assert "filters of conv1, conv2; untrained" in capsys.readouterr().out
    assert main(["inspect", str(graph_path), "--block", "fc1", "--show", "filters", "-o", str(out)]) == 1
    assert "fc1 (Linear) has no filters" in capsys.readouterr().err
    assert main(["inspect", str(graph_path), "--show", "maps,colours", "-o", str(out)]) == 1
    assert "choose from maps, filters, saliency" in capsys.readouterr().err
