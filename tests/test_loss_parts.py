"""Each loss block's part of the objective, as it counts (weight x loss), is reported beside its raw value: the
parts add up to the objective, on the training split each epoch and on the test split at the end."""
import pytest

from netbuilder.core.model.graph import Graph
from netbuilder.core.training.config import TrainConfig, weighted_parts
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.trainer import Trainer
from tests.conftest import EXAMPLES


def test_the_weighted_parts_of_a_vae_add_up_to_its_objective():
    graph = Graph.load(EXAMPLES / "vae.json")
    setup = prepare_training(graph, "digits:size=28", val_fraction=0.1, seed=0)
    reports = []
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=1, batch_size=128), objective=setup.objective,
                      on_epoch=reports.append)
    result = trainer.fit()
    report = reports[-1]
    assert report.loss_weights == {"reconstruction_loss": 784.0, "kl": 1.0}
    parts = report.weighted_losses()
    assert parts["reconstruction_loss"] == pytest.approx(784 * report.losses["reconstruction_loss"])
    # (the epoch's loss is the mean of its batches', the parts are means over samples: a smaller last batch differs)
    assert sum(parts.values()) == pytest.approx(report.train_loss, rel=5e-3)
    test_parts = result.weighted_test_losses()
    assert sum(test_parts.values()) == pytest.approx(result.test_loss, rel=1e-4)
    assert test_parts["reconstruction_loss"] > test_parts["kl"], "the reconstruction is most of a VAE's objective"


def test_a_part_without_a_weight_counts_once():
    assert weighted_parts({"a": 2.0, "b": 3.0}, {"a": 0.5}) == {"a": 1.0, "b": 3.0}
