"""The Trainer, headless: it learns, stops cleanly, resumes exactly, and its files are safe to read."""
import json
import re
import threading

import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.build.weights import WeightsError, load_weights, save_weights
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.config import TrainConfig, TrainingError
from netbuilder.core.training.experiment import confusion_matrix, prepare_training
from netbuilder.core.training.trainer import Trainer
from tests.conftest import EXAMPLES


def run_example(name, spec, **config):
    prepared = prepare_training(Graph.load(EXAMPLES / f"{name}.json"), spec,
                           val_fraction=config.pop("val_fraction", 0.1), seed=config.get("seed", 0))
    trainer = Trainer(prepared.model, prepared.splits, TrainConfig(**config))
    return trainer, trainer.fit()


def test_the_lecture_convnet_learns_mnist_5k_headless(tmp_path):
    """6 epochs on 4,000 of the 5,000 digits, tested on the other 1,000, through the `netbuilder train` command."""
    code = main(["train", str(EXAMPLES / "mnist_convnet.json"), "--data", "mnist-5k", "--epochs", "6",
                 "--val-fraction", "0", "--out", str(tmp_path)])
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["samples"] == {"train": 4000, "val": 0, "test": 1000}
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3, 4, 5, 6]
    assert metrics["epochs"][-1]["train_loss"] < metrics["epochs"][0]["train_loss"]
    assert metrics["test"]["accuracy"] >= 0.92
    matrix = metrics["test"]["confusion_matrix"]
    assert sum(map(sum, matrix)) == 1000
    assert sum(matrix[i][i] for i in range(10)) / 1000 == pytest.approx(metrics["test"]["accuracy"])
    model = Graph.load(EXAMPLES / "mnist_convnet.json")
    from netbuilder.core.build.compile import compile_graph

    compiled = compile_graph(model)
    load_weights(compiled, tmp_path / "weights.pt")  # the weights fit the graph they were trained on


def test_the_xor_perceptron_learns_xor():
    trainer, result = run_example("mlp_xor", "xor:n=800:noise=0", epochs=60, lr=0.05)
    assert trainer.loss_name == "bce_with_logits"
    assert result.test_metric >= 0.95


def test_the_temperature_regression_learns():
    trainer, result = run_example("mlp_regression", "temperature", epochs=40, lr=0.02)
    assert trainer.metric_name == "mse" and trainer.loss_name == "mse"
    first, last = result.history[0], result.history[-1]
    assert last["val_loss"] < 0.3 * first["val_loss"]


def test_a_diverging_run_stops_with_the_epoch_and_batch_and_keeps_good_weights():
    import re

    prepared = prepare_training(Graph.load(EXAMPLES / "mlp_regression.json"), "temperature")
    kept = [{k: v.clone() for k, v in prepared.model.state_dict().items()}]

    def remember(report):
        kept.append({k: v.clone() for k, v in prepared.model.state_dict().items()})

    trainer = Trainer(prepared.model, prepared.splits, TrainConfig(epochs=20, optimizer="sgd", lr=50.0),
                      on_epoch=remember)
    result = trainer.fit()
    assert result.status == "diverged"
    match = re.match(r"the loss became (nan|inf) at epoch (\d+), batch (\d+); training stopped and the weights "
                     r"from (the start of the run|the end of epoch \d+) are kept", result.message)
    assert match, result.message
    epoch, batch = int(match[2]), int(match[3])
    assert len(result.history) == epoch - 1
    batches = -(-len(prepared.splits.train) // 100)
    assert len(result.batch_losses) == (epoch - 1) * batches + batch - 1
    assert all(torch.equal(v, kept[-1][k]) for k, v in prepared.model.state_dict().items())
    assert all(torch.isfinite(torch.tensor(v)) for v in result.batch_losses)


def test_resuming_a_checkpoint_continues_exactly_where_the_run_stopped(tmp_path):
    def fresh(epochs):
        prepared = prepare_training(Graph.load(EXAMPLES / "mlp_xor.json"), "moons:n=600")
        return Trainer(prepared.model, prepared.splits, TrainConfig(epochs=epochs, lr=0.01, schedule="step",
                                                                    step_size=2))

    straight = fresh(4)
    straight_result = straight.fit()
    first = fresh(2)
    first.fit(checkpoint=tmp_path / "ckpt.pt")
    resumed = fresh(4)
    resumed_result = resumed.fit(resume_from=tmp_path / "ckpt.pt")
    assert [e["epoch"] for e in resumed_result.history] == [1, 2, 3, 4]
    assert len(resumed_result.batch_losses) == len(straight_result.batch_losses) == 4 * 5
    assert resumed_result.batch_losses == pytest.approx(straight_result.batch_losses)
    assert [e["lr"] for e in resumed_result.history] == [0.01, 0.01, 0.005, 0.005]
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value)


