"""The `netbuilder` command: the editor, and headless access to everything in core.

    netbuilder [gui [GRAPH]]           open the editor
    netbuilder info GRAPH [--json]     layers, output shapes, parameter and MAC counts
    netbuilder check GRAPH [--data SPEC] [--json]  errors and warnings, each with its fix (exit 1 on errors)
    netbuilder train GRAPH --data SPEC [options]   train headless; writes weights.pt and metrics.json
    netbuilder plan GRAPH [--batch-size N] [--device D]   the memory training takes; the largest batch that fits
    netbuilder export GRAPH [--weights W.pt] -o MODEL.onnx|model.py [--opset N]
    netbuilder export GRAPH --training-script -o DIR  model.py + train.py: torch only, torchrun-ready
    netbuilder import MODEL.onnx -o GRAPH.json        an editable graph; its weights beside it (GRAPH.pt)
    netbuilder inspect GRAPH [--weights W.pt] --data SPEC --sample N --block NAME -o maps.png

Bad input (a missing, corrupt or invalid file) exits with status 1 and one line on stderr; a bug in
netbuilder exits with status 70 and one line saying so (NETBUILDER_DEBUG=1 shows its traceback).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .core.base.errors import shorten, summarize
from .core.checks.messages import describe, is_bug
from .core.model.graph import Graph, GraphError
from .core.build.weights import graph_weights

BUG_STATUS = 70  # EX_SOFTWARE


def _load(path: str) -> Graph:
    try:
        return Graph.load(path)
    except GraphError as e:
        raise GraphError(str(e), path) from None


def _fail(message: str) -> int:
    print(f"netbuilder: error: {shorten(message)}", file=sys.stderr)
    return 1


def cmd_info(args: argparse.Namespace) -> int:
    from .core.checks.shapes import format_count, format_shape, infer_shapes, layer_table, model_size_mb

    graph = _load(args.graph)
    report = infer_shapes(graph)
    layers = layer_table(graph, report)
    summary = {
        "file": args.graph, "title": graph.meta.get("title", Path(args.graph).stem),
        "total_params": report.total_params, "total_macs": report.total_macs,
        "size_mb": round(model_size_mb(report), 3), "ok": report.ok, "errors": report.errors, "layers": layers,
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        rows = [("name", "type", "output", "params", "MACs")] + [
            (row["name"], row["type"], "error" if row["error"] else format_shape(row["output_shape"]),
             f"{row['params']:,}", format_count(row["macs"])) for row in layers]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        print(f"{summary['title']} ({args.graph})")
        for row in rows:
            print("  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        print(f"total: {report.total_params:,} parameters ({summary['size_mb']:.2f} MB as float32), "
              f"{format_count(report.total_macs)} multiply-accumulates per sample")
    if report.errors:
        _fail(summarize(report.errors, 1, "more problems" if len(report.errors) > 2 else "more problem"))
    return 0 if report.ok else 1


def cmd_check(args: argparse.Namespace) -> int:
    from .core.checks.analysis import analyze, counts, data_facts
    from .core.training.experiment import single_input
    from .core.checks.shapes import infer_shapes

    graph = _load(args.graph)
    report = infer_shapes(graph)
    facts = None
    if args.data:
        from .core.data import load_dataset

        source = single_input(graph)
        shape = tuple(source.params["shape"]) if source is not None else None
        facts = data_facts(load_dataset(args.data, shape), shape)
    from .core.training.config import TrainConfig

    batch_size = args.batch_size or graph.recipe.get("batch_size") or TrainConfig().batch_size
    findings = analyze(graph, report, facts, batch_size=batch_size if args.data else None)
    total = counts(findings)
    planned = bool(args.batch_size or args.device or args.optimizer) and not total["error"]
    if args.json:
        memory = {}
        if planned:
            plan, available, largest, _, fits = memory_plan(args, graph)
            memory = {"memory": {"bytes": plan.total, "available": available, "largest_batch": largest, "fits": fits}}
        print(json.dumps({"file": args.graph, **{f"{k}s": v for k, v in total.items()},
                          "findings": [f.to_dict() for f in findings], **memory}, indent=1))
        return 1 if total["error"] or (memory and not memory["memory"]["fits"]) else 0
    else:
        for f in findings:
            fix = f"  [fix: {f.fix.label}]" if f.fix else ""
            print(f"{f.severity:8s} {f.line}{fix}")
        words = ", ".join(f"{n} {k}{'s' if n != 1 and k != 'info' else ''}" for k, n in total.items())
        print(f"{Path(args.graph).name}: {words}")
    if total["error"]:
        return 1
    if planned and not print_memory_plan(args, graph):
        return _fail(f"{args.graph}: training with this batch does not fit in memory")
    return 0


class ProgressLine:
    """A progress bar on a terminal (one line, redrawn); a line per epoch when output is not a terminal."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream, self.tty = stream, stream.isatty()

    def batch(self, r) -> None:
        if not self.tty:
            return
        width = 24
        filled = round(width * r.progress)
        loss = sum(r.losses) / len(r.losses)
        self.stream.write(f"\repoch {r.epoch} [{'#' * filled}{'.' * (width - filled)}] {r.progress:4.0%}  "
                          f"loss {loss:.4f}  {r.samples_per_s:,.0f} samples/s  ETA {r.eta_s:.0f} s   ")
        self.stream.flush()

    def download(self, p) -> None:
        """A dataset being fetched: the line redrawn on a terminal; a line per finished file otherwise."""
        if self.tty:
            self.stream.write("\r" + p.describe().ljust(90))
            if p.total is not None and p.done >= p.total and p.index == p.files:
                self.stream.write("\n")
            self.stream.flush()
        elif p.total is not None and p.done >= p.total:
            print(p.describe(), file=self.stream, flush=True)

    def epoch(self, r) -> None:
        train = f"  train {r.train_metric:.4f}" if r.train_metric is not None else ""
        val = f"  val loss {r.val_loss:.4f}" if r.val_loss is not None else ""
        val += f"  val {r.val_metric:.4f}" if r.val_metric is not None else ""
        terms = "".join(f"  {name} {value:.4f}" for name, value in r.losses.items()) if len(r.losses) > 1 else ""
        line = f"epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.4f}{terms}{train}{val}  {r.seconds:.1f} s"
        print(("\r" + line.ljust(100)) if self.tty else line, file=self.stream if self.tty else sys.stdout,
              flush=True)


