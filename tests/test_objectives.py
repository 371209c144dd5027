"""Objectives drawn on the canvas: loss blocks and their groups, frozen and shared weights, dataset fields,
sampling, normalization that belongs to the model, and what a run writes."""
import json
import math

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn.functional as F

from netbuilder.cli import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import WeightsError, load_partial, save_state
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.data import DataError, load_dataset
from netbuilder.core.exchange.codegen import export_code, to_source
from netbuilder.core.exchange.onnx_export import export_onnx
from netbuilder.core.model.graph import Graph, GraphError
from netbuilder.core.training.config import TrainConfig
from netbuilder.core.training.experiment import prepare_training, trained_state
from netbuilder.core.training.objective import ObjectiveError
from netbuilder.core.training.trainer import Trainer
from tests.conftest import EXAMPLES


def trainer_for(graph, spec, **config):
    setup = prepare_training(graph, spec, val_fraction=config.pop("val_fraction", 0.1), seed=config.get("seed", 0))
    return setup, Trainer(setup.model, setup.splits, TrainConfig(**config), objective=setup.objective)


def state_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def two_groups():
    """x -> a (group a) -> b (group b) -> an MSE loss against the targets that trains only group a."""
    g = Graph()
    x = g.add_node("Input", {"shape": [3]}, name="x")
    y = g.add_node("Input", {"shape": [1], "field": "y", "normalize": "none"}, name="y")
    a = g.add_node("Linear", {"out_features": 8}, name="a")
    relu = g.add_node("Tanh", name="act")
    b = g.add_node("Linear", {"out_features": 1}, name="b")
    loss = g.add_node("MSELoss", {"trains": "first"}, name="fit")
    for src, dst in ((x, a), (a, relu), (relu, b), (b, loss), (y, loss)):
        g.connect(src.id, dst.id)
    g.add_group([a.id, relu.id], "first")
    g.add_group([b.id], "second")
    return g


def test_a_loss_trains_only_its_group():
    setup, trainer = trainer_for(two_groups(), "temperature:n=300", epochs=2, lr=0.01)
    before = state_of(trainer.model)
    result = trainer.fit()
    after = trainer.model.state_dict()
    assert torch.equal(after["b.weight"], before["b.weight"]) and torch.equal(after["b.bias"], before["b.bias"])
    assert not torch.equal(after["a.weight"], before["a.weight"])
    assert result.history[-1]["losses"]["fit"] < result.history[0]["losses"]["fit"]


def test_a_loss_that_trains_a_group_with_no_blocks_is_refused_by_name():
    g = two_groups()
    g.set_param(g.find("fit").id, "trains", "generator")
    with pytest.raises(ObjectiveError, match="fit trains group 'generator', but no block is in that group "
                                             r"\(groups: first, second\)"):
        prepare_training(g, "temperature:n=100")


def test_a_gan_steps_its_discriminator_then_its_generator_each_with_its_own_optimizer():
    graph = Graph.load(EXAMPLES / "gan_ring.json")
    setup, trainer = trainer_for(graph, "ring:n=400", epochs=1, batch_size=100, val_fraction=0.0)
    assert list(trainer.optimizers) == ["discriminator", "generator"]
    generator = {id(p) for p in trainer.optimizers["generator"].param_groups[0]["params"]}
    discriminator = {id(p) for p in trainer.optimizers["discriminator"].param_groups[0]["params"]}
    assert generator and discriminator and not generator & discriminator
    assert {id(p) for p in setup.model.g1.parameters()} <= generator
    assert {id(p) for p in setup.model.d1.parameters()} <= discriminator
    before = state_of(trainer.model)
    result = trainer.fit()
    assert set(result.history[0]["losses"]) == {"d_real", "d_fake", "g_loss"}
    assert all(not torch.equal(trainer.model.state_dict()[k], before[k]) for k in ("g1.weight", "d1.weight"))


def test_frozen_weights_stay_bit_identical_batchnorm_statistics_included():
    g = Graph()
    x = g.add_node("Input", {"shape": [4]}, name="x")
    body = g.add_node("Linear", {"out_features": 6}, name="body", settings={"frozen": True})
    bn = g.add_node("BatchNorm1d", name="bn", settings={"frozen": True})
    head = g.add_node("Linear", {"out_features": 2}, name="head")
    out = g.add_node("Output", name="out")
    for src, dst in ((x, body), (body, bn), (bn, head), (head, out)):
        g.connect(src.id, dst.id)
    g.set_param(x.id, "shape", [2])
    setup, trainer = trainer_for(g, "moons:n=300", epochs=2, lr=0.05)
    before = state_of(trainer.model)
    trainer.fit()
    after = trainer.model.state_dict()
    for key in ("body.weight", "body.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"):
        assert torch.equal(after[key], before[key]), key
    assert not torch.equal(after["head.weight"], before["head.weight"])


