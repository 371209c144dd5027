"""What a sweep costs over training its trials one by one: the same values (a learning rate and a block's width,
chosen by the sweep's sampler), trained in one process as a sweep (an Optuna study in SQLite: ask, the figure reported each
epoch, tell, every trial a run of the store, a line per trial as the command prints it) and as runs made one after
another the way `netbuilder train` makes them (a run of the store, recorded, checkpointed; the dataset read once for
both, as a sweep reads it once per process).

    python bench/bench_sweep.py [--graph G.json --data SPEC --param NAME=VALUES ...] [--trials N] [--epochs E]
                                [--rounds R] [--threads T]

The two sides take turns trial by trial: as each trial of the sweep ends, the same values are trained as a run at
once (its time taken out of the sweep's), so drift in the machine's speed, which here moves whole seconds by 10-30%,
hits both alike. Everything the sweep does besides its trials once it runs (loading the study, asking, telling,
reading it back) counts on its side; making or opening the study (Sweep.open, once a sweep, 30-60 ms) does not. Prints each round's ratio, each side's training samples per second (every trial's epochs x
training samples over its wall time) and the median ratio sweep / one by one (the bar: at least 0.90, i.e. the
trials cost within 10% of the same runs).
"""
import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import EXAMPLES, steady_allocator

steady_allocator()

import torch

from netbuilder.core.model.graph import Graph
from netbuilder.core.training.config import TrainConfig
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.runs import RunRecorder, RunStore
from netbuilder.core.training.sweep import Sweep, SweepDefinition, parse_param, settle_heap, with_values
from netbuilder.core.training.sweep.trial import cached_dataset
from netbuilder.core.training.trainer import Trainer


def sweep_round(graph_file: Path, settings: dict, params: list[str], trials: int, seed: int):
    """(sweep samples, sweep seconds, one-by-one samples, one-by-one seconds) of a sweep run in this process, each
    of its trials followed at once by the same values trained one by one."""
    graph = Graph.load(graph_file)
    # no pruning: a pruned trial is not the same run as the one-by-one one (the pruner's cost is one query an epoch)
    definition = SweepDefinition([parse_param(p) for p in params], trials=trials, sampler="random", seed=seed)
    sweep = Sweep(graph, definition, settings, graph_path=graph_file, study=f"bench-{seed}")  # a study per round
    sweep.open()
    reference = {"samples": 0, "seconds": 0.0, "aside": 0.0}

    def after_trial(row) -> None:  # as each trial ends (where the command prints its line): the same values as a run
        aside = time.perf_counter()
        samples, seconds = one_by_one(graph_file, settings, [row.params])
        reference["samples"] += samples
        reference["seconds"] += seconds
        reference["aside"] += time.perf_counter() - aside

    start = time.perf_counter()
    sweep.run(on_trial=after_trial)
    seconds = time.perf_counter() - start - reference["aside"]
    store = RunStore.beside(graph_file)
    samples = sum(len(run.epochs) * samples_per_epoch(run) for run in store.runs()
                  if run.sweep and run.sweep["study"] == f"bench-{seed}")
    return samples, seconds, reference["samples"], reference["seconds"]


def samples_per_epoch(run) -> int:
    return int(run.metrics["samples"]["train"]) if run.metrics else 0


def one_by_one(graph_file: Path, settings: dict, values: list[dict]):
    """(samples, seconds) of the same values trained as runs one after another, as `netbuilder train` does."""
    graph = Graph.load(graph_file)
    store = RunStore.beside(graph_file)
    samples, start = 0, time.perf_counter()
    for trial_values in values:
        trial_graph, trial_settings = with_values(graph, settings, trial_values)
        config = TrainConfig(**{k: v for k, v in trial_settings.items() if k in TrainConfig.__dataclass_fields__})
        config.check()
        recorded = {**config.to_dict(), **{k: trial_settings[k] for k in ("data", "val_fraction", "test_fraction")}}
        run = store.create(trial_graph, recorded, graph_path=graph_file)
        setup = prepare_training(trial_graph, trial_settings["data"], val_fraction=trial_settings["val_fraction"],
                                 test_fraction=trial_settings["test_fraction"], seed=config.seed, load=cached_dataset,
                                 config=config)
        trainer = Trainer(setup.model, setup.splits, config, objective=setup.objective)
        with RunRecorder(run) as recorder:
            recorder.attach(trainer)
            result = trainer.fit(checkpoint=run.checkpoint_file)
            recorder.finish(trainer, result, data=trial_settings["data"], graph_path=str(graph_file))
        samples += len(trainer.history) * len(setup.splits.train)
    return samples, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graph", default=str(EXAMPLES / "mlp_xor.json"))
    parser.add_argument("--data", default="xor:n=4000:noise=0:margin=0.2")
    parser.add_argument("--param", action="append", default=None, metavar="NAME=VALUES")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    params = args.param or ["lr=1e-3:0.3:log", "fc1.out_features=4,8,16"]
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        graph_file = folder / Path(args.graph).name
        shutil.copy(args.graph, graph_file)
        settings = {"data": args.data, "epochs": args.epochs, "batch_size": args.batch_size, "val_fraction": 0.1,
                    "test_fraction": 0.2, "compile": "off", "statistics": 0}
        ratios, rates = [], {"sweep": [], "one by one": []}
        sweep_round(graph_file, settings, params, 1, 1000)  # first-time costs (imports, kernels) out of it
        settle_heap()  # as `netbuilder sweep` does before its trials (both sides gain alike)
        for round_ in range(args.rounds):
            samples, seconds, reference_samples, reference_seconds = sweep_round(graph_file, settings, params,
                                                                                 args.trials, round_)
            # the sweep may prune: compare rates (samples per second), not totals
            sweep_rate, reference_rate = samples / seconds, reference_samples / reference_seconds
            rates["sweep"].append(sweep_rate)
            rates["one by one"].append(reference_rate)
            ratios.append(sweep_rate / reference_rate)
            print(f"  round {round_ + 1}: {ratios[-1]:.3f}", flush=True)
        print(f"{Path(args.graph).name} on {args.data}: {args.trials} trials of {' '.join(params)}, {args.epochs} epochs "
              f"each, batches of {args.batch_size}; {torch.get_num_threads()} threads; median of {args.rounds} rounds")
        for side, values in rates.items():
            print(f"{side:12} {statistics.median(values):12,.0f} training samples/s")
        print(f"ratio sweep / one by one: {statistics.median(ratios):.3f} (the bar: >= 0.90)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
