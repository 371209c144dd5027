"""The augmentation preview: a grid of a graph's training samples as an augmented run sees them, masks drawn over
their images (the editor's training settings show it; `netbuilder augment GRAPH --augment SPEC -o grid.png`
writes it)."""
from __future__ import annotations

from collections.abc import Callable

from ..data.augment import augment_text
from ..data.augment.grid import augment_grid
from ..data.specs import load_dataset
from ..model.graph import Graph
from ..training.augmenting import augmented_samples
from ..training.experiment import prepare_training

PREVIEW_COUNT = 16


def augment_preview(graph: Graph, data, augment, count: int = PREVIEW_COUNT, seed: int = 0,
                    load: Callable = load_dataset, setup=None):
    """A Pillow image of `count` augmented training samples (a seeded choice and draw; another seed, another
    draw), with info["caption"]. NetbuilderError when the data does not fit the graph or a step cannot apply."""
    setup = setup or prepare_training(graph, data, seed=0, load=load)
    samples = augmented_samples(augment, setup.model, setup.objective.feeds, setup.objective.has_terms,
                                setup.splits, count=count, seed=seed)
    steps = augment_text(augment) or "none"
    moving = samples.plan.describe()
    caption = f"{count} samples of {data}, augmented: {steps} (on {moving})"
    image = augment_grid(samples.images, samples.mask, samples.mask_classes, columns=4,
                         title=f"{steps}  -  {moving}")
    image.info["caption"] = caption
    return image
