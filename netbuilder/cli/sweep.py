"""`netbuilder sweep GRAPH --param NAME=VALUES ...`: an Optuna study over training settings and block parameters,
every trial a run in GRAPH's store (core/training/sweep); `--apply-best -o NEW.json` writes the graph with the best
trial's values; `--show` prints a study's table without running anything."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .common import add_force_option, fail, load_graph

PARAM_HELP = ("what to vary, and over what: a training setting (lr, batch_size, optimizer, momentum, weight_decay, l1, "
              "epochs, schedule, augment, ...) or a block's parameter (BLOCK.PARAM: conv1.out_channels, fc1.out_features, "
              "drop1.p, a loss block's weight); VALUES: lo:hi (a float range), lo:hi:log (on a log scale), lo:hi:int "
              "(whole numbers), or a,b,c (choices; augment: flip+crop, none). Give --param once per parameter")


def register(commands) -> None:
    from ..core.data.specs import SPEC_HELP
    from ..core.training.sweep import METRICS, SAMPLERS

    sweep = commands.add_parser(
        "sweep", help="search settings and block parameters over many runs (an Optuna study; each trial a run)",
        description="Search training settings and block parameters with an Optuna study: each trial trains GRAPH with "
                    "other values, as a run in GRAPH's store (netbuilder runs GRAPH lists them). The study lives in "
                    "GRAPH.runs/sweeps.db unless --storage says otherwise; the same command run again continues it. "
                    "Several processes or machines given the same --storage and --study share its trials.")
    sweep.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    sweep.add_argument("--param", action="append", default=[], metavar="NAME=VALUES", help=PARAM_HELP)
    sweep.add_argument("--trials", type=int, default=20, metavar="N",
                       help="trials in the whole study, over every process and machine (default 20; a grid: at most "
                            "its size)")
    sweep.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds (those running "
                       "finish)")
    sweep.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="how values are chosen: tpe (the default: "
                       "learns from the trials so far), random, grid (every combination of listed values)")
    sweep.add_argument("--sampler-seed", type=int, metavar="N", help="the sampler's seed (repeatable sweeps; each "
                       "worker process adds its index)")
    sweep.add_argument("--prune", action="store_true", help="stop trials whose validation figure after an epoch is "
                       "worse than the median of earlier trials at that epoch (Optuna's median pruner)")
    sweep.add_argument("--workers", type=int, default=1, metavar="K",
                       help="run K trials at once, in K processes on this machine, each with its share of the cores")
    sweep.add_argument("--storage", metavar="URL", help="where the study lives: sqlite:///FILE.db, or a database URL "
                       "every machine reaches (postgresql://USER:PASS@HOST/DB, mysql://...) to share a study across "
                       "machines (default: sqlite in GRAPH.runs/sweeps.db)")
    sweep.add_argument("--study", metavar="NAME", help="the study's name (default: one made from what is swept, so "
                       "that the same command continues it)")
    sweep.add_argument("--metric", choices=METRICS, default="val_loss",
                       help="the figure to optimise: val_loss (the default), val_metric (accuracy, or MSE), test_loss, "
                            "test_metric, headline (the runs table's figure for this kind of network)")
    sweep.add_argument("--direction", choices=("min", "max"), help="default: the figure's own (losses and errors "
                       "down, accuracy up)")
    sweep.add_argument("--json", action="store_true", help="print the study's table as JSON (progress on stderr)")
    fixed = sweep.add_argument_group("the settings trials start from (default: the graph's recipe)")
    fixed.add_argument("--data", metavar="SPEC", help=f"the dataset: {SPEC_HELP}")
    fixed.add_argument("--epochs", type=int, help="epochs per trial")
    fixed.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any other training setting, for every trial (batch_size=64, optimizer=sgd, ...)")
    fixed.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="default auto")
    use = sweep.add_argument_group("a study's results")
    use.add_argument("--apply-best", action="store_true", help="write GRAPH with the best trial's block parameters "
                     "and its settings in the recipe to -o (the latest study, or --study)")
    use.add_argument("--show", action="store_true", help="print the study's trials without running any")
    use.add_argument("-o", "--output", metavar="NEW.json", help="where --apply-best writes the graph")
    add_force_option(use)
    sweep.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.apply_best or args.show:
        return _use(args)
    if args.output:
        return fail("-o is where --apply-best writes its graph; give --apply-best too")
    if not args.param:
        return fail("nothing to sweep: give --param NAME=VALUES (e.g. --param lr=1e-4:1e-1:log)")
    from ..core.model.recipe import resolve
    from ..core.training.sweep import Sweep, SweepDefinition, parse_param, redact, settle_heap

    graph = load_graph(args.graph)
    definition = SweepDefinition([parse_param(text) for text in args.param], args.metric,
                                 {"min": "minimize", "max": "maximize"}.get(args.direction), args.trials, args.timeout,
                                 args.sampler, args.prune, args.sampler_seed)
    explicit = {"data": args.data, "epochs": args.epochs, "device": args.device, **_fixed(args.set)}
    settings = resolve(explicit, graph.recipe)
    if not settings.get("data"):
        return fail(f"{args.graph}: no dataset: give --data SPEC (the graph carries no recipe that names one)")
    sweep = Sweep(graph, definition, settings, graph_path=args.graph, storage=args.storage, study=args.study)
    found = sweep.open()
    done = sum(row.counted for row in found.rows())
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else \
        (lambda text: print(text, flush=True))
    budget = min(definition.trials, definition.grid_size()) if definition.sampler == "grid" else definition.trials
    print(f"sweep {sweep.study_name}: {budget} trials of {' '.join(p.text for p in definition.params)}, "
          f"{definition.metric} ({definition.direction_word}), {definition.sampler} sampler"
          f"{', pruned' if definition.prune else ''}; study in {redact(sweep.storage)}; trials are runs in "
          f"{sweep.store.path}", file=sys.stderr, flush=True)
    if done:
        print(f"continuing: {done} of {budget} trials done before", file=sys.stderr, flush=True)
    for number in sweep.reaped:
        print(f"trial {number} was killed (its process ended without finishing it): its values are tried again",
              file=sys.stderr, flush=True)
    start = time.monotonic()
    if args.workers == 1:  # the trials run in this process
        settle_heap()
    try:
        study = sweep.run(workers=args.workers, on_trial=lambda row: say(_line(row, definition.metric)))
    except KeyboardInterrupt:
        print(f"the sweep stopped; run the same command to continue it (study {sweep.study_name})", file=sys.stderr)
        raise
    rows = study.rows()
    if definition.timeout and time.monotonic() - start >= definition.timeout and \
            sum(r.counted for r in rows) < budget:
        print(f"the time budget ({definition.timeout:g} s) is spent: no more trials started", file=sys.stderr)
    return _finish(args, study, rows)


def _line(row, metric: str) -> str:
    from ..core.training.sweep import row_line

    return row_line(row, metric)


def _fixed(items: list[str]) -> dict:
    """--set KEY=VALUE ... as recipe entries (numbers, words, augment lists)."""
    from ..core.model.recipe import KEYS
    from ..core.training.sweep import SweepError, parse_values

    settings = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in KEYS:
            raise SweepError(f"--set {item[:40]!r}: write KEY=VALUE with a setting's name ({', '.join(KEYS)})")
        if key in ("data",):
            settings[key] = text.strip()
            continue
        if key == "augment":
            settings[key] = [] if text.strip() in ("", "none") else text.strip().split("+")
            continue
        value = parse_values(key, text)
        if value.kind != "choice" or len(value.choices) != 1:
            raise SweepError(f"--set {key}={text[:40]}: one value (to sweep it, use --param {key}=...)")
        settings[key] = value.choices[0]
    return settings


def _finish(args, study, rows) -> int:
    from ..core.training.sweep import summary_lines

    best = study.best(rows)
    if args.json:
        print(json.dumps(study.to_dict(), indent=1))
    else:
        print("\n".join(summary_lines(study, rows)))
        if best is not None and not args.show:
            print(f"apply it: netbuilder sweep {args.graph} --apply-best --study {study.name} -o NEW.json")
    if best is None and any(r.state == "failed" for r in rows) and not args.show:
        first = next(r for r in rows if r.state == "failed")
        return fail(f"no trial completed; trial {first.number}: {first.message}")
    return 0


def _use(args: argparse.Namespace) -> int:
    """--apply-best and --show: a study that is there already."""
    from ..core.base.files import refuse_overwrite
    from ..core.training.runs import RunStore
    from ..core.training.sweep import STORAGE_FILE, SweepStudy, apply_trial, params_text, row_line

    if args.param:
        return fail(f"--{'apply-best' if args.apply_best else 'show'} reads a study that is there: leave out --param")
    if args.apply_best and args.show:
        return fail("give --apply-best or --show, not both")
    storage = args.storage
    if storage is None:
        store = RunStore.beside(args.graph)
        if not (store.path / STORAGE_FILE).is_file():
            return fail(f"{args.graph} has no sweeps yet ({store.path / STORAGE_FILE} is not there); give --storage "
                        "URL for a study kept elsewhere")
        storage = f"sqlite:///{(store.path / STORAGE_FILE).resolve()}"
    study = SweepStudy.load(storage, args.study)
    rows = study.rows()
    if args.show:
        if not args.json:
            for row in rows:
                print(row_line(row, study.metric))
        return _finish(args, study, rows)
    if not args.output:
        return fail("--apply-best writes a new graph: give -o NEW.json")
    graph = load_graph(args.graph)
    best = study.best(rows)
    if best is None:
        return fail(f"study {study.name} has no complete trial yet: nothing to apply")
    out = Path(args.output)
    if out.resolve() == Path(args.graph).resolve() and not args.force:
        return fail(f"{out} is GRAPH itself; give another -o, or --force to replace it")
    refuse_overwrite(out, overwrite=args.force)
    new, recipe = apply_trial(graph, best.params, study.trial_settings(best))
    out.parent.mkdir(parents=True, exist_ok=True)
    new.save(out)
    print(f"wrote {out}: trial {best.number} of study {study.name} ({study.metric} {best.value:.4g}): "
          f"{params_text(best.params)}; recipe {json.dumps(recipe)}")
    return 0