TRAIN_OPTIONS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "beta1", "weight_decay", "l1", "loss", "schedule",
                 "step_size", "gamma", "grad_clip", "early_stopping", "seed", "device", "bf16", "fp16", "compile", "tune")


def cmd_train(args: argparse.Namespace) -> int:
    from .core.training import distributed

    if (args.nproc_per_node or args.nnodes or args.rdzv_endpoint) and not distributed.in_worker():
        _load(args.graph)  # a missing or bad graph is said once, here, not by every process
        return distributed.launch(args.argv, args.nproc_per_node or 1, args.nnodes or 1, args.rdzv_endpoint)
    finished = False
    try:
        code = _train(args, distributed)
        finished = code == 0
        return code
    finally:
        distributed.shutdown(together=finished)


def _train(args: argparse.Namespace, distributed) -> int:
    from .core.training.checkpoint import checkpoint_config
    from .core.training.experiment import prepare_training, write_outputs
    from .core.inside.pictures import write_pictures
    from .core.model.recipe import CONFIG_KEYS, resolve
    from .core.training.config import TrainConfig
    from .core.training.trainer import Trainer

    graph = _load(args.graph)
    explicit = {key: getattr(args, key) for key in TRAIN_OPTIONS}
    explicit.update(data=args.data, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                    augment=[a for a in args.augment.split(",") if a] if args.augment is not None else None)
    resumed = checkpoint_config(args.resume) if args.resume else None
    settings = resolve(explicit, graph.recipe, resumed)
    if "data" not in settings:
        return _fail(f"{args.graph}: no dataset: give --data SPEC (the graph carries no recipe that names one)")
    config = TrainConfig(**{k: settings[k] for k in (*CONFIG_KEYS, "device", "bf16", "fp16", "compile", "tune")
                            if k in settings})
    config.statistics = args.statistics
    out_dir = Path(args.out or Path("runs") / Path(args.graph).stem)
    config.check()
    world = distributed.init(config.device) if distributed.in_worker() else None
    main_process = world is None or world.is_main
    progress = ProgressLine() if main_process else ProgressLine(open(os.devnull, "w"))  # noqa: SIM115
    notes: list[str] = []
    from .core.data.specs import load_dataset

    budget = args.memory_budget * 2**20 if args.memory_budget is not None else None
    if budget is not None and not budget >= 0:
        return _fail(f"--memory-budget must be a number of MB >= 0, got {args.memory_budget}")
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
        from .core.training.block_stats import statistics_warnings

        for warning in statistics_warnings(trainer.statistics.epochs[-1]):
            print(f"warning: {warning}", file=sys.stderr)
    test = f"test {result.metric_name} {result.test_metric:.4f}; " if result.test_metric is not None else ""
    print(f"{result.message}; {test}wrote {', '.join(str(out_dir / name) for name in written)}")
    if result.status == "diverged":
        return _fail(result.message)
    return 0


