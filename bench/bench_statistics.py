"""What per-block statistics cost: epochs of the lecture's convnet on mnist-5k with statistics off, observing
one step in 20 (the editor's and `netbuilder train`'s default), and every step.

    python bench/bench_statistics.py [--rounds R] [--device cpu|cuda] [--threads N]

The three settings alternate, round after round, so drift in the machine's speed hits them alike. Prints the
median seconds of an epoch for each and its ratio to the epoch without statistics (1.00: free).
"""
import argparse
import statistics

from _common import EXAMPLES, steady_allocator

steady_allocator()

import torch  # noqa: E402

from netbuilder.core.build.compile import compile_graph  # noqa: E402
from netbuilder.core.data import load_dataset  # noqa: E402
from netbuilder.core.data.prepare import prepare  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402
from netbuilder.core.training.config import TrainConfig  # noqa: E402
from netbuilder.core.training.trainer import Trainer  # noqa: E402

SETTINGS = (0, 20, 1)


def epoch_seconds(graph, splits, every: int, device: str) -> float:
    torch.manual_seed(0)
    seconds = []
    trainer = Trainer(compile_graph(graph), splits, TrainConfig(epochs=1, batch_size=100, optimizer="sgd", lr=0.1,
                                                                 device=device, statistics=every),
                      on_epoch=lambda report: seconds.append(report.seconds))
    trainer.fit()
    return seconds[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    splits = prepare(load_dataset("mnist-5k"), (1, 28, 28), (10,), val_fraction=0.0, test_fraction=0.2)
    for every in SETTINGS:  # warm-up
        epoch_seconds(graph, splits, every, args.device)
    times = {every: [] for every in SETTINGS}
    for _ in range(args.rounds):
        for every in SETTINGS:
            times[every].append(epoch_seconds(graph, splits, every, args.device))
    base = statistics.median(times[0])
    print(f"lecture convnet, mnist-5k (4,000 training samples, 40 batches of 100), {args.device}, "
          f"{torch.get_num_threads()} threads, median of {args.rounds} epochs each")
    for every in SETTINGS:
        median = statistics.median(times[every])
        words = "off" if every == 0 else f"every {every} batch{'es' if every > 1 else ''}"
        print(f"statistics {words:18} {median:.3f} s per epoch   ratio {median / base:.3f}")


if __name__ == "__main__":
    main()