def test_the_transfer_learning_example_loads_its_body_trains_only_the_head(tmp_path):
    code = main(["train", str(EXAMPLES / "transfer_learning.json"), "--epochs", "1", "--out", str(tmp_path)])
    assert code == 0
    body = torch.load(EXAMPLES / "transfer_learning.pt", weights_only=True)
    trained = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert set(body) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"}
    assert all(torch.equal(trained[k], v) for k, v in body.items())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.5


def test_shared_weights_are_one_tensor_in_the_state_dict_the_counts_and_both_exports(tmp_path):
    graph = Graph.load(EXAMPLES / "siamese_mnist.json")
    report = infer_shapes(graph)
    tower = sum(report.nodes[n.id].params for n in graph.nodes if not n.name.endswith("_b"))
    assert report.total_params == tower and report.nodes[graph.find("conv1_b").id].params == 0
    model = compile_graph(graph, report, mode="train")
    assert not any(key.endswith("_b.weight") for key in model.state_dict())
    assert model.conv1 is model.get_submodule("conv1")
    assert sum(p.numel() for p in model.parameters()) == tower
    source = to_source(Graph.load(EXAMPLES / "gan_ring.json"))
    assert source.count("self.g1 = ") == 1
    gan = Graph.load(EXAMPLES / "gan_ring.json")
    gan_train = compile_graph(gan, mode="train")
    calls = [n.target for n in gan_train.graph.nodes if n.op == "call_module"]
    assert calls.count("d1") == 2 and "d1_fake" not in calls, "one discriminator module called twice"
    export_onnx(gan, tmp_path / "gan.onnx")
    initializers = {i.name for i in onnx.load(str(tmp_path / "gan.onnx")).graph.initializer}
    assert not any("_fake" in name for name in initializers)


def test_sharing_is_refused_between_blocks_that_cannot_share():
    g = Graph()
    a = g.add_node("Linear", {"out_features": 4}, name="a")
    b = g.add_node("Linear", {"out_features": 5}, name="b")
    c = g.add_node("Conv2d", name="c")
    with pytest.raises(GraphError, match=r"b \(Linear\): cannot share the weights of a: its params differ"):
        g.set_setting(b.id, "shares", a.id)
    with pytest.raises(GraphError, match="cannot share the weights of a .Linear.: it is not a Conv2d"):
        g.set_setting(c.id, "shares", a.id)
    g.set_param(b.id, "out_features", 4)
    g.set_setting(b.id, "shares", a.id)
    assert g.sharers(a.id) == [b]


def test_a_shared_block_fed_another_size_says_so():
    g = Graph()
    x = g.add_node("Input", {"shape": [3]}, name="x")
    x2 = g.add_node("Input", {"shape": [5], "field": "x2"}, name="x2")
    a = g.add_node("Linear", name="a")
    b = g.add_node("Linear", name="b", settings={"shares": a.id})
    g.connect(x.id, a.id)
    g.connect(x2.id, b.id)
    assert infer_shapes(g).nodes[b.id].error == ("shares the weights of a, which receives 3; this block receives 5: "
                                                 "shared weights need the same input sizes")


def test_cross_entropy_per_sample_per_step_and_per_pixel():
    torch.manual_seed(0)
    cases = [((6, 5), (6,)), ((6, 7, 5), (6, 7)), ((6, 5, 4, 3), (6, 4, 3))]
    for pred_shape, target_shape in cases:
        g = Graph()
        p = g.add_node("Input", {"shape": list(pred_shape[1:])}, name="p")
        t = g.add_node("Input", {"shape": list(target_shape[1:]), "dtype": "int64", "field": "y"}, name="t")
        loss = g.add_node("CrossEntropyLoss", name="ce")
        g.connect(p.id, loss.id)
        g.connect(t.id, loss.id)
        model = compile_graph(g, mode="train")
        pred, target = torch.randn(pred_shape), torch.randint(0, 5, target_shape)
        expected = F.cross_entropy(pred.transpose(1, 2) if len(pred_shape) == 3 else pred, target)
        assert torch.allclose(model(pred, target)["losses"]["ce"], expected)
    assert "steps x classes" in get_help("CrossEntropyLoss")


def get_help(type_name):
    from netbuilder.core.layers import get_layer

    return get_layer(type_name).help


