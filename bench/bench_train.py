"""netbuilder's Trainer against the lecture's hand-written PyTorch loop: same network, data, batch size.

    python bench/bench_train.py [--device cpu|cuda] [--short-epochs 1] [--long-epochs 30] [--rounds 5]
                                [--long-rounds 3] [--all] [--warm-cache] [--threads N]

The lecture's convnet (examples/mnist_convnet.json, compiled by netbuilder) is trained on the same 4,000 mnist-5k
samples, batch 100, plain SGD, and tested on the other 1,000:
  - hand-written fp32: the lecture's loop (no shuffling, narrow() batches, no metrics) on the network written by
    hand, then its test error count (compute_nb_errors), eagerly, in float32: the reference every ratio is to;
  - hand-written bf16 + channels_last: the same loop with the model in channels_last memory and
    torch.autocast(bfloat16) around the forward and the loss: the best a person writes by hand on a CPU whose
    cores have bfloat16 (AMX, AVX-512 BF16) or on a GPU;
  - Trainer: netbuilder's Trainer as it comes (tune=auto: channels_last, and bf16 autocast where its first batches
    measure it faster with the same loss; compile=auto: torch.compile on another thread when the run is long
    enough to gain, kept if faster);
  - Trainer as written: tune=off, compile=off (float32, NCHW: what the hand-written fp32 loop runs);
  - with --all also: Trainer, compile always; Trainer, compile off (tuned).
Each figure is samples/s end to end: from the first batch to the test accuracy, compile time included (the
Trainer also shuffles, keeps metrics and evaluates the test split). A short run (1 epoch) and a long one (30
epochs), several rounds of each; within a round the runs alternate, so drift in the machine's speed hits all
alike. Reported: the median over rounds and the spread [min-max]; each ratio is taken within a round against
that round's hand-written fp32 run, then its median and spread over the rounds. Also each run's test accuracy.
The compiler's caches start empty (a new TORCHINDUCTOR_CACHE_DIR), as on a first run, unless --warm-cache.

Targets (issue 22), on a CPU with native bf16: the Trainer's long run >= 1.8x the hand-written fp32 loop, its
short run >= 1.3x, its test accuracy within 0.5 points of the fp32 run's; on a CPU without bf16, never slower
than before (the tuning keeps float32). The defaults take a few minutes on 2 cores. On a machine shared with other
work, --threads 1 keeps torch's threads from waiting on each other (the ratios are then steadier).
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
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from netbuilder.core.build.compile import compile_graph  # noqa: E402
from netbuilder.core.data import load_dataset  # noqa: E402
from netbuilder.core.data.prepare import prepare  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402
from netbuilder.core.training import background_compile  # noqa: E402
from netbuilder.core.training.config import TrainConfig  # noqa: E402
from netbuilder.core.training.trainer import Trainer  # noqa: E402
from netbuilder.core.training.tuning import native_bf16  # noqa: E402
from tests.test_compile import LectureNet  # noqa: E402  (the lecture's network, written out once)


class LectureNetAnyLayout(LectureNet):
    """The lecture's network with reshape() in place of view(): view() cannot read channels_last memory."""

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), kernel_size=3, stride=3))
        x = F.relu(F.max_pool2d(self.conv2(x), kernel_size=2, stride=2))
        x = F.relu(self.fc1(x.reshape(len(x), 256)))
        return self.fc2(x)


def hand_written(data, epochs, device, bf16=False, batch=100, lr=0.1) -> tuple[float, float]:
    """The lecture's training loop (cross-entropy in place of its one-hot MSE) and its test error count, in float32
    or (bf16) with channels_last memory and bfloat16 autocast; (seconds, test accuracy)."""
    train_input, train_target, test_input, test_target = (t.to(device) for t in data)
    torch.manual_seed(0)
    model = (LectureNetAnyLayout() if bf16 else LectureNet()).to(device)
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    precision = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    start = time.perf_counter()
    for _ in range(epochs):
        for b in range(0, train_input.size(0), batch):
            with precision:
                output = model(train_input.narrow(0, b, batch))
                loss = criterion(output, train_target.narrow(0, b, batch))
            model.zero_grad()
            loss.backward()
            optimizer.step()
    errors = 0
    with torch.no_grad(), precision:
        for b in range(0, test_input.size(0), batch):
            predicted = model(test_input.narrow(0, b, batch)).argmax(1)
            errors += int((predicted != test_target.narrow(0, b, batch)).sum())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, 1 - errors / test_input.size(0)


