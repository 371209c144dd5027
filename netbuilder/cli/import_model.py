"""`netbuilder import MODEL.onnx -o GRAPH.json [--force]`: an editable graph with its weights beside it (GRAPH.pt);
either file already there is replaced only with --force."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_force_option, fail


def register(commands) -> None:
    imp = commands.add_parser("import", help="turn an ONNX model into an editable graph with its weights")
    imp.add_argument("model", metavar="MODEL.onnx")
    imp.add_argument("-o", "--output", required=True, metavar="GRAPH.json")
    add_force_option(imp)
    imp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.exchange.onnx_import import import_onnx_file

    out = Path(args.output)
    if out.suffix != ".json":
        return fail(f"{out}: the graph is written as a .json file")
    out.parent.mkdir(parents=True, exist_ok=True)
    imported = import_onnx_file(args.model, out, overwrite=args.force)
    print(f"wrote {out} ({len(imported.graph)} blocks) and its weights {out.with_suffix('.pt')}; the graph matches "
          f"onnxruntime on {args.model} to {imported.max_abs_diff:.1e}")
    return 0