def test_the_kl_term_matches_the_closed_form():
    g = Graph()
    mu = g.add_node("Input", {"shape": [4]}, name="mu")
    logvar = g.add_node("Input", {"shape": [4], "field": "x2"}, name="logvar")
    kl = g.add_node("KLDivergenceLoss", name="kl")
    g.connect(mu.id, kl.id)
    g.connect(logvar.id, kl.id)
    m, lv = torch.randn(8, 4), torch.randn(8, 4)
    got = compile_graph(g, mode="train")(m, lv)["losses"]["kl"]
    posterior = torch.distributions.Normal(m, torch.exp(0.5 * lv))
    prior = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    assert torch.allclose(got, expected, atol=1e-5)


def test_the_contrastive_loss_pulls_same_pairs_and_pushes_others_past_the_margin():
    g = Graph.load(EXAMPLES / "siamese_mnist.json")
    node = g.find("contrastive")
    a, b = torch.tensor([[0.0, 0.0], [0.0, 0.0]]), torch.tensor([[3.0, 4.0], [0.6, 0.8]])
    same = torch.tensor([1, 0])
    value = node.spec.forward(None, a, b, same, **node.params)
    assert math.isclose(float(value), 0.5 * (25 + (2.0 - 1.0) ** 2) / 2, rel_tol=1e-5)


def test_a_pairs_dataset_pairs_samples_within_each_split():
    source = load_dataset("pairs:digits")
    for part in (source.data, source.test):
        same = part.extra["same"].bool()
        assert torch.equal(same, part.y == part.extra["y2"])
        assert 0.35 < same.float().mean() < 0.65
    train_rows = {tuple(r.flatten().tolist()) for r in torch.cat([source.data.x, source.data.extra["x2"]])}
    test_rows = {tuple(r.flatten().tolist()) for r in torch.cat([source.test.x, source.test.extra["x2"]])}
    assert not train_rows & test_rows, "no test pair shares a sample with a training pair"


def test_an_input_names_a_field_the_dataset_lacks_in_words():
    g = Graph.load(EXAMPLES / "fcn_shapes.json")
    with pytest.raises(DataError, match="graph input 'mask' reads field 'mask'; dataset mnist-5k has fields x, y"):
        prepare_training(g, "mnist-5k")


def test_partial_weight_loading_loads_what_fits_and_names_what_it_skipped(tmp_path):
    model = compile_graph(Graph.load(EXAMPLES / "mnist_convnet.json"))
    save_state(model.state_dict(), tmp_path / "w.pt")
    changed = Graph.load(EXAMPLES / "mnist_convnet.json")
    changed.set_param(changed.find("fc2").id, "out_features", 5)
    target = compile_graph(changed)
    loaded = load_partial(target, tmp_path / "w.pt")
    assert torch.equal(target.conv1.weight, model.conv1.weight) and torch.equal(target.fc1.bias, model.fc1.bias)
    assert loaded.skipped == ["fc2.weight: 10x200 in the file, 5x200 in the graph",
                              "fc2.bias: 10 in the file, 5 in the graph"]
    assert "loaded 6 of the graph's tensors; started fresh: fc2.weight" in loaded.summary()
    save_state({"other.weight": torch.zeros(2)}, tmp_path / "none.pt")
    with pytest.raises(WeightsError, match="none of its tensors fit the graph"):
        load_partial(target, tmp_path / "none.pt")


def test_an_exported_model_normalizes_raw_inputs_as_training_did(tmp_path):
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    setup, trainer = trainer_for(graph, "digits:size=28", epochs=1, val_fraction=0.0)
    trainer.fit()
    save_state(trained_state(trainer), tmp_path / "w.pt")
    raw = load_dataset("digits:size=28").data.x[:16]
    mean, std = setup.splits.normalization["x"]
    with torch.no_grad():
        expected = trainer.model.eval()((raw - mean) / std)
    export_onnx(graph, tmp_path / "m.onnx", weights=tmp_path / "w.pt")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": raw.numpy()})[0]
    assert np.abs(got - expected.numpy()).max() < 1e-4
    report = export_code(graph, tmp_path / "model.py", weights=tmp_path / "w.pt")
    source = report.path.read_text()
    assert "self.register_buffer('normalize_x_mean', torch.zeros(1, 1, 1))" in source
    assert "x = x - self.normalize_x_mean\n        x = x / self.normalize_x_std\n" in source
    namespace = {}
    exec(compile(source, "model.py", "exec"), namespace)
    written = namespace["Net"]().eval()
    written.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    with torch.no_grad():
        assert torch.allclose(written(raw), expected, atol=1e-5)


