"""netbuilder's Trainer against the lecture's hand-written PyTorch loop: same network, data, batch size.

    python bench/bench_train.py [--device cpu|cuda] [--epochs N] [--rounds R]

The lecture's convnet (netbuilder/examples/mnist_convnet.json, compiled by netbuilder) is trained by the Trainer,
and the same network written by hand is trained by the lecture's loop (no shuffling, narrow() batches,
no metrics), on the same 4,000 mnist-5k samples, batch 100, plain SGD. The runs alternate, so drift in
the machine's speed hits both alike (short runs, many rounds: this VM drifts by several % between
multi-second runs). Prints samples/s of each and their ratio (target >= 0.97): for the
training itself, and end to end (the Trainer then also evaluates the test split; the lecture loop does not).
"""
import argparse
import statistics
import time

from _common import EXAMPLES, steady_allocator

steady_allocator()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from netbuilder.core.compile import compile_graph  # noqa: E402
from netbuilder.core.data import load_dataset  # noqa: E402
from netbuilder.core.data.prepare import prepare  # noqa: E402
from netbuilder.core.graph import Graph  # noqa: E402
from netbuilder.core.train import TrainConfig, Trainer  # noqa: E402
from tests.test_compile import LectureNet  # noqa: E402  (the lecture's network, written out once)


def lecture_loop(train_input, train_target, epochs, device, batch=100, lr=0.1) -> float:
    """The lecture's training loop (cross-entropy in place of its one-hot MSE); returns its seconds."""
    model = LectureNet().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    train_input, train_target = train_input.to(device), train_target.to(device)
    start = time.perf_counter()
    for _ in range(epochs):
        for b in range(0, train_input.size(0), batch):
            output = model(train_input.narrow(0, b, batch))
            loss = criterion(output, train_target.narrow(0, b, batch))
            model.zero_grad()
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def netbuilder_run(graph, splits, epochs, device) -> tuple[float, float]:
    """Seconds of training (run() to the end of the last epoch) and of the whole run() (which then also
    evaluates the test split, as the lecture loop does not). Compiling and set-up are outside both, as
    the lecture's model construction is."""
    model = compile_graph(graph)
    config = TrainConfig(epochs=epochs, batch_size=100, optimizer="sgd", lr=0.1, device=device.type)
    ends = []
    trainer = Trainer(model, splits, config, on_epoch=lambda report: ends.append(time.perf_counter()))
    start = time.perf_counter()
    trainer.fit()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return ends[-1] - start, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    device = torch.device(args.device)
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    splits = prepare(load_dataset("mnist-5k"), (1, 28, 28), (10,), val_fraction=0.0, test_fraction=0.2)
    x, y = splits.train.x, splits.train.y
    samples = len(x) * args.epochs
    netbuilder_run(graph, splits, 1, device)  # warm-up both
    lecture_loop(x, y, 1, device)
    ours, ours_total, theirs = [], [], []
    for _ in range(args.rounds):
        theirs.append(samples / lecture_loop(x, y, args.epochs, device))
        training, whole = netbuilder_run(graph, splits, args.epochs, device)
        ours.append(samples / training)
        ours_total.append(samples / whole)
    hand, nb, nb_total = statistics.median(theirs), statistics.median(ours), statistics.median(ours_total)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {len(x)} samples x {args.epochs} epochs, "
          f"batch 100, median of {args.rounds} alternating runs")
    print(f"  hand-written lecture loop:    {hand:9.0f} samples/s")
    print(f"  netbuilder Trainer, training: {nb:9.0f} samples/s   (shuffling, metrics and per-epoch bookkeeping)")
    print(f"  ... and its test evaluation:  {nb_total:9.0f} samples/s   (end to end)")
    print(f"ratio netbuilder / hand-written, training: {nb / hand:.3f}; end to end: {nb_total / hand:.3f}")


if __name__ == "__main__":
    main()
