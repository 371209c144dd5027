"""The `netbuilder` command: the editor, and headless access to everything in core.

    netbuilder [gui [GRAPH]]           open the editor
    netbuilder info GRAPH [--json]     layers, output shapes, parameter and MAC counts

Bad input (a missing, corrupt or invalid file) exits with status 1 and one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .core.graph import Graph, GraphError


def _load(path: str) -> Graph:
    try:
        return Graph.load(path)
    except GraphError as e:
        raise SystemExit(_fail(f"{path}: {e}"))


def _fail(message: str) -> int:
    print(f"netbuilder: error: {message}", file=sys.stderr)
    return 1


def cmd_info(args: argparse.Namespace) -> int:
    from .core.shapes import format_count, format_shape, infer_shapes, layer_table, model_size_mb

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
    for error in report.errors:
        _fail(error)
    return 0 if report.ok else 1


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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return cmd_gui(args)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
