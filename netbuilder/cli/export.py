"""`netbuilder export GRAPH -o MODEL.onnx|model.py [--weights W.pt | --run ID] [--force]`, and
`--training-script -o DIR`. A file already there is replaced only with --force."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..core.build.weights import graph_weights
from .common import add_force_option, add_run_option, fail, load_graph, run_weights


def register(commands) -> None:
    export = commands.add_parser("export", help="export to ONNX (verified with onnxruntime) or to PyTorch code")
    export.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="MODEL.onnx or model.py")
    export.add_argument("--weights", metavar="FILE",
                        help="trained weights (a state_dict: .pt or .safetensors); default: fresh ones")
    add_run_option(export, "export its weights")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument("--training-script", action="store_true",
                        help="write a folder (-o DIR) with model.py and train.py: a standalone training script, torch "
                             "only, torchrun-ready, the graph's recipe as its defaults")
    add_force_option(export)
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.exchange.codegen import export_code
    from ..core.exchange.onnx_export import export_onnx

    graph = load_graph(args.graph)
    out = Path(args.output)
    if args.training_script:
        from ..core.exchange.training_script import export_training_script

        if args.weights or args.run_id:
            return fail("--training-script writes a script that trains from scratch: leave out --weights and --run")
        print(export_training_script(graph, out, args.graph, overwrite=args.force).summary())
        return 0
    weights = run_weights(args, graph) or args.weights or graph_weights(graph, args.graph)
    if out.suffix not in (".onnx", ".py"):
        return fail(f"{out}: write a .onnx (ONNX) or a .py (PyTorch code) file")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".onnx":
        report = export_onnx(graph, out, weights=weights, opset=args.opset, overwrite=args.force)
    else:
        report = export_code(graph, out, weights=weights, overwrite=args.force)
    print(report.summary())
    return 0
