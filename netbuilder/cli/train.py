"""`netbuilder train GRAPH [--data SPEC] [options]`: train headless, on one process or several (torchrun), as a new
run in GRAPH's store (GRAPH.runs/NNN-LABEL: weights.pt, metrics.json, curves, pictures; core/training/runs), or
exactly into --out DIR. `--run ID` resumes a run of the store from its checkpoint, as a new run."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..core.build.weights import graph_weights
from .common import fail, load_graph
from .progress import ProgressLine


def register(commands) -> None:
    from ..core.data.specs import SPEC_HELP
    from ..core.training.config import DEVICES, LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    train = commands.add_parser(
        "train", help="train a graph headless, as a new run in GRAPH's store (GRAPH.runs); prints its id",
        description="Train a graph headless, as a new run in the store beside it (GRAPH.runs/NNN-LABEL: run.json, "
                    "graph.json, weights.pt, metrics.json, curves.json, checkpoint.pt, pictures; `netbuilder runs "
                    "GRAPH` lists them). Each setting comes from its option, else the resumed run's, else the graph's "
                    "recipe (the examples carry theirs), else the default shown.")
    train.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    train.add_argument("--data", metavar="SPEC", help=f"the dataset (default: the recipe's): {SPEC_HELP}")
    train.add_argument("--epochs", type=int, help=f"default {d.epochs}")
    train.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    train.add_argument("--lr", type=float, help=f"learning rate (default {d.lr:g})")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d.optimizer}")
    train.add_argument("--momentum", type=float, help=f"momentum, nesterov and rmsprop (default {d.momentum:g})")
    train.add_argument("--beta1", type=float, help=f"Adam's decay of its mean gradient (default {d.beta1:g}; GANs: 0.5)")
    train.add_argument("--weight-decay", type=float, help="L2 penalty (default 0)")
    train.add_argument("--l1", type=float, help="L1 penalty on all weights (default 0)")
    train.add_argument("--loss", choices=LOSSES, help="for a graph without loss blocks (default auto)")
    train.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default none)")
    train.add_argument("--step-size", type=int, help=f"epochs between decays of the step schedule (default "
                                                     f"{d.step_size})")
    train.add_argument("--gamma", type=float, help=f"the schedule's decay factor (default {d.gamma:g})")
    train.add_argument("--grad-clip", type=float, help="max gradient norm (default 0: off)")
    train.add_argument("--early-stopping", type=int, metavar="EPOCHS",
                       help="stop when the validation loss has not improved for this many epochs")
    train.add_argument("--augment", metavar="SPEC",
                       help="comma-separated, each with its strength: flip, vflip, crop=4, translate=0.1, rotate=15, "
                            "scale=0.1, brightness=0.2, contrast=0.2, colour=0.2, noise=0.1, erase=0.2 (a probability "
                            "after a colon: rotate=15:p=0.5); masks move with their images ('none': off)")
    train.add_argument("--memory-budget", type=float, metavar="MB",
                       help="datasets whose samples take more (as float32) stream from disk through worker processes "
                            "(default: a quarter of the free memory)")
    train.add_argument("--val-fraction", type=float, help="default 0.1")
    train.add_argument("--test-fraction", type=float, help="unless the dataset has its own test set (default 0.2)")
    train.add_argument("--seed", type=int, help=f"default {d.seed}")
    train.add_argument("--device", choices=DEVICES, help="default auto")
    train.add_argument("--bf16", action="store_const", const=True, help="bfloat16 autocast (CUDA GPUs that have it; CPUs whose cores have AMX or "
                            "AVX-512 BF16); weights and checkpoints stay float32")
    train.add_argument("--fp16", action="store_const", const=True, help="float16 autocast with loss scaling (CUDA)")
    train.add_argument("--weights", metavar="FILE", help="start from these weights (a state_dict: .pt or "
                       ".safetensors; the tensors that fit the graph); default: the "
                       "weights the graph names (an imported model's), else fresh ones")
    train.add_argument("--statistics", type=int, default=20, metavar="N",
                       help="per-block statistics in metrics.json (activations, gradients, weight updates; dead "
                            "ReLUs and vanishing gradients are named): observe one step every N batches (default "
                            "20; 0: off)")
    train.add_argument("--run", dest="run_id", metavar="ID", help="resume this run of GRAPH's store from its checkpoint (number, folder "
                       "name or last), as a new run: the earlier one stays as it was")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from a checkpoint.pt file")
    train.add_argument("--name", help="the new run's name (default: its number)")
    train.add_argument("--note", help="a note kept with the run")
    train.add_argument("--out", metavar="DIR", help="write weights.pt, metrics.json, checkpoint.pt and the pictures "
                       "exactly into DIR (replacing those there), not as a run of the store")
    from ..core.training.config import COMPILE_MODES

    train.add_argument("--compile", choices=COMPILE_MODES,
                       help="torch.compile the model on another thread while training starts eagerly, and switch to "
                            "it when ready: auto (when the run is long enough to gain; the default), always, off")
    from ..core.training.config import TUNE_MODES

    train.add_argument("--tune", choices=TUNE_MODES,
                       help="auto (the default): channels_last memory for convolutions on CPUs and GPUs; bf16 autocast "
                            "(fp16 on GPUs without bf16) where the first batches measure it faster with the same loss; "
                            "off: exactly as written, in float32")
    add_distributed_options(train)
    train.set_defaults(run=run)


TRAIN_OPTIONS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "beta1", "weight_decay", "l1", "loss", "schedule",
                 "step_size", "gamma", "grad_clip", "early_stopping", "seed", "device", "bf16", "fp16", "compile", "tune")


def run(args: argparse.Namespace) -> int:
    from ..core.training import distributed

    if (args.nproc_per_node or args.nnodes or args.rdzv_endpoint) and not distributed.in_worker():
        load_graph(args.graph)  # a missing or bad graph is said once, here, not by every process
        return distributed.launch(args.argv, args.nproc_per_node or 1, args.nnodes or 1, args.rdzv_endpoint)
    finished = False
    try:
        code = _train(args, distributed)
        finished = code == 0
        return code
    finally:
        distributed.shutdown(together=finished)


def _train(args: argparse.Namespace, distributed) -> int:
    from ..core.model.recipe import CONFIG_KEYS, resolve
    from ..core.training.checkpoint import checkpoint_config
    from ..core.training.config import TrainConfig

    graph = load_graph(args.graph)
    explicit = {key: getattr(args, key) for key in TRAIN_OPTIONS}
    explicit.update(data=args.data, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                    augment=_augment_option(args.augment))
    resumed_run = _resumed_run(args)
    resume = resumed_run.checkpoint_file if resumed_run is not None else args.resume
    resumed = checkpoint_config(resume) if resume else None
    if resumed_run is not None:  # its dataset and split too
        resumed = {**{k: v for k, v in resumed_run.settings.items() if k in ("data", "val_fraction", "test_fraction")},
                   **resumed}
    settings = resolve(explicit, graph.recipe, resumed)
    if "data" not in settings:
        return fail(f"{args.graph}: no dataset: give --data SPEC (the graph carries no recipe that names one)")
    config = TrainConfig(**{k: settings[k] for k in (*CONFIG_KEYS, "device", "bf16", "fp16", "compile", "tune")
                            if k in settings})
    config.statistics = args.statistics
    config.check()
    settings.setdefault("val_fraction", 0.1)
    settings.setdefault("test_fraction", 0.2)
    world = distributed.init(config.device) if distributed.in_worker() else None
    main_process = world is None or world.is_main
    progress = ProgressLine() if main_process else ProgressLine(open(os.devnull, "w"))  # noqa: SIM115
    try:
        return _run(args, distributed, graph, settings, config, resume, resumed_run, world, main_process, progress)
    finally:
        progress.close()  # a bar cut short by an error is taken away before the error's line


def _run(args, distributed, graph, settings, config, resume, resumed_run, world, main_process,
         progress: ProgressLine) -> int:
    from ..core.inside.pictures import write_pictures
    from ..core.training.experiment import prepare_training, write_outputs
    from ..core.training.trainer import Trainer

    notes: list[str] = []
    from ..core.data.specs import load_dataset

    budget = args.memory_budget * 2**20 if args.memory_budget is not None else None
    if budget is not None and not budget >= 0:
        return fail(f"--memory-budget must be a number of MB >= 0, got {args.memory_budget}")
    if world is not None:  # one process per machine fetches a dataset named without a folder; the others wait
        if world.local_rank == 0:
            _fetch_dataset(settings["data"], progress)
        distributed.barrier()
    weights = args.weights or graph_weights(graph, args.graph)
    setup = prepare_training(graph, settings["data"], val_fraction=settings["val_fraction"],
                             test_fraction=settings["test_fraction"], seed=config.seed,
                             weights=weights, notes=notes, config=config,
                             load=lambda spec, shape: load_dataset(spec, shape, progress=progress.download,
                                                                   memory_budget=budget))
    say = progress.note if main_process else (lambda text: None)
    trainer = Trainer(setup.model, setup.splits, config, objective=setup.objective,
                      on_batch=progress.batch if main_process else None,
                      on_epoch=progress.epoch if main_process else None, world=world,
                      on_log=lambda text: say(f"note: {text}") if text in trainer.notes else None)  # not the result
    for note in notes:
        say(f"weights: {note}")
    for note in setup.splits.notes:
        say(f"data: {note}")
    where = f"{world.size} processes ({world.backend}), batches of {config.batch_size} each" if world else \
        f"{trainer.device}"
    say(f"training {Path(args.graph).name} on {settings['data']}: {len(setup.splits.train)} training samples, "
        f"{trainer.objective.describe()}, {config.optimizer} lr {config.lr:g}, {config.epochs} epochs, on {where}")

    def fit(checkpoint):
        progress.start(config.epochs)
        with progress.warnings_as_notes():
            result = trainer.fit(resume_from=resume, checkpoint=checkpoint)
        progress.close()
        return result

    if not main_process:
        result = fit(None)
        return 1 if result.status == "diverged" else 0
    if args.out:
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        result = fit(out_dir / "checkpoint.pt")
        write_outputs(out_dir, trainer, result, settings["data"], args.graph)
        written = ["weights.pt", "metrics.json", *write_pictures(out_dir, graph, setup, trainer)]
        where = f"wrote {', '.join(str(out_dir / name) for name in written)}"
    else:
        result, run, written = _train_run(args, graph, setup, trainer, settings, config, fit, resumed_run, weights,
                                          progress)
        where = f"in {run.path} ({', '.join(written)})"
    _statistics_warnings(trainer, progress)
    test = f"test {result.metric_name} {result.test_metric:.4f}; " if result.test_metric is not None else ""
    progress.result(("" if args.out else f"run {run.number} {RESULT_WORD.get(result.status, result.status)}: ") +
                    f"{result.message}; {test}{where}")
    if result.status == "diverged":
        return fail(result.message)
    return 0


RESULT_WORD = {"finished": "finished", "early_stopped": "finished", "stopped": "stopped", "diverged": "diverged"}


def _resumed_run(args: argparse.Namespace):
    """The run `--run ID` resumes (with its checkpoint), or None."""
    if not args.run_id:
        return None
    from ..core.training.runs import RunError, RunStore

    if args.resume or args.out:
        raise RunError(f"--run resumes a run of the store as a new run: leave out {'--resume' if args.resume else '--out'}")
    run = RunStore.beside(args.graph).run(args.run_id)
    if run.status == "running":
        raise RunError(f"run {run.number} is still training; resume it once it has ended")
    if not run.checkpoint_file.is_file():
        raise RunError(f"run {run.number} has no checkpoint.pt to resume from (it ended before its first epoch did)")
    return run


def _train_run(args, graph, setup, trainer, settings, config, fit, resumed_run, weights, progress: ProgressLine):
    """Train as a new run of GRAPH's store, recorded as it goes; (result, run, the names of its files)."""
    from ..core.inside.pictures import write_pictures
    from ..core.training.runs import RunRecorder, RunStore

    store = RunStore.beside(args.graph)
    recorded = {**config.to_dict(), **{k: settings[k] for k in ("data", "val_fraction", "test_fraction")}}
    run = store.create(graph, recorded, graph_path=args.graph, weights_from=str(weights) if weights else None,
                       resumed_from=resumed_run.number if resumed_run is not None else None)
    if args.name:
        run = store.rename(run, args.name)
    if args.note:
        run = store.set_note(run, args.note)
    progress.note(f"run {run.number}: {run.path}")
    with RunRecorder(run) as recorder:
        recorder.attach(trainer)
        result = fit(run.checkpoint_file)
        written = recorder.finish(trainer, result, data=settings["data"], graph_path=args.graph,
                                  pictures=lambda folder: write_pictures(folder, graph, setup, trainer))
    return result, recorder.run, written


