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
