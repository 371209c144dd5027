"""`netbuilder export GRAPH -o MODEL.onnx|model.py [--weights W.pt]`, and `--training-script -o DIR`."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..core.build.weights import graph_weights
from .common import fail, load_graph


def register(commands) -> None:
    export = commands.add_parser("export", help="export to ONNX (verified with onnxruntime) or to PyTorch code")
    export.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="MODEL.onnx or model.py")
    export.add_argument("--weights", metavar="FILE",
                        help="trained weights (a state_dict: .pt or .safetensors); default: fresh ones")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument("--training-script", action="store_true",
                        help="write a folder (-o DIR) with model.py and train.py: a standalone training script, torch "
                             "only, torchrun-ready, the graph's recipe as its defaults")
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.exchange.codegen import export_code
    from ..core.exchange.onnx_export import export_onnx

    graph = load_graph(args.graph)
    out = Path(args.output)
    if args.training_script:
        from ..core.exchange.training_script import export_training_script

        print(export_training_script(graph, out, args.graph).summary())
        return 0
    weights = args.weights or graph_weights(graph, args.graph)
    if out.suffix not in (".onnx", ".py"):
        return fail(f"{out}: write a .onnx (ONNX) or a .py (PyTorch code) file")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".onnx":
        report = export_onnx(graph, out, weights=weights, opset=args.opset)
    else:
        report = export_code(graph, out, weights=weights)
    print(report.summary())
    return 0