def test_a_checkpoint_that_is_done_or_foreign_is_refused(tmp_path):
    prepared = prepare_training(Graph.load(EXAMPLES / "mlp_xor.json"), "xor")
    trainer = Trainer(prepared.model, prepared.splits, TrainConfig(epochs=2))
    trainer.fit(checkpoint=tmp_path / "ckpt.pt")
    with pytest.raises(TrainingError, match="the checkpoint already has 2 epochs; ask for more than 2"):
        Trainer(prepared.model, prepared.splits, TrainConfig(epochs=2)).fit(resume_from=tmp_path / "ckpt.pt")
    torch.save({"model": 1}, tmp_path / "other.pt")
    with pytest.raises(TrainingError, match="not a netbuilder checkpoint"):
        Trainer(prepared.model, prepared.splits, TrainConfig(epochs=3)).fit(resume_from=tmp_path / "other.pt")


class Payload:
    """Something a hostile file could carry: unpickling it would run code."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_files_with_pickled_objects_are_never_loaded(tmp_path, capsys):
    torch.save({"format": "netbuilder.checkpoint", "model": Payload()}, tmp_path / "evil.pt")
    prepared = prepare_training(Graph.load(EXAMPLES / "mlp_xor.json"), "xor")
    with pytest.raises(WeightsError, match="not a weights file netbuilder can read safely"):
        load_weights(prepared.model, tmp_path / "evil.pt")
    with pytest.raises(TrainingError, match="not a weights file netbuilder can read safely"):
        Trainer(prepared.model, prepared.splits, TrainConfig(epochs=3)).fit(resume_from=tmp_path / "evil.pt")
    assert "this must never run" not in capsys.readouterr().out


def test_weights_round_trip_and_mismatches_are_named(tmp_path):
    from netbuilder.core.build.compile import compile_graph

    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    model = compile_graph(graph)
    save_weights(model, tmp_path / "w.pt")
    other = compile_graph(graph)
    load_weights(other, tmp_path / "w.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    graph.set_param(graph.find("fc1").id, "out_features", 100)
    with pytest.raises(WeightsError) as caught:
        load_weights(compile_graph(graph), tmp_path / "w.pt")
    assert "fc1.weight has shape 200x256, the graph needs 100x256" in str(caught.value)
    (tmp_path / "junk.pt").write_bytes(b"not a zip at all")
    with pytest.raises(WeightsError, match="junk.pt: not a weights file"):
        load_weights(model, tmp_path / "junk.pt")


def test_stop_and_pause_from_another_thread():
    prepared = prepare_training(Graph.load(EXAMPLES / "mnist_convnet.json"), "mnist-5k")
    reports = []

    def on_batch(report):
        reports.append(report)
        if len(reports) == 1:
            trainer.pause()
            threading.Timer(0.3, trainer.resume).start()
        if len(reports) == 3:
            trainer.stop()

    trainer = Trainer(prepared.model, prepared.splits, TrainConfig(epochs=5, report_interval=0.0), on_batch=on_batch)
    result = trainer.fit()
    assert result.status == "stopped" and result.message == "stopped by the user during epoch 1"
    assert len(result.batch_losses) == 3 and result.history == []
    assert reports[0].progress < reports[2].progress < 0.1


def test_early_stopping_keeps_the_best_weights():
    trainer, result = run_example("mlp_xor", "circles:n=400", epochs=200, lr=0.3, early_stopping=2)
    assert result.status == "early_stopped" and len(result.history) < 200
    best = min(e["val_loss"] for e in result.history)
    assert f"validation loss {best:.4g}" in result.message
    assert trainer.evaluate("val")[0] == pytest.approx(best, rel=1e-5)


def test_l1_penalty_shrinks_weights():
    def weight_norm(l1):
        trainer, _ = run_example("mlp_regression", "temperature", epochs=15, lr=0.02, l1=l1)
        return sum(float(p.detach().abs().sum()) for p in trainer.model.parameters())

    assert weight_norm(1.0) < 0.7 * weight_norm(0.0)


@pytest.mark.parametrize("config, message", [
    (dict(epochs=0), "epochs must be 1..100000, got 0"),
    (dict(optimizer="lbfgs"), "optimizer must be one of sgd, momentum"),
    (dict(lr=float("nan")), "learning rate must be a finite number, got nan"),
    (dict(lr=0.0), "learning rate must be in (0, 100], got 0.0"),
    (dict(seed=18446744073709551616), "seed must be 0..4294967295, got 18446744073709551616"),
    (dict(fp16=True, device="cpu"), "fp16 needs a CUDA GPU; this run is on cpu"),  # bf16: tests/test_tuning.py
    (dict(augment=["spin"]), "augment: unknown augmentation 'spin'; use flip, vflip, crop, translate, rotate"),
    (dict(device="cuda"), "device cuda is not available on this machine (use auto or cpu)"),
])
def test_bad_settings_are_refused_in_words(config, message):
    prepared = prepare_training(Graph.load(EXAMPLES / "mlp_xor.json"), "xor")
    if config.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(TrainingError) as caught:
        Trainer(prepared.model, prepared.splits, TrainConfig(**config))
    assert str(caught.value).startswith(message)


def test_confusion_matrix_counts_true_by_predicted():
    assert confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3) == [[1, 0, 0], [0, 1, 0],
                                                                                              [0, 1, 1]]


@pytest.mark.parametrize("args, message", [
    (["--data", "nope"], "unknown dataset 'nope'"),
    (["--data", "mnist-5k", "--epochs", "0"], "epochs must be 1..100000, got 0"),
    (["--data", "xor", "--weights", "missing.pt"], "missing.pt: no such file"),
])
def test_cli_train_errors_are_one_line(tmp_path, args, message):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "netbuilder.cli", "train", str(EXAMPLES / "mlp_xor.json"), *args,
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"netbuilder: error: {message}")
    assert "Traceback" not in result.stderr


def test_resuming_with_early_stopping_continues_exactly(tmp_path):
    """Early stopping's best loss, best weights and patience are in the checkpoint."""
    def fresh(epochs):
        prepared = prepare_training(Graph.load(EXAMPLES / "mlp_xor.json"), "moons:n=300:noise=0.3", seed=1)
        return Trainer(prepared.model, prepared.splits, TrainConfig(epochs=epochs, lr=2.0, optimizer="sgd",
                                                                    early_stopping=2, seed=1))

    straight = fresh(8)
    straight_result = straight.fit()
    assert straight_result.status == "early_stopped" and len(straight_result.history) == 4  # best at 2
    first = fresh(3)  # stops in the middle of the wait
    first.fit(checkpoint=tmp_path / "ckpt.pt")
    resumed = fresh(8)
    resumed_result = resumed.fit(resume_from=tmp_path / "ckpt.pt")
    assert resumed_result.status == straight_result.status
    assert [e["val_loss"] for e in resumed_result.history] == pytest.approx([e["val_loss"] for e in
                                                                              straight_result.history])
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value)


