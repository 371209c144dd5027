"""`netbuilder inspect GRAPH -o OUT.png [--weights W.pt | --run ID] [--data SPEC --sample N | --image FILE] [--block NAME]
[--show maps,filters,saliency]`: pictures of what flows inside a network."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..core.build.weights import graph_weights
from .common import add_run_option, chosen_run, fail, load_graph, run_weights


def register(commands) -> None:
    look = commands.add_parser(
        "inspect", help="pictures of what flows inside a network: feature maps, filters, saliency",
        description="Write one PNG of what the network does with one sample: the feature maps of blocks, the "
                    "filters of convolutions, saliency over the input, and the prediction.")
    look.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    look.add_argument("-o", "--output", required=True, metavar="OUT.png")
    look.add_argument("--weights", metavar="FILE",
                      help="trained weights, .pt or .safetensors (default: the graph's own, else untrained)")
    add_run_option(look, "its weights, and its dataset, split and seed")
    look.add_argument("--data", metavar="SPEC", help="the dataset whose test split the sample comes from "
                      "(default: the run's, else the recipe's)")
    look.add_argument("--sample", type=int, default=0, metavar="N", help="which test sample (default 0)")
    look.add_argument("--image", metavar="FILE", help="a picture file as the sample, instead of --data")
    look.add_argument("--block", action="append", metavar="NAME",
                      help="a block to look at (repeat for more; default: every convolution, else every block "
                           "with weights)")
    look.add_argument("--show", default="maps", help="comma-separated: maps, filters, saliency (default maps)")
    look.add_argument("--seed", type=int, help="the split's seed, and the untrained weights' (default: the run's, "
                      "else 0)")
    look.set_defaults(run=run)



def run(args: argparse.Namespace) -> int:
    from ..core.build.weights import read_state
    from ..core.inside.probe import ProbeError, fit_sample, fresh_model, held_out_samples, read_picture, trained_model
    from ..core.inside.probe_pictures import SHOWS, inspection, write_picture
    from ..core.model.recipe import check_recipe

    graph = load_graph(args.graph)
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        return fail(f"{out}: the pictures are written as a .png file")
    show = tuple(word.strip() for word in args.show.split(",") if word.strip())
    unknown = [word for word in show if word not in SHOWS]
    if unknown or not show:
        return fail(f"--show {args.show}: choose from {', '.join(SHOWS)} (comma-separated)")
    run = chosen_run(args)
    weights = run_weights(args, graph) or args.weights or graph_weights(graph, args.graph)
    if args.seed is None:
        args.seed = run.settings.get("seed", 0) if run is not None else 0
    model = trained_model(graph, read_state(weights), str(weights)) if weights else fresh_model(graph, args.seed)
    names = {n.name: n for n in graph.nodes}
    blocks = args.block or [n for n in model.blocks() if names[n].type.startswith("Conv")] or [
        n for n in model.blocks() if model.module_of(n) is not None and any(True for _ in model.module_of(n).parameters())]
    for block in blocks:
        model.module_of(block)  # a block that is not there, or not part of the network, is named now
    recipe = {**check_recipe(graph.recipe), **(run.settings if run is not None else {})}
    spec = args.data or recipe.get("data")
    inputs, classes, label, where = {}, None, None, ""
    if args.image:
        shape = tuple(graph.find(model.inputs[0]).params["shape"])
        inputs = {model.inputs[0]: fit_sample(read_picture(args.image, shape), shape, args.image)}
        where = args.image
    elif spec and show != ("filters",):
        samples = held_out_samples(graph, spec, val_fraction=recipe.get("val_fraction", 0.1),
                                   test_fraction=recipe.get("test_fraction", 0.2), seed=args.seed)
        inputs, classes, label = samples.sample(args.sample), samples.classes, samples.label(args.sample)
        where = f"sample {args.sample} of {samples.name}" + (f" (class {label})" if label is not None else "")
    elif show != ("filters",):
        raise ProbeError(f"{args.graph}: no sample to look at: give --data SPEC (the graph's recipe names none) "
                         "or --image FILE, or --show filters")
    trained = (f"run {run.number}'s weights" if run is not None else f"weights {weights}" if weights
               else f"untrained (seed {args.seed}; give --weights W.pt)")
    picture = inspection(model, inputs, blocks, show, classes=classes, label=label,
                         heading=f"{Path(args.graph).name}, {trained}" + (f": {where}" if where else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_picture(picture, out)
    if inputs:
        from ..core.inside.probe import prediction_of

        prediction = prediction_of(model.outputs(inputs), classes)
        print(f"{where}: {prediction.describe()}" if prediction else where)
        if "maps" in show:
            for block in blocks:
                print("  " + model.run(block, inputs, with_outputs=False).describe())
    print(f"wrote {out} ({', '.join(show)} of {', '.join(blocks)}; {trained})")
    return 0
