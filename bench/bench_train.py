"""netbuilder's Trainer against the lecture's hand-written PyTorch loop: same network, data, batch size.

    python bench/bench_train.py [--device cpu|cuda] [--short-epochs 1] [--long-epochs 30] [--rounds 5]
                                [--long-rounds 1] [--warm-cache] [--threads N]

The lecture's convnet (examples/mnist_convnet.json, compiled by netbuilder) is trained on the same 4,000
mnist-5k samples, batch 100, plain SGD, and tested on the other 1,000, three ways:
  - hand-written: the lecture's loop (no shuffling, narrow() batches, no metrics) on the network written by hand,
    then its test error count (compute_nb_errors), eagerly;
  - Trainer, background compilation: netbuilder's Trainer as it comes (compile=auto, tune=auto): it starts eagerly
    and, when the run is long enough to gain, compiles the model with torch.compile on another thread, times it
    against the eager model and keeps the faster;
  - Trainer, compile always: switches to the compiled model as soon as it is ready (whether faster or not);
  - Trainer, eager: compile=off (with its default tune=auto: channels_last memory on this CPU);
  - Trainer, eager, as written: compile=off, tune=off (float32, NCHW: what the hand-written loop runs).
Each figure is samples/s end to end: from the first batch to the test accuracy, compile time included (the
Trainer also shuffles, keeps metrics and evaluates the test split). A short run (1 epoch) and a long one (30
epochs); the runs alternate, so drift in the machine's speed hits all alike, and the median is reported. The
compiler's caches start empty (a new TORCHINDUCTOR_CACHE_DIR), as on a first run, unless --warm-cache. Targets on
a 2-core CPU: long run >= 1.3x the hand-written loop, short run >= 0.95x. On a machine shared with other work,
--threads 1 keeps torch's threads from waiting on each other (the ratios are then steady).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

from _common import EXAMPLES, steady_allocator

steady_allocator()

if "--warm-cache" not in sys.argv:  # before torch is imported: a first run's compile, with nothing cached
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="netbuilder-bench-inductor-")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from netbuilder.core.build.compile import compile_graph  # noqa: E402
from netbuilder.core.data import load_dataset  # noqa: E402
from netbuilder.core.data.prepare import prepare  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402
from netbuilder.core.training.config import TrainConfig  # noqa: E402
from netbuilder.core.training.trainer import Trainer  # noqa: E402
from tests.test_compile import LectureNet  # noqa: E402  (the lecture's network, written out once)


def hand_written(train_input, train_target, test_input, test_target, epochs, device, batch=100, lr=0.1) -> float:
    """The lecture's training loop (cross-entropy in place of its one-hot MSE) and its test error count; seconds."""
    torch.manual_seed(0)
    model = LectureNet().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    train_input, train_target = train_input.to(device), train_target.to(device)
    test_input, test_target = test_input.to(device), test_target.to(device)
    start = time.perf_counter()
    for _ in range(epochs):
        for b in range(0, train_input.size(0), batch):
            output = model(train_input.narrow(0, b, batch))
            loss = criterion(output, train_target.narrow(0, b, batch))
            model.zero_grad()
            loss.backward()
            optimizer.step()
    errors = 0
    with torch.no_grad():
        for b in range(0, test_input.size(0), batch):
            predicted = model(test_input.narrow(0, b, batch)).argmax(1)
            errors += int((predicted != test_target.narrow(0, b, batch)).sum())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def trainer_run(graph, splits, epochs, device, compile_mode, tune="auto") -> tuple[float, str]:
    """Seconds of Trainer.fit() (training and its test evaluation; compiling happens meanwhile), and its notes."""
    torch.manual_seed(0)
    model = compile_graph(graph)
    config = TrainConfig(epochs=epochs, batch_size=100, optimizer="sgd", lr=0.1, device=device.type,
                         compile=compile_mode, tune=tune)
    trainer = Trainer(model, splits, config)
    start = time.perf_counter()
    trainer.fit()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    from netbuilder.core.training import background_compile

    background_compile.finish()  # a compile still running would slow the next run
    return seconds, "; ".join(trainer.notes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--short-epochs", type=int, default=1)
    parser.add_argument("--long-epochs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the short runs")
    parser.add_argument("--long-rounds", type=int, default=1, help="rounds of the long runs")
    parser.add_argument("--warm-cache", action="store_true", help="use the compiler's caches as they are")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    splits = prepare(load_dataset("mnist-5k"), (1, 28, 28), (10,), val_fraction=0.0, test_fraction=0.2)
    data = (splits.train.x, splits.train.y, splits.test.x, splits.test.y)
    n = len(splits.train)
    hand_written(*data, 1, device)  # warm-up both (torch's first backward, the data's first touch)
    trainer_run(graph, splits, 1, device, "off")
    print(f"device {device}, torch threads {torch.get_num_threads()}, {n} training samples, batch 100, SGD; "
          f"{'warm' if args.warm_cache else 'empty'} compiler caches at start")
    for label, epochs, rounds in (("short", args.short_epochs, args.rounds), ("long", args.long_epochs,
                                                                               args.long_rounds)):
        rates = {"hand": [], "compiled": [], "always": [], "eager": [], "untuned": []}
        notes = always_notes = ""
        for _ in range(rounds):
            rates["hand"].append(n * epochs / hand_written(*data, epochs, device))
            seconds, notes = trainer_run(graph, splits, epochs, device, "auto")
            rates["compiled"].append(n * epochs / seconds)
            seconds, always_notes = trainer_run(graph, splits, epochs, device, "always")
            rates["always"].append(n * epochs / seconds)
            rates["eager"].append(n * epochs / trainer_run(graph, splits, epochs, device, "off")[0])
            rates["untuned"].append(n * epochs / trainer_run(graph, splits, epochs, device, "off", "off")[0])
        hand, compiled, always, eager, untuned = (statistics.median(rates[k])
                                                  for k in ("hand", "compiled", "always", "eager", "untuned"))
        print(f"{label} run, {epochs} epoch{'s' if epochs > 1 else ''}, median of {rounds}:")
        print(f"  hand-written eager loop:              {hand:8.0f} samples/s")
        print(f"  Trainer, background compilation:     {compiled:8.0f} samples/s  {compiled / hand:.3f}x"
              + (f"  ({notes})" if notes else "  (did not compile: the run is too short to gain)"))
        print(f"  Trainer, compile always:              {always:8.0f} samples/s  {always / hand:.3f}x  ({always_notes})")
        print(f"  Trainer, eager (compile off):         {eager:8.0f} samples/s  {eager / hand:.3f}x")
        print(f"  Trainer, eager, as written (tune off): {untuned:7.0f} samples/s  {untuned / hand:.3f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
