"""Write examples/transfer_learning.pt: the convolutional body of the lecture's convnet, trained on mnist-5k.

    python tools/make_pretrained.py

It trains examples/mnist_convnet.json with its recipe (6 epochs, seed 0) and keeps the tensors of conv1 and
conv2, the body that examples/transfer_learning.json freezes under a new head.
"""
from __future__ import annotations

from pathlib import Path

from netbuilder.core.build.weights import save_state
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.config import TrainConfig
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.trainer import Trainer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    setup = prepare_training(graph, graph.recipe["data"])
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=graph.recipe["epochs"]), objective=setup.objective)
    result = trainer.fit()
    body = {k: v for k, v in trainer.model.state_dict().items() if k.split(".")[0] in ("conv1", "conv2")}
    save_state(body, EXAMPLES / "transfer_learning.pt")
    print(f"mnist_convnet: test accuracy {result.test_metric:.4f}; wrote {EXAMPLES / 'transfer_learning.pt'} "
          f"({', '.join(body)})")


if __name__ == "__main__":
    main()
