"""netbuilder's Trainer against the lecture's hand-written PyTorch loop: same network, data, batch size.

    python bench/bench_train.py [--device cpu|cuda] [--epochs N]

The lecture's convnet (examples/mnist_convnet.json, compiled by netbuilder) is trained by the Trainer,
and the same network written by hand is trained by the lecture's loop (no shuffling, narrow() batches,
no metrics), on the same 4,000 mnist-5k samples, batch 100, plain SGD. The runs alternate, so drift in
the machine's speed hits both alike. Prints samples/s of each and their ratio (target >= 0.97).
"""
import argparse
import statistics
import time

from _common import EXAMPLES, steady_allocator

steady_allocator()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from netbuilder.core.compile import compile_graph  # noqa: E402
from netbuilder.core.data import load_dataset  # noqa: E402
from netbuilder.core.data.prepare import prepare  # noqa: E402
from netbuilder.core.graph import Graph  # noqa: E402
from netbuilder.core.train import TrainConfig, Trainer  # noqa: E402


class Net(nn.Module):
    """The lecture's convnet, as written there."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
        self.fc1 = nn.Linear(256, 200)
        self.fc2 = nn.Linear(200, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), kernel_size=3, stride=3))
        x = F.relu(F.max_pool2d(self.conv2(x), kernel_size=2, stride=2))
        x = F.relu(self.fc1(x.view(-1, 256)))
        return self.fc2(x)


def lecture_loop(train_input, train_target, epochs, device, batch=100, lr=0.1):
    """The lecture's training loop (cross-entropy in place of its one-hot MSE)."""
    model = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    train_input, train_target = train_input.to(device), train_target.to(device)
    for _ in range(epochs):
        for b in range(0, train_input.size(0), batch):
            output = model(train_input.narrow(0, b, batch))
            loss = criterion(output, train_target.narrow(0, b, batch))
            model.zero_grad()
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def netbuilder_run(graph, splits, epochs, device):
    model = compile_graph(graph)
    config = TrainConfig(epochs=epochs, batch_size=100, optimizer="sgd", lr=0.1, device=device.type)
    Trainer(model, splits, config).run()
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    splits = prepare(load_dataset("mnist-5k"), (1, 28, 28), (10,), val_fraction=0.0, test_fraction=0.2)
    x, y = splits.train.x, splits.train.y
    samples = len(x) * args.epochs
    netbuilder_run(graph, splits, 1, device)  # warm-up both
    lecture_loop(x, y, 1, device)
    ours, theirs = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        lecture_loop(x, y, args.epochs, device)
        theirs.append(samples / (time.perf_counter() - start))
        start = time.perf_counter()
        netbuilder_run(graph, splits, args.epochs, device)
        ours.append(samples / (time.perf_counter() - start))
    hand, nb = statistics.median(theirs), statistics.median(ours)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {len(x)} samples x {args.epochs} epochs, "
          f"batch 100, median of {args.rounds} alternating runs")
    print(f"  hand-written lecture loop: {hand:9.0f} samples/s")
    print(f"  netbuilder Trainer:        {nb:9.0f} samples/s   (includes shuffling, metrics, test evaluation)")
    print(f"ratio netbuilder / hand-written: {nb / hand:.3f}")


if __name__ == "__main__":
    main()
