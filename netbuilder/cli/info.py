"""`netbuilder info GRAPH [--json]`: layers, output shapes, parameter and MAC counts."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.base.errors import summarize
from .common import add_graph, fail, load_graph


def register(commands) -> None:
    info = commands.add_parser("info", help="list a graph's layers, shapes and parameter counts")
    add_graph(info)
    info.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    info.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.checks.shapes import format_count, format_shape, infer_shapes, layer_table, model_size_mb

    graph = load_graph(args.graph)
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
        fail(summarize(report.errors, 1, "more problems" if len(report.errors) > 2 else "more problem"))
    return 0 if report.ok else 1
