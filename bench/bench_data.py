"""Streaming data against data held in memory: the lecture's convnet trained on the same image folder both ways.

    python bench/bench_data.py [--images 5000] [--epochs 3] [--rounds 3] [--threads N]

The mnist-5k digits are written as PNG files, one sub-folder per class (an image folder as a user has one). The
same run (seed, splits, batch 100, SGD) is trained with the folder read into memory at the start, and streamed:
with a memory budget of 0, so that DataLoader worker processes decode the PNGs of each batch on the fly. Prints
samples/s of the training epochs (the median epoch) and end to end (loading included: in memory, every file is
decoded once before training; streamed, the training split's statistics take one pass), and their ratios.
"""
import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from _common import EXAMPLES, steady_allocator

steady_allocator()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from netbuilder.core.data import load_dataset  # noqa: E402
from netbuilder.core.data.stream import workers  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402
from netbuilder.core.training.config import TrainConfig  # noqa: E402
from netbuilder.core.training.experiment import prepare_training  # noqa: E402
from netbuilder.core.training.trainer import Trainer  # noqa: E402


def write_folder(root: Path, count: int) -> Path:
    from PIL import Image

    data = load_dataset("mnist-5k").data
    for c in range(10):
        (root / str(c)).mkdir(parents=True)
    for i in range(min(count, len(data))):
        pixels = (data.x[i, 0].numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(root / str(int(data.y[i])) / f"{i:05d}.png")
    return root


def one_run(graph, spec, budget, epochs) -> tuple[float, float, float, int]:
    """(median epoch samples/s, end-to-end samples/s, test accuracy, training samples)."""
    start = time.perf_counter()
    setup = prepare_training(graph, spec, seed=0, val_fraction=0.0,
                             load=lambda s, shape: load_dataset(s, shape, memory_budget=budget))
    rates = []
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=epochs, batch_size=100, optimizer="sgd", lr=0.1,
                                                             compile="off"),
                      on_epoch=lambda r: rates.append(r.samples_per_s))
    result = trainer.fit()
    n = len(setup.splits.train)
    return statistics.median(rates), n * epochs / (time.perf_counter() - start), result.test_metric, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    with tempfile.TemporaryDirectory() as folder:
        spec = f"images:{write_folder(Path(folder) / 'digits', args.images)}"
        one_run(graph, spec, math.inf, 1)  # warm-up: the files in the page cache, torch's first steps
        results = {"memory": [], "stream": []}
        for _ in range(args.rounds):
            results["memory"].append(one_run(graph, spec, math.inf, args.epochs))
            results["stream"].append(one_run(graph, spec, 0, args.epochs))
    (m_epoch, m_total, m_acc, n), (s_epoch, s_total, s_acc, _) = (
        tuple(statistics.median(r[i] for r in results[k]) for i in range(4)) for k in ("memory", "stream"))
    print(f"{n} training images (PNG, 28x28), batch 100, {args.epochs} epochs, median of {args.rounds} alternating "
          f"runs; {workers()} worker process(es); torch threads {torch.get_num_threads()}")
    print(f"  in memory:  {m_epoch:8.0f} samples/s per epoch, {m_total:8.0f} end to end; test accuracy {m_acc:.4f}")
    print(f"  streamed:   {s_epoch:8.0f} samples/s per epoch, {s_total:8.0f} end to end; test accuracy {s_acc:.4f}")
    print(f"ratio streamed / in memory: {s_epoch / m_epoch:.3f} per epoch; {s_total / m_total:.3f} end to end")


if __name__ == "__main__":
    main()
