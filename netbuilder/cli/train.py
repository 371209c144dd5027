"""`netbuilder train GRAPH [--data SPEC] [options]`: train headless, on one process or several (torchrun);
writes weights.pt, metrics.json and the run's pictures."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core.build.weights import graph_weights
from .common import fail, load_graph
from .progress import ProgressLine


def register(commands) -> None:
    from ..core.data.specs import SPEC_HELP
    from ..core.training.config import DEVICES, LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    train = commands.add_parser(
        "train", help="train a graph headless; writes DIR/weights.pt and DIR/metrics.json",
        description="Train a graph headless. Each setting comes from its option, else the graph's recipe (the "
                    "examples carry theirs), else the default shown.")
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
    train.add_argument("--weights", metavar="W.pt", help="start from these weights (a state_dict); default: the "
                       "weights the graph names (an imported model's), else fresh ones")
    train.add_argument("--statistics", type=int, default=20, metavar="N",
                       help="per-block statistics in metrics.json (activations, gradients, weight updates; dead "
                            "ReLUs and vanishing gradients are named): observe one step every N batches (default "
                            "20; 0: off)")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint.pt")
    train.add_argument("--out", metavar="DIR", help="where to write the results (default runs/GRAPH-NAME)")
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
    from ..core.inside.pictures import write_pictures
    from ..core.model.recipe import CONFIG_KEYS, resolve
    from ..core.training.checkpoint import checkpoint_config
    from ..core.training.config import TrainConfig
    from ..core.training.experiment import prepare_training, write_outputs
    from ..core.training.trainer import Trainer

    graph = load_graph(args.graph)
    explicit = {key: getattr(args, key) for key in TRAIN_OPTIONS}
    explicit.update(data=args.data, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                    augment=_augment_option(args.augment))
    resumed = checkpoint_config(args.resume) if args.resume else None
    settings = resolve(explicit, graph.recipe, resumed)
    if "data" not in settings:
        return fail(f"{args.graph}: no dataset: give --data SPEC (the graph carries no recipe that names one)")
    config = TrainConfig(**{k: settings[k] for k in (*CONFIG_KEYS, "device", "bf16", "fp16", "compile", "tune")
                            if k in settings})
    config.statistics = args.statistics
    out_dir = Path(args.out or Path("runs") / Path(args.graph).stem)
    config.check()
    world = distributed.init(config.device) if distributed.in_worker() else None
    main_process = world is None or world.is_main
    progress = ProgressLine() if main_process else ProgressLine(open(os.devnull, "w"))  # noqa: SIM115
    notes: list[str] = []
    from ..core.data.specs import load_dataset

    budget = args.memory_budget * 2**20 if args.memory_budget is not None else None
    if budget is not None and not budget >= 0:
        return fail(f"--memory-budget must be a number of MB >= 0, got {args.memory_budget}")
    if world is not None:  # one process per machine fetches a dataset named without a folder; the others wait
        if world.local_rank == 0:
            _fetch_dataset(settings["data"], progress)
        distributed.barrier()
    setup = prepare_training(graph, settings["data"], val_fraction=settings.get("val_fraction", 0.1),
                             test_fraction=settings.get("test_fraction", 0.2), seed=config.seed,
                             weights=args.weights or graph_weights(graph, args.graph), notes=notes, config=config,
                             load=lambda spec, shape: load_dataset(spec, shape, progress=progress.download,
                                                                   memory_budget=budget))
    say = (lambda text: print(text, file=sys.stderr)) if main_process else (lambda text: None)
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
    if main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
    result = trainer.fit(resume_from=args.resume, checkpoint=out_dir / "checkpoint.pt")
    if not main_process:
        return 1 if result.status == "diverged" else 0
    write_outputs(out_dir, trainer, result, settings["data"], args.graph)
    written = ["weights.pt", "metrics.json", *write_pictures(out_dir, graph, setup, trainer)]
    if trainer.statistics is not None and trainer.statistics.epochs:
        from ..core.training.block_stats import statistics_warnings

        for warning in statistics_warnings(trainer.statistics.epochs[-1]):
            print(f"warning: {warning}", file=sys.stderr)
    test = f"test {result.metric_name} {result.test_metric:.4f}; " if result.test_metric is not None else ""
    print(f"{result.message}; {test}wrote {', '.join(str(out_dir / name) for name in written)}")
    if result.status == "diverged":
        return fail(result.message)
    return 0


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