def _statistics_warnings(trainer, progress: ProgressLine) -> None:
    if trainer.statistics is not None and trainer.statistics.epochs:
        from ..core.training.block_stats import statistics_warnings

        for warning in statistics_warnings(trainer.statistics.epochs[-1]):
            progress.note(f"warning: {warning}")


def _augment_option(text: str | None) -> list[str] | None:
    """--augment SPEC as the list a config takes ([] for 'none'); None when not given (the recipe's applies)."""
    if text is None:
        return None
    return [] if text.strip().lower() in ("", "none") else [item for item in text.split(",") if item.strip()]


def add_distributed_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("several processes (torch.distributed, launched with torchrun)")
    group.add_argument("--nproc-per-node", type=int, metavar="N",
                       help="train in N processes on this machine (one per GPU, or CPU processes with Gloo); each "
                            "reads its own shard of every batch (--batch-size is per process)")
    group.add_argument("--nnodes", type=int, metavar="M", help="machines taking part (run the same command on each)")
    group.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="where the machines meet (several machines)")


def _fetch_dataset(spec: str, progress: ProgressLine) -> None:
    """Download a classic dataset named without a folder (mnist), if it is not in the cache yet."""
    from ..core.data.download import REMOTE, ensure
    from ..core.data.specs import KINDS, DataSpec

    parsed = DataSpec.parse(spec)
    if parsed.path is None and KINDS[parsed.kind].downloads:
        ensure(REMOTE[parsed.kind], progress=progress.download)