def test_training_only_blocks_are_left_out_of_exports_and_noise_becomes_an_input(tmp_path):
    export_onnx(Graph.load(EXAMPLES / "vae.json"), tmp_path / "vae.onnx")
    vae = onnx.load(str(tmp_path / "vae.onnx"))
    ops = {n.op_type for n in vae.graph.node}
    assert not ops & {"RandomNormal", "RandomNormalLike", "Exp"}, "Sample gives its mean in inference"
    assert [i.name for i in vae.graph.input] == ["x"]
    export_onnx(Graph.load(EXAMPLES / "gan_mnist.json"), tmp_path / "gan.onnx")
    gan = onnx.load(str(tmp_path / "gan.onnx"))
    assert [i.name for i in gan.graph.input] == ["z"] and [o.name for o in gan.graph.output] == ["generated"]
    denoising = compile_graph(Graph.load(EXAMPLES / "denoising_autoencoder.json")).eval()
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(denoising(x), denoising(x)), "no noise in inference"
    losses = {n.name for n in Graph.load(EXAMPLES / "vae.json").nodes if n.spec.role == "loss"}
    assert losses and not losses & {n.target for n in compile_graph(Graph.load(EXAMPLES / "vae.json")).graph.nodes}


def test_metrics_hold_every_loss_block_per_epoch_and_generated_pictures_are_written(tmp_path):
    code = main(["train", str(EXAMPLES / "vae.json"), "--epochs", "2", "--data", "mnist-5k", "--out", str(tmp_path)])
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [set(e["losses"]) for e in metrics["epochs"]] == [{"reconstruction_loss", "kl"}] * 2
    assert set(metrics["test"]["losses"]) == {"reconstruction_loss", "kl"}
    first = metrics["epochs"][0]
    assert first["train_loss"] == pytest.approx(784 * first["losses"]["reconstruction_loss"] + first["losses"]["kl"],
                                                rel=1e-4)
    from PIL import Image

    with Image.open(tmp_path / "samples.png") as samples, Image.open(tmp_path / "reconstructions.png") as pairs:
        assert samples.size[0] > 200 and pairs.size[0] > 200


def test_examples_carry_their_recipe_and_train_without_options(tmp_path):
    code = main(["train", str(EXAMPLES / "mlp_regression.json"), "--epochs", "3", "--out", str(tmp_path)])
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    recipe = Graph.load(EXAMPLES / "mlp_regression.json").recipe
    assert metrics["data"] == recipe["data"] and metrics["config"]["lr"] == recipe["lr"]
    assert metrics["config"]["epochs"] == 3, "an option given wins over the recipe"
    assert main(["train", str(EXAMPLES / "alexnet.json"), "--out", str(tmp_path / "a")]) == 1


def test_segmentation_reports_the_mean_iou(tmp_path):
    code = main(["train", str(EXAMPLES / "fcn_shapes.json"), "--data", "shapes:n=120", "--epochs", "1",
                 "--out", str(tmp_path)])
    assert code == 0
    test = json.loads((tmp_path / "metrics.json").read_text())["test"]
    matrix = np.array(test["confusion_matrix"])
    assert matrix.shape == (4, 4) and matrix.sum() == 24 * 32 * 32
    ious = [matrix[c, c] / (matrix[c].sum() + matrix[:, c].sum() - matrix[c, c]) for c in range(4)
            if matrix[c].sum() + matrix[:, c].sum()]
    assert test["mean_iou"] == pytest.approx(sum(ious) / len(ious))


def test_an_embedding_trains_on_integer_tokens_read_from_a_csv_and_a_too_small_vocabulary_is_named(tmp_path):
    rows = ["t1,t2,t3,label"] + [f"{i % 7},{(i * 3) % 7},{(i * 5) % 7},{int(i % 7 > 3)}" for i in range(120)]
    (tmp_path / "tokens.csv").write_text("\n".join(rows) + "\n")
    g = Graph()
    x = g.add_node("Input", {"shape": [3], "dtype": "int64"}, name="x")
    embed = g.add_node("Embedding", {"num_embeddings": 7, "embedding_dim": 4}, name="embed")
    flat, fc, out = g.add_node("Flatten"), g.add_node("Linear", {"out_features": 2}), g.add_node("Output")
    for a, b in ((x, embed), (embed, flat), (flat, fc), (fc, out)):
        g.connect(a.id, b.id)
    g.save(tmp_path / "g.json")
    spec = f"csv:{tmp_path / 'tokens.csv'}:label=label"
    assert main(["train", str(tmp_path / "g.json"), "--data", spec, "--epochs", "1", "--out", str(tmp_path / "r")]) == 0
    setup = prepare_training(g, spec)
    assert setup.splits.train.x.dtype == torch.int64
    g.set_param(embed.id, "num_embeddings", 5)
    with pytest.raises(ValueError, match=r"embed \(Embedding\) looks up ids 0..4 \(num_embeddings 5\), but field 'x' "
                                         "holds ids from 0 to 6"):
        prepare_training(g, spec)
