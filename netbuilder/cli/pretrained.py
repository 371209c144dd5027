"""`netbuilder pretrained NAME -o GRAPH.json`: an example network with torchvision's ImageNet weights (downloaded on
first use), or with `--fine-tune DIR` made ready to learn an image folder's classes (new head, frozen body)."""
from __future__ import annotations

import argparse

from .common import add_force_option, fail, output_file
from .progress import ProgressLine


def register(commands) -> None:
    from ..core.exchange.pretrained import PRETRAINED

    names = ", ".join(f"{name} ({spec.title}, {spec.megabytes} MB)" for name, spec in PRETRAINED.items())
    command = commands.add_parser(
        "pretrained", help="an example network with its published ImageNet weights (downloaded on first use)",
        description=f"Networks: {names}. The weights come from download.pytorch.org (NETBUILDER_WEIGHTS_MIRRORS "
                    "replaces it) and are kept in your data folder.")
    command.add_argument("name", metavar="NAME", choices=sorted(PRETRAINED), help=", ".join(PRETRAINED))
    command.add_argument("-o", "--output", required=True, metavar="GRAPH.json",
                         help="the graph; its weights go beside it (GRAPH.pt)")
    command.add_argument("--fine-tune", metavar="DIR", help="an image folder (one sub-folder per class): a new head "
                         "for its classes, the body frozen, a recipe that trains on it")
    command.add_argument("--epochs", type=int, default=5, help="with --fine-tune: the recipe's epochs (default 5)")
    add_force_option(command)
    command.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.exchange.fine_tune import write_fine_tune
    from ..core.exchange.pretrained import write_pretrained

    if not 1 <= args.epochs <= 100_000:
        return fail(f"--epochs must be 1..100000, got {args.epochs}")
    output_file(args.output, "the graph")
    progress = ProgressLine()
    if args.fine_tune:
        path = write_fine_tune(args.name, args.fine_tune, args.output, progress.download, args.force, args.epochs)
        print(f"wrote {path} and its weights {path.with_suffix('.pt')}: {args.name} with a new head for the classes "
              f"of {args.fine_tune}, its body frozen; train it with: netbuilder train {path}")
        return 0
    graph, weights = write_pretrained(args.name, args.output, args.force, progress.download)
    print(f"wrote {args.output} ({len(graph)} blocks) and its ImageNet weights {weights}")
    return 0
