"""`netbuilder import MODEL -o GRAPH.json [--force]`: an editable graph with its weights beside it (GRAPH.pt), from
an ONNX model, a torch.export file (MODEL.pt2), or PyTorch code (FILE.py:NAME --input 1x3x224x224, which runs
FILE.py); either file already there is replaced only with --force."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_force_option, fail, output_file


def register(commands) -> None:
    imp = commands.add_parser(
        "import", help="turn a model (ONNX, torch.export .pt2, or PyTorch code) into an editable graph with its "
                       "weights",
        description="MODEL is an ONNX file, a torch.export.save file (.pt2), or FILE.py:NAME: a torch.nn.Module class "
                    "(or a function returning a module) in your code, which is run to build it.")
    imp.add_argument("model", metavar="MODEL", help="MODEL.onnx, MODEL.pt2, or FILE.py:NAME")
    imp.add_argument("-o", "--output", required=True, metavar="GRAPH.json")
    imp.add_argument("--input", action="append", metavar="SHAPE",
                     help="FILE.py:NAME: the shape of an input of forward(), the batch first (1x3x224x224; "
                          "int64:1x12 for token ids); once per input, in order")
    imp.add_argument("--weights", metavar="W.pt", help="FILE.py:NAME: a state_dict the module loads first (the "
                                                        "model.pt netbuilder's code export writes beside model.py)")
    add_force_option(imp)
    imp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.exchange.torch_import.source import split_target

    out = Path(args.output)
    if out.suffix != ".json":
        return fail(f"{out}: the graph is written as a .json file")
    model = args.model
    is_onnx = not model.lower().endswith(".pt2") and split_target(model)[1] is None  # as before: ONNX
    if is_onnx and (args.input or args.weights):
        return fail(f"{'--input' if args.input else '--weights'} is for FILE.py:NAME; an ONNX file carries its own "
                    f"{'input shapes' if args.input else 'weights'}")
    output_file(args.output, "the graph")
    if is_onnx:
        from ..core.exchange.onnx_import import import_onnx_file

        imported = import_onnx_file(model, out, overwrite=args.force)
        checked = f"onnxruntime on {model}"
    else:
        from ..core.exchange.torch_import import import_torch_file

        imported = import_torch_file(model, out, args.input, args.weights, overwrite=args.force)
        checked = f"the model's own outputs ({model})"
    print(f"wrote {out} ({len(imported.graph)} blocks) and its weights {out.with_suffix('.pt')}; the graph matches "
          f"{checked} to {imported.max_abs_diff:.1e}")
    return 0
