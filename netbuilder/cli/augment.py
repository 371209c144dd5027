"""`netbuilder augment GRAPH --augment SPEC -o grid.png`: a grid of 16 training samples augmented as a run would
augment them, masks drawn over their images: see what an augmentation does before training with it."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import fail, load_graph


def register(commands) -> None:
    from ..core.data.specs import SPEC_HELP

    augment = commands.add_parser(
        "augment", help="write a grid of augmented training samples (masks drawn over their images)",
        description="Write a grid of 16 training samples augmented as `netbuilder train --augment` would augment "
                    "them: each mask moved with its image, drawn over it.")
    augment.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    augment.add_argument("--augment", metavar="SPEC",
                         help="e.g. flip,rotate=20,brightness=0.2 (default: the graph's recipe); see `netbuilder "
                              "train --help`")
    augment.add_argument("--data", metavar="SPEC", help=f"the dataset (default: the recipe's): {SPEC_HELP}")
    augment.add_argument("--seed", type=int, default=0, help="another seed, another draw (default 0)")
    augment.add_argument("--count", type=int, default=16, help="how many samples (default 16)")
    augment.add_argument("-o", "--output", required=True, metavar="GRID.png", help="the picture to write")
    augment.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.inside.augment_preview import augment_preview
    from ..core.inside.pictures import save_png
    from ..core.model.recipe import check_recipe

    graph = load_graph(args.graph)
    recipe = check_recipe(graph.recipe)
    data = args.data or recipe.get("data")
    if data is None:
        return fail(f"{args.graph}: no dataset: give --data SPEC (the graph carries no recipe that names one)")
    spec = args.augment if args.augment is not None else recipe.get("augment")
    if not spec:
        return fail("no augmentation: give --augment SPEC, e.g. flip,rotate=15 (the graph's recipe names none)")
    if not 1 <= args.count <= 256:
        return fail(f"--count must be 1..256, got {args.count}")
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        return fail(f"{out}: write a .png file")
    image = augment_preview(graph, data, spec, count=args.count, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_png(image, out)
    print(f"wrote {out}: {image.info['caption']}")
    return 0