def trainer_run(graph, splits, epochs, device, compile_mode, tune="auto") -> tuple[float, float, str]:
    """Seconds of Trainer.fit() (training and its test evaluation; compiling happens meanwhile), its test accuracy
    and its notes."""
    torch.manual_seed(0)
    model = compile_graph(graph)
    config = TrainConfig(epochs=epochs, batch_size=100, optimizer="sgd", lr=0.1, device=device.type,
                         compile=compile_mode, tune=tune)
    trainer = Trainer(model, splits, config)
    start = time.perf_counter()
    result = trainer.fit()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    background_compile.finish()  # a compile still running would slow the next run
    return seconds, result.test_metric, "; ".join(trainer.notes)


def spread(values, fmt) -> str:
    return f"{fmt(statistics.median(values))} [{fmt(min(values))}-{fmt(max(values))}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--short-epochs", type=int, default=1)
    parser.add_argument("--long-epochs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the short runs")
    parser.add_argument("--long-rounds", type=int, default=3, help="rounds of the long runs")
    parser.add_argument("--all", action="store_true", help="also the Trainer with compile always, and compile off")
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
    runs = {  # name: (label, run(epochs) -> (seconds, accuracy, notes))
        "hand": ("hand-written fp32 eager", lambda e: (*hand_written(data, e, device), "")),
        "hand_bf16": ("hand-written bf16 + channels_last", lambda e: (*hand_written(data, e, device, bf16=True), "")),
        "trainer": ("Trainer (defaults: tune, compile auto)", lambda e: trainer_run(graph, splits, e, device, "auto")),
        "written": ("Trainer as written (tune off, compile off)",
                    lambda e: trainer_run(graph, splits, e, device, "off", "off")),
    }
    if args.all:
        runs["always"] = ("Trainer, compile always", lambda e: trainer_run(graph, splits, e, device, "always"))
        runs["eager"] = ("Trainer, compile off (tuned)", lambda e: trainer_run(graph, splits, e, device, "off"))
    for run in runs.values():  # warm-up: torch's first backward, oneDNN's kernels, the data's first touch
        run[1](1)
    bf16 = native_bf16() if device.type == "cpu" else ("bf16" if device.type == "cuda" and
                                                        torch.cuda.is_bf16_supported() else None)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}; native bf16: {bf16 or 'none'}), torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, {n} training samples, batch 100, SGD lr 0.1; "
          f"{'warm' if args.warm_cache else 'empty'} compiler caches at start")
    for label, epochs, rounds, target in (("short", args.short_epochs, args.rounds, 1.3),
                                          ("long", args.long_epochs, args.long_rounds, 1.8)):
        rates = {key: [] for key in runs}
        ratios = {key: [] for key in runs}
        accuracy = {key: [] for key in runs}
        notes = {key: "" for key in runs}
        for _ in range(rounds):
            for key, (_, run) in runs.items():
                seconds, acc, note = run(epochs)
                rates[key].append(n * epochs / seconds)
                accuracy[key].append(acc)
                notes[key] = note or notes[key]
            for key in runs:
                ratios[key].append(rates[key][-1] / rates["hand"][-1])
        print(f"{label} run, {epochs} epoch{'s' if epochs > 1 else ''}, {rounds} rounds: samples/s median "
              "[min-max]; ratio to the hand-written fp32 loop of the same round, median [min-max]")
        for key, (name, _) in runs.items():
            print(f"  {name:43s} {spread(rates[key], lambda v: f'{v:,.0f}'):28s} "
                  f"{spread(ratios[key], lambda v: f'{v:.2f}x')}")
        trainer_ratio = statistics.median(ratios["trainer"])
        print(f"  target on a CPU with native bf16: Trainer >= {target}x; measured {trainer_ratio:.2f}x")
        hand_acc, trainer_acc = statistics.median(accuracy["hand"]), statistics.median(accuracy["trainer"])
        print(f"  test accuracy (median): hand-written fp32 {hand_acc:.2%}, hand-written bf16 + channels_last "
              f"{statistics.median(accuracy['hand_bf16']):.2%}, Trainer {trainer_acc:.2%} "
              f"({(trainer_acc - hand_acc) * 100:+.2f} points; target within 0.5)")
        for key in ("trainer", "always"):
            if notes.get(key):
                print(f"  {runs[key][0]} said: {notes[key]}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
