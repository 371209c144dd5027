"""What every command shares: reading the graph, saying what failed in one line, the options several take."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core.base.errors import NetbuilderError, shorten
from ..core.model.graph import Graph, GraphError

BUG_STATUS = 70  # EX_SOFTWARE


def load_graph(path: str) -> Graph:
    """The graph document at `path`; GraphError names the file and the problem."""
    try:
        return Graph.load(path)
    except GraphError as e:
        raise GraphError(str(e), path) from None


def fail(message: str, kind: str = "own") -> int:
    """Say what failed, in one line on stderr; the exit status of a user's error. In a worker of a multi-process
    run the line goes to the launcher instead, which says the run's one line (`kind`: see distributed.report)."""
    if not to_launcher(shorten(message), kind):
        print(f"netbuilder: error: {shorten(message)}", file=sys.stderr)
    return 1


def fail_once(message: str) -> int:
    """A signal stops every process of a multi-process run: the launcher says so, its workers do not repeat it."""
    if os.environ.get("TORCHELASTIC_RUN_ID") is not None and "RANK" in os.environ:
        to_launcher(message, "stopped")
        return 1
    return fail(message)


def to_launcher(line: str, kind: str) -> bool:
    if "RANK" not in os.environ:  # (not a worker: nothing to import)
        return False
    from ..core.training import distributed

    return distributed.report(line, kind)


def add_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")


class Parser(argparse.ArgumentParser):
    """argparse, failing as every command fails: one line on stderr naming the option and where to read more,
    exit status 1 (argparse's own is two lines and status 2)."""

    def error(self, message: str):
        print(f"netbuilder: error: {shorten(message)} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(1)


def whole(low: int, high: int):
    """An argparse type: a whole number from `low` to `high`, else the option's one-line refusal."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}..{high}, got {text[:40]}")
        return value

    parse.__name__ = "whole number"
    return parse


def output_file(path: str | os.PathLike, what: str = "the output") -> Path:
    """`path` as a file to write: its folder must exist (a typing slip must not make folders; nor does any command
    make folders a user did not ask for), and it must not be a folder itself."""
    if not str(path).strip():
        raise OutputError(f"no file name given for {what}")
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: the folder {folder} does not exist; make it first or write {what} elsewhere"
                          if not folder.exists() else f"{path}: {folder} is not a folder")
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for {what}")
    return path


def output_folder(path: str | os.PathLike, what: str = "the output") -> Path:
    """`path` as a folder to write into: made if it is not there, but only inside a folder that is."""
    if not str(path).strip():
        raise OutputError(f"no folder name given for {what}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder; give a folder for {what}")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: the folder {path.parent} does not exist; make it first or write {what} elsewhere")
    return path


class OutputError(NetbuilderError):
    """An output path that cannot be written as it is given."""


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
