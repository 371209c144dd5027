"""A pretrained network made ready to learn your images: the head resized to the folder's classes, the body frozen.

    graph_path = write_fine_tune("resnet18", "photos/", "resnet18_photos.json", progress=print)
    # then: netbuilder train resnet18_photos.json (its recipe names the folder), or the editor's Start

The image folder has one sub-folder of images per class (images:DIR). The graph keeps the pretrained network's
input size (3x224x224: the images are resized to it) and the normalization its weights expect (ImageNet's mean
and std travel in its weights file, and training normalizes the images with them rather than with the folder's
own statistics); its last Linear gets one output per class and fresh weights; every other block with weights is
frozen (so its BatchNorm statistics stay too). The recipe: the folder, a few epochs, a small learning rate.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..data.readers import IMAGE_SUFFIXES
from ..model.graph import Graph
from .pretrained import Pretrained, PretrainedError, pretrained, spec_of, write_graph

EPOCHS = 5
LR = 1e-3
BATCH = 16


def image_classes(folder: str | os.PathLike) -> list[str]:
    """The class sub-folders of an image folder that hold images, in order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PretrainedError(f"{folder} is not a folder")
    classes = [p.name for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")
               and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())]
    if len(classes) < 2:
        raise PretrainedError(f"{folder}: fine-tuning needs at least two class sub-folders of images (e.g. "
                              f"{folder}/cats/*.jpg and {folder}/dogs/*.jpg); found {len(classes)}")
    return classes


def fine_tune_graph(spec: Pretrained, graph: Graph, state: dict, folder: str | os.PathLike,
                    epochs: int = EPOCHS) -> tuple[Graph, dict]:
    """The pretrained graph and weights with a new head for the folder's classes and the body frozen."""
    classes = image_classes(folder)
    head = graph.find(spec.head)
    graph.set_param(head.id, "out_features", len(classes))
    state = {k: v for k, v in state.items() if not k.startswith(f"{head.name}.")}  # the new head starts fresh
    owners = {key.split(".", 1)[0] for key in state if not key.startswith("normalize_")}
    for node in graph.nodes:
        if node.name in owners and node.name != head.name:
            graph.set_setting(node.id, "frozen", True)
    folder = Path(folder).resolve()
    graph.set_recipe({"data": f"images:{folder}", "epochs": epochs, "lr": LR, "batch_size": BATCH})
    graph.meta["title"] = f"{spec.title} fine-tuned on {folder.name}"
    graph.meta["description"] = (f"{spec.title} with torchvision's ImageNet weights, its body frozen, its "
                                 f"classifier ({head.name}) made anew for the {len(classes)} classes of {folder}: "
                                 f"{', '.join(classes[:8])}{', ...' if len(classes) > 8 else ''}.")
    return graph, state


def write_fine_tune(name: str | Pretrained, folder: str | os.PathLike, graph_path: str | os.PathLike,
                    progress: Callable | None = None, force: bool = False, epochs: int = EPOCHS,
                    home: Path | None = None) -> Path:
    """Download (first time), build and write GRAPH.json + GRAPH.pt, ready to train; returns GRAPH.json's path."""
    from ..base.files import refuse_overwrite

    spec = spec_of(name) if isinstance(name, str) else name
    image_classes(folder)  # before a download: a folder that will not do is said at once
    refuse_overwrite(graph_path, Path(graph_path).with_suffix(".pt"), overwrite=force)
    graph, state = pretrained(spec, progress, home)
    graph, state = fine_tune_graph(spec, graph, state, folder, epochs)
    write_graph(graph, state, graph_path, force)
    return Path(graph_path)


def free_name(folder: Path, stem: str) -> Path:
    """FOLDER/STEM.json, or STEM_2.json, ... when that (or its weights) exists."""
    k, path = 1, folder / f"{stem}.json"
    while path.exists() or path.with_suffix(".pt").exists():
        k += 1
        path = folder / f"{stem}_{k}.json"
    return path