def test_options_given_at_resume_apply_and_are_recorded_or_are_refused(tmp_path):
    args = ["train", str(EXAMPLES / "mlp_xor.json"), "--data", "xor:n=200", "--out", str(tmp_path)]
    assert main([*args, "--epochs", "2", "--optimizer", "adam", "--lr", "0.001"]) == 0
    checkpoint = str(tmp_path / "checkpoint.pt")
    assert main([*args, "--epochs", "4", "--resume", checkpoint, "--optimizer", "sgd"]) == 1
    assert main([*args, "--epochs", "3", "--resume", checkpoint, "--lr", "0.5"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["lr"] == 0.5 and metrics["config"]["optimizer"] == "adam", "the run's own settings"
    assert [e["lr"] for e in metrics["epochs"]] == [0.001, 0.001, 0.5]


def test_resuming_with_another_optimizer_says_why(tmp_path, capsys):
    args = ["train", str(EXAMPLES / "mlp_xor.json"), "--data", "xor:n=200", "--out", str(tmp_path)]
    main([*args, "--epochs", "1", "--optimizer", "adam"])
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--resume", str(tmp_path / "checkpoint.pt"), "--optimizer", "sgd"]) == 1
    error = capsys.readouterr().err
    assert "the run was trained with optimizer 'adam', not 'sgd'" in error and "Traceback" not in error


@pytest.mark.parametrize("option, message", [
    (["--test-fraction", "nan"], "the test fraction must be a number from 0 up to (not including) 1, got nan"),
    (["--val-fraction", "-0.5"], "the validation fraction must be a number from 0 up to (not including) 1"),
    (["--seed", "18446744073709551616"], "seed must be 0..4294967295"),
    (["--loss", "bce_with_logits", "--data", "digits"], "bce_with_logits needs two classes and one output"),
])
def test_bad_options_are_one_line_not_a_traceback(tmp_path, capsys, option, message):
    graph = EXAMPLES / ("mlp_xor.json" if "digits" not in option else "mnist_convnet.json")
    data = [] if "--data" in option else ["--data", "xor:n=200"]
    assert main(["train", str(graph), *data, *option, "--epochs", "1", "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


def test_an_infinite_validation_loss_still_leaves_readable_metrics(tmp_path):
    prepared = prepare_training(Graph.load(EXAMPLES / "mlp_regression.json"), "temperature:n=200")
    trainer = Trainer(prepared.model, prepared.splits, TrainConfig(epochs=1))
    result = trainer.fit()
    result.history[0]["val_loss"] = float("inf")
    result.test_loss = float("nan")
    from netbuilder.core.training.experiment import write_outputs

    write_outputs(tmp_path, trainer, result, "temperature:n=200", None)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs"][0]["val_loss"] is None and metrics["test"]["loss"] is None


def test_a_batch_that_cannot_fit_in_memory_is_refused_before_anything_is_allocated(tmp_path, capsys):
    code = main(["train", str(EXAMPLES / "vgg16.json"), "--data", "mnist-5k", "--batch-size", "1000000",
                 "--out", str(tmp_path)])
    error = capsys.readouterr().err
    assert code == 1 and "training with batches of 1000000 needs" in error and "of memory available" in error
    assert re.search(r"\(batches of up to [\d,]+ fit\)", error)
