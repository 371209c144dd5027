"""`netbuilder check GRAPH [--data SPEC] [--run ID] [--batch-size N] [--device D] [--json]`: errors, warnings and
advice, each with its fix; exit status 1 on errors (or when the asked batch does not fit). With --run, also whether
that run's weights fit the graph as it is now, and what its training statistics warned of."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_graph, add_run_option, chosen_run, fail, load_graph
from .plan import add_plan_options, memory_plan, print_memory_plan


def register(commands) -> None:
    from ..core.data.specs import SPEC_HELP

    check = commands.add_parser("check", help="errors and warnings about a graph, each with its fix; exit status 1 "
                                "when there are errors")
    add_graph(check)
    check.add_argument("--json", action="store_true", help="print a JSON object instead of lines")
    check.add_argument("--data", metavar="SPEC", help="check the graph against this dataset too (default: the run's "
                       "with --run): " + SPEC_HELP)
    add_run_option(check, "check that its weights fit the graph, and repeat its training's warnings (dead ReLUs, "
                          "vanishing gradients)")
    add_plan_options(check)  # with --batch-size or --device: the memory plan too (exit 1 when it does not fit)
    check.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.checks.analysis import analyze, counts, data_facts
    from ..core.checks.shapes import infer_shapes
    from ..core.training.experiment import single_input

    graph = load_graph(args.graph)
    report = infer_shapes(graph)
    run = chosen_run(args)
    if run is not None and not args.data:
        args.data = run.data
    facts = None
    if args.data:
        from ..core.data import load_dataset

        source = single_input(graph)
        shape = tuple(source.params["shape"]) if source is not None else None
        facts = data_facts(load_dataset(args.data, shape), shape)
    from ..core.training.config import TrainConfig

    batch_size = args.batch_size or graph.recipe.get("batch_size") or TrainConfig().batch_size
    findings = analyze(graph, report, facts, batch_size=batch_size if args.data else None)
    if run is not None:
        findings += run_findings(run, graph, report)
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
        return fail(f"{args.graph}: training with this batch does not fit in memory")
    return 0


def run_findings(run, graph, report) -> list:
    """Whether a run's weights fit the graph as it is now (an error naming what does not), and the warnings its
    training's per-block statistics gave (metrics.json)."""
    from ..core.build.compile import compile_graph
    from ..core.build.weights import WeightsError, apply_state, read_state
    from ..core.checks.analysis import Finding
    from ..core.training.runs import RunError

    where = f"run {run.number}"
    findings = []
    try:
        weights = run.weights_for_use()
    except RunError as e:
        return [Finding("error", "run-weights", None, "", str(e))]
    if not report.errors:
        try:
            apply_state(compile_graph(graph, report), read_state(weights), f"{where}'s weights")
            findings.append(Finding("info", "run-weights", None, "", f"{where}'s weights fit the graph "
                                    f"({run.status}, {len(run.epochs)} epochs{', ' + run.headline.text if run.headline else ''})"))
        except WeightsError as e:
            findings.append(Finding("error", "run-weights", None, "", str(e)))
    for warning in (run.metrics or {}).get("warnings") or []:
        findings.append(Finding("warning", "run-statistics", None, "", f"{where}: {warning}"))
    return findings
