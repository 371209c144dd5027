"""What every command shares: reading the graph, saying what failed in one line, the options several take."""
from __future__ import annotations

import argparse
import os
import sys

from ..core.base.errors import shorten
from ..core.model.graph import Graph, GraphError

BUG_STATUS = 70  # EX_SOFTWARE


def load_graph(path: str) -> Graph:
    """The graph document at `path`; GraphError names the file and the problem."""
    try:
        return Graph.load(path)
    except GraphError as e:
        raise GraphError(str(e), path) from None


def fail(message: str) -> int:
    """Say what failed, in one line on stderr; the exit status of a user's error."""
    print(f"netbuilder: error: {shorten(message)}", file=sys.stderr)
    return 1


def fail_once(message: str) -> int:
    """A signal stops every process of a multi-process run: the launcher says so, its workers do not repeat it."""
    if os.environ.get("TORCHELASTIC_RUN_ID") is not None and "RANK" in os.environ:
        return 1
    return fail(message)


def add_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")


def add_run_option(parser: argparse.ArgumentParser, use: str = "its weights") -> None:
    parser.add_argument("--run", dest="run_id", metavar="ID", help=f"a run of GRAPH's store (GRAPH.runs): {use}. ID: the run's "
                        "number, its folder's name, or last (`netbuilder runs GRAPH` lists them)")


def add_force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="replace files that are there already (without it, a "
                        "file in the way is named and nothing is written)")


def chosen_run(args: argparse.Namespace):
    """The run `--run ID` names in GRAPH's store, or None; giving --weights too is refused by name."""
    if not getattr(args, "run_id", None):
        return None
    from ..core.training.runs import RunError, RunStore

    if getattr(args, "weights", None):
        raise RunError("give --weights W.pt or --run ID, not both")
    return RunStore.beside(args.graph).run(args.run_id)


def run_weights(args: argparse.Namespace, graph: Graph):
    """The weights file of the run `--run ID` names (None without --run), saying on stderr when the graph has
    changed since that run trained it."""
    run = chosen_run(args)
    if run is None:
        return None
    weights = run.weights_for_use()
    from ..core.training.runs import RunError, graph_diff

    try:
        diff = graph_diff(run.graph(), graph)
    except RunError:
        diff = None
    if diff is not None and (diff.added or diff.removed or diff.changed):
        print(f"note: {args.graph} has changed since run {run.number} trained it ({diff.summary()}); its graph is "
              f"{run.graph_file}", file=sys.stderr)
    return weights