def add_distributed_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("several processes (torch.distributed, launched with torchrun)")
    group.add_argument("--nproc-per-node", type=int, metavar="N",
                       help="train in N processes on this machine (one per GPU, or CPU processes with Gloo); each "
                            "reads its own shard of every batch (--batch-size is per process)")
    group.add_argument("--nnodes", type=int, metavar="M", help="machines taking part (run the same command on each)")
    group.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="where the machines meet (several machines)")


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """The memory plan's options (`netbuilder plan`; the same fit `netbuilder check`)."""
    from .core.training.config import DEVICES, OPTIMIZERS

    parser.add_argument("--batch-size", type=int, help="the batch size to plan for (default: the recipe's, else 100)")
    parser.add_argument("--device", choices=DEVICES, help="the device to plan for (default auto)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="its state counts too (default: the recipe's, else adam)")


def memory_plan(args: argparse.Namespace, graph: Graph):
    """The memory a training run of `graph` takes (weights, gradients, optimizer state, activations) and the
    largest batch that fits the device: (plan, available, largest, lines, fits)."""
    from dataclasses import replace

    from .core.checks.memory import HEADROOM
    from .core.training.memory_plan import plan_lines, plan_training
    from .core.model.recipe import check_recipe
    from .core.training.config import TrainConfig, pick_device

    recipe = check_recipe(graph.recipe)
    config = TrainConfig(**{k: v for k, v in recipe.items() if k in ("batch_size", "optimizer")})
    config = replace(config, **{k: getattr(args, k) for k in ("batch_size", "optimizer") if getattr(args, k)})
    config.check()
    device = str(pick_device(args.device or "auto"))
    plan, available, largest = plan_training(graph, config.batch_size, config, device)
    lines = plan_lines(plan, available, largest, device, config.optimizer)
    return plan, available, largest, lines, available is None or plan.total <= HEADROOM * available


def print_memory_plan(args: argparse.Namespace, graph: Graph) -> bool:
    """Print the memory plan; True when the asked batch fits."""
    *_, lines, fits = memory_plan(args, graph)
    print("\n".join(lines))
    return fits


def cmd_plan(args: argparse.Namespace) -> int:
    graph = _load(args.graph)
    if not print_memory_plan(args, graph):
        return _fail(f"{args.graph}: training with this batch does not fit in memory")
    return 0


def _fetch_dataset(spec: str, progress: ProgressLine) -> None:
    """Download a classic dataset named without a folder (mnist), if it is not in the cache yet."""
    from .core.data.download import REMOTE, ensure
    from .core.data.specs import KINDS, DataSpec

    parsed = DataSpec.parse(spec)
    if parsed.path is None and KINDS[parsed.kind].downloads:
        ensure(REMOTE[parsed.kind], progress=progress.download)


def cmd_export(args: argparse.Namespace) -> int:
    from .core.exchange.codegen import export_code
    from .core.exchange.onnx_export import export_onnx

    graph = _load(args.graph)
    out = Path(args.output)
    if args.training_script:
        from .core.exchange.training_script import export_training_script

        print(export_training_script(graph, out, args.graph).summary())
        return 0
    weights = args.weights or graph_weights(graph, args.graph)
    if out.suffix not in (".onnx", ".py"):
        return _fail(f"{out}: write a .onnx (ONNX) or a .py (PyTorch code) file")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".onnx":
        report = export_onnx(graph, out, weights=weights, opset=args.opset)
    else:
        report = export_code(graph, out, weights=weights)
    print(report.summary())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .core.exchange.onnx_import import import_onnx_file

    out = Path(args.output)
    if out.suffix != ".json":
        return _fail(f"{out}: the graph is written as a .json file")
    out.parent.mkdir(parents=True, exist_ok=True)
    imported = import_onnx_file(args.model, out)
    print(f"wrote {out} ({len(imported.graph)} blocks) and its weights {out.with_suffix('.pt')}; the graph matches "
          f"onnxruntime on {args.model} to {imported.max_abs_diff:.1e}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .core.inside.probe import ProbeError, fit_sample, fresh_model, held_out_samples, read_picture, trained_model
    from .core.inside.probe_pictures import SHOWS, inspection, write_picture
    from .core.model.recipe import check_recipe
    from .core.build.weights import read_state

    graph = _load(args.graph)
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        return _fail(f"{out}: the pictures are written as a .png file")
    show = tuple(word.strip() for word in args.show.split(",") if word.strip())
    unknown = [word for word in show if word not in SHOWS]
    if unknown or not show:
        return _fail(f"--show {args.show}: choose from {', '.join(SHOWS)} (comma-separated)")
    weights = args.weights or graph_weights(graph, args.graph)
    model = trained_model(graph, read_state(weights), str(weights)) if weights else fresh_model(graph, args.seed)
    names = {n.name: n for n in graph.nodes}
    blocks = args.block or [n for n in model.blocks() if names[n].type.startswith("Conv")] or [
        n for n in model.blocks() if model.module_of(n) is not None and any(True for _ in model.module_of(n).parameters())]
    for block in blocks:
        model.module_of(block)  # a block that is not there, or not part of the network, is named now
    recipe = check_recipe(graph.recipe)
    spec = args.data or recipe.get("data")
    inputs, classes, label, where = {}, None, None, ""
    if args.image:
        shape = tuple(graph.find(model.inputs[0]).params["shape"])
        inputs = {model.inputs[0]: fit_sample(read_picture(args.image, shape), shape, args.image)}
        where = args.image
    elif spec and show != ("filters",):
        samples = held_out_samples(graph, spec, val_fraction=recipe.get("val_fraction", 0.1),
                                   test_fraction=recipe.get("test_fraction", 0.2), seed=args.seed)
        inputs, classes, label = samples.sample(args.sample), samples.classes, samples.label(args.sample)
        where = f"sample {args.sample} of {samples.name}" + (f" (class {label})" if label is not None else "")
    elif show != ("filters",):
        raise ProbeError(f"{args.graph}: no sample to look at: give --data SPEC (the graph's recipe names none) "
                         "or --image FILE, or --show filters")
    trained = f"weights {weights}" if weights else f"untrained (seed {args.seed}; give --weights W.pt)"
    picture = inspection(model, inputs, blocks, show, classes=classes, label=label,
                         heading=f"{Path(args.graph).name}, {trained}" + (f": {where}" if where else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_picture(picture, out)
    if inputs:
        from .core.inside.probe import prediction_of

        prediction = prediction_of(model.outputs(inputs), classes)
        print(f"{where}: {prediction.describe()}" if prediction else where)
        if "maps" in show:
            for block in blocks:
                print("  " + model.run(block, inputs, with_outputs=False).describe())
    print(f"wrote {out} ({', '.join(show)} of {', '.join(blocks)}; {trained})")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from .ui.app import run

    return run(getattr(args, "graph", None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netbuilder", description="Build neural networks by drawing them.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = commands.add_parser("gui", help="open the editor (the default with no command)")
    gui.add_argument("graph", metavar="GRAPH", nargs="?", help="a graph document to open")
    gui.set_defaults(run=cmd_gui)
    info = commands.add_parser("info", help="list a graph's layers, shapes and parameter counts")
    info.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    info.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    info.set_defaults(run=cmd_info)
    check = commands.add_parser("check", help="errors and warnings about a graph, each with its fix; exit status 1 "
                                "when there are errors")
    check.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    check.add_argument("--json", action="store_true", help="print a JSON object instead of lines")
    check.set_defaults(run=cmd_check)

    from .core.data.specs import SPEC_HELP
    from .core.training.config import DEVICES, LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig

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
    train.add_argument("--augment", help="comma-separated: flip, crop, noise")
    train.add_argument("--memory-budget", type=float, metavar="MB",
                       help="datasets whose samples take more (as float32) stream from disk through worker processes "
                            "(default: a quarter of the free memory)")
    train.add_argument("--val-fraction", type=float, help="default 0.1")
    train.add_argument("--test-fraction", type=float, help="unless the dataset has its own test set (default 0.2)")
    train.add_argument("--seed", type=int, help=f"default {d.seed}")
    train.add_argument("--device", choices=DEVICES, help="default auto")
    train.add_argument("--bf16", action="store_const", const=True, help="bfloat16 autocast (CUDA GPUs that have it)")
    train.add_argument("--fp16", action="store_const", const=True, help="float16 autocast with loss scaling (CUDA)")
    train.add_argument("--weights", metavar="W.pt", help="start from these weights (a state_dict); default: the "
                       "weights the graph names (an imported model's), else fresh ones")
    train.add_argument("--statistics", type=int, default=20, metavar="N",
                       help="per-block statistics in metrics.json (activations, gradients, weight updates; dead "
                            "ReLUs and vanishing gradients are named): observe one step every N batches (default "
                            "20; 0: off)")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint.pt")
    train.add_argument("--out", metavar="DIR", help="where to write the results (default runs/GRAPH-NAME)")
    from .core.training.config import COMPILE_MODES

    train.add_argument("--compile", choices=COMPILE_MODES,
                       help="torch.compile the model on another thread while training starts eagerly, and switch to "
                            "it when ready: auto (when the run is long enough to gain; the default), always, off")
    from .core.training.config import TUNE_MODES

    train.add_argument("--tune", choices=TUNE_MODES,
                       help="auto (the default): channels_last memory for convolutions on CPUs and GPUs, bf16 autocast "
                            "on GPUs that have it; off: exactly as written, in float32")
    add_distributed_options(train)
    train.set_defaults(run=cmd_train)
    check.add_argument("--data", metavar="SPEC", help="check the graph against this dataset too: " + SPEC_HELP)
    add_plan_options(check)  # with --batch-size or --device: the memory plan too (exit 1 when it does not fit)

    plan = commands.add_parser("plan", help="the memory training takes, and the largest batch that fits",
                               description="The memory a training run takes (weights, gradients, optimizer state, "
                                           "activations, measured on the meta device) and the largest batch that "
                                           "fits the device's free memory. Exits with status 1 when it does not fit.")
    plan.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    add_plan_options(plan)
    plan.set_defaults(run=cmd_plan)

    export = commands.add_parser("export", help="export to ONNX (verified with onnxruntime) or to PyTorch code")
    export.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="MODEL.onnx or model.py")
    export.add_argument("--weights", metavar="W.pt", help="trained weights (a state_dict); default: fresh ones")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument("--training-script", action="store_true",
                        help="write a folder (-o DIR) with model.py and train.py: a standalone training script, torch "
                             "only, torchrun-ready, the graph's recipe as its defaults")
    export.set_defaults(run=cmd_export)

    look = commands.add_parser(
        "inspect", help="pictures of what flows inside a network: feature maps, filters, saliency",
        description="Write one PNG of what the network does with one sample: the feature maps of blocks, the "
                    "filters of convolutions, saliency over the input, and the prediction.")
    look.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    look.add_argument("-o", "--output", required=True, metavar="OUT.png")
    look.add_argument("--weights", metavar="W.pt", help="trained weights (default: the graph's own, else untrained)")
    look.add_argument("--data", metavar="SPEC", help="the dataset whose test split the sample comes from "
                      "(default: the recipe's)")
    look.add_argument("--sample", type=int, default=0, metavar="N", help="which test sample (default 0)")
    look.add_argument("--image", metavar="FILE", help="a picture file as the sample, instead of --data")
    look.add_argument("--block", action="append", metavar="NAME",
                      help="a block to look at (repeat for more; default: every convolution, else every block "
                           "with weights)")
    look.add_argument("--show", default="maps", help="comma-separated: maps, filters, saliency (default maps)")
    look.add_argument("--seed", type=int, default=0, help="the split's seed, and the untrained weights' (default 0)")
    look.set_defaults(run=cmd_inspect)

    imp = commands.add_parser("import", help="turn an ONNX model into an editable graph with its weights")
    imp.add_argument("model", metavar="MODEL.onnx")
    imp.add_argument("-o", "--output", required=True, metavar="GRAPH.json")
    imp.set_defaults(run=cmd_import)
    return parser


def _fail_once(message: str) -> int:
    """A signal stops every process of a multi-process run: the launcher says so, its workers do not repeat it."""
    if os.environ.get("TORCHELASTIC_RUN_ID") is not None and "RANK" in os.environ:
        return 1
    return _fail(message)


def _in_worker() -> bool:
    from .core.training import distributed

    return distributed.in_worker()


def _finish_compiles() -> None:
    """A background compile still running (a run that ended early) must end before the process does."""
    if "netbuilder.core.training.background_compile" in sys.modules:
        sys.modules["netbuilder.core.training.background_compile"].finish()


def _exit_now(code: int) -> int:
    """Stopped by a signal: exit at once, even while a background compile runs (torch would abort at the usual
    exit, and the compile cannot be interrupted). Only from the command line's own process."""
    module = sys.modules.get("netbuilder.core.training.background_compile")
    if module is not None and not module.finish(timeout=0) and threading.current_thread() is threading.main_thread():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a scheduler's time limit) while a command runs: it stops as Ctrl+C does."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    command = cmd_gui if args.command is None else args.run
    for stream in (sys.stdout, sys.stderr):  # a name that is not valid UTF-8 is shown escaped, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    headless = command is not cmd_gui and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if headless else None
    try:
        code = command(args)
        _finish_compiles()
        if args.command == "train" and _in_worker():
            # a torchrun worker whose run is over (files written, process group left): exit without the
            # interpreter's teardown, where torch's compiler threads (imported for compile=auto) can abort a
            # worker at random (SIGABRT, "terminate called without an active exception": 3 runs in 8 here)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    except Terminated:
        return _exit_now(_fail_once("terminated (SIGTERM); files being written were left as they were"))
    except KeyboardInterrupt as e:
        return _exit_now(_fail_once("terminated (SIGTERM); files being written were left as they were"
                                    if str(e) == "signal 15" else "interrupted"))
    except Exception as e:  # noqa: BLE001 - the one place the CLI turns an error into its line
        if is_bug(e) and os.environ.get("NETBUILDER_DEBUG"):
            raise
        if is_bug(e):
            print(f"netbuilder: {describe(e)}", file=sys.stderr)
            return BUG_STATUS
        return _fail(describe(e))
    finally:
        if headless:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
