"""`netbuilder [gui [GRAPH]]`: open the editor (the default with no command)."""
from __future__ import annotations

import argparse


def register(commands) -> None:
    gui = commands.add_parser("gui", help="open the editor (the default with no command)")
    gui.add_argument("graph", metavar="GRAPH", nargs="?", help="a graph document to open")
    gui.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..ui.app import run as open_editor

    return open_editor(getattr(args, "graph", None))
