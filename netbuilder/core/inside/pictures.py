"""Pictures of what a trained network makes, written as PNG with Pillow (no Qt, no matplotlib).

- a generator (a graph with Noise, or a VAE's Sample): a grid of images it generates from new noise, or for
  2-D points a scatter of them over the real data;
- an autoencoder (an Output shaped like its Input): test samples beside their reconstructions.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from ..base.files import atomic_write
from ..build.compile import compile_graph
from ..model.graph import Graph

GRID = 64  # generated images in a grid
POINTS = 1000  # generated 2-D points in a scatter
POINT_COLOURS = ("#d93025", "#b9c3d6")  # generated, real


def is_image(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and shape[0] in (1, 3)


def has_sources(graph: Graph) -> bool:
    return any(node.type in ("Noise", "Sample") for node in graph.nodes)


def generate(graph: Graph, state: dict, count: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """{Output name: `count` samples} of a trained generator, each source fed standard normal noise."""
    from ..build.weights import load_for_inference, split_normalization
    from ..checks.shapes import infer_shapes

    weights, _ = split_normalization(state)
    report = infer_shapes(graph)
    model = compile_graph(graph, report, mode="generate")
    load_for_inference(model, weights, "the trained weights")
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    feeds = []
    for name in (n.target for n in model.graph.find_nodes(op="placeholder")):
        node = graph.find(name)
        if node.type == "Input":  # a conditional generator's other inputs are not ours to invent
            raise ValueError(f"generating needs only noise, but the output depends on the Input {name}")
        feeds.append(torch.randn(count, *report.nodes[node.id].output, generator=generator))
    with torch.no_grad():
        out = model(*feeds)
    outputs = [n.name for n in graph.nodes if n.type == "Output"]
    out = out if isinstance(out, tuple) else (out,)
    return dict(zip(outputs, out))


def image_grid(images: torch.Tensor, columns: int | None = None, pad: int = 2):
    """N x C x H x W (C = 1 or 3) as one Pillow image, each image stretched to its own range."""
    from PIL import Image

    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    x = images.detach().float().cpu()
    low = x.flatten(1).min(1).values[:, None, None, None]
    high = x.flatten(1).max(1).values[:, None, None, None]
    x = ((x - low) / (high - low).clamp_min(1e-8) * 255).round().to(torch.uint8)
    canvas = torch.full((3, rows * (h + pad) + pad, columns * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, top:top + h, left:left + w] = x[i].expand(3, h, w)
    return Image.fromarray(canvas.permute(1, 2, 0).contiguous().numpy(), "RGB")


def scatter(points: torch.Tensor, background: torch.Tensor | None = None, size: int = 480):
    """2-D points (red) over the real data (grey) as a Pillow image."""
    from PIL import Image, ImageDraw

    every = torch.cat([points, background]) if background is not None else points
    low, high = every.min(0).values, every.max(0).values
    span = (high - low).clamp_min(1e-6)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)

    def plot(p: torch.Tensor, colour: str) -> None:
        xy = ((p - low) / span * (size - 20) + 10).tolist()
        for x, y in xy:
            draw.ellipse((x - 1.5, size - y - 1.5, x + 1.5, size - y + 1.5), fill=colour)

    if background is not None:
        plot(background, POINT_COLOURS[1])
    plot(points, POINT_COLOURS[0])
    return image


def save_png(image, path: Path) -> None:
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def preview(graph: Graph, trainer, count: int = 32):
    """A picture of what the network makes now (a Pillow image with info["caption"]), or None: generated
    samples for a graph with noise or sampling, test samples beside their reconstructions for an autoencoder."""
    from ..training.experiment import trained_state

    was_training = trainer.model.training
    try:
        state = trained_state(trainer)
    finally:
        trainer.model.train(was_training)
    if has_sources(graph):
        try:
            made = generate(graph, state, POINTS if _makes_points(graph) else count)
        except ValueError:
            made = {}
        for samples in made.values():
            shape = tuple(samples.shape[1:])
            if is_image(shape):
                image = image_grid(samples[:count], columns=8)
            elif shape == (2,):
                real = trainer.data.test.x if trainer.data.test.x.dim() == 2 else None
                image = scatter(samples, real, size=320)
            else:
                continue
            image.info["caption"] = "Generated from new noise (red: generated, grey: real)" if shape == (2,) \
                else "Generated from new noise"
            if shape == (2,):  # what the colours are, for a legend beside the picture
                image.info["legend"] = (("generated", POINT_COLOURS[0]), ("real data", POINT_COLOURS[1]))
            return image
    pairs = reconstructions(graph, state, trainer.data.test, count // 2)
    if pairs is not None:
        image = image_grid(pairs, columns=8)
        image.info["caption"] = "Test samples (left) beside their reconstructions (right)"
        return image
    return None


def _makes_points(graph: Graph) -> bool:
    from ..checks.shapes import infer_shapes

    report = infer_shapes(graph)
    return any(report.nodes[n.id].output == (2,) for n in graph.nodes if n.type != "Output" and n.id in report.nodes
               and any(o.type == "Output" for o in (graph.node(e.dst) for e in graph.output_edges(n.id))))


def write_pictures(out_dir: Path, graph: Graph, setup, trainer) -> list[str]:
    """The pictures of a finished run (samples.png, reconstructions.png) in out_dir; their names."""
    from ..training.experiment import trained_state

    written = []
    state = trained_state(trainer)
    if has_sources(graph):
        try:
            made = generate(graph, state, POINTS)
        except ValueError:
            made = {}
        for name, samples in made.items():
            shape = tuple(samples.shape[1:])
            if is_image(shape):
                save_png(image_grid(samples[:GRID]), out_dir / "samples.png")
            elif shape == (2,):
                real = trainer.data.test.x if trainer.data.test.x.dim() == 2 else None
                save_png(scatter(samples, real), out_dir / "samples.png")
            else:
                continue
            written.append("samples.png")
            break
    pairs = reconstructions(graph, state, trainer.data.test)
    if pairs is not None:
        save_png(image_grid(pairs, columns=8), out_dir / "reconstructions.png")
        written.append("reconstructions.png")
    return written


def reconstructions(graph: Graph, state: dict, test, count: int = 16) -> torch.Tensor | None:
    """Test images and what an autoencoder makes of them, interleaved (original, reconstruction, ...);
    None when the graph's one Input and one Output are not the same image shape."""
    from ..build.weights import load_for_inference, split_normalization

    inputs = [n for n in graph.nodes if n.type == "Input" and n.params["field"] == "x"]
    outputs = [n for n in graph.nodes if n.type == "Output"]
    if len(inputs) != 1 or not outputs:
        return None
    shape = tuple(inputs[0].params["shape"])
    if not is_image(shape):
        return None
    model = compile_graph(graph, normalization=split_normalization(state)[1])
    if [n.target for n in model.graph.find_nodes(op="placeholder")] != [inputs[0].name]:
        return None
    load_for_inference(model, state, "the trained weights")
    model.eval()
    x = test.x[:count]
    if tuple(x.shape[1:]) != shape:
        return None
    mean, std = split_normalization(state)[1].get(inputs[0].name, (0.0, 1.0))
    raw = x * std + mean  # the test split is normalized; the exported model takes raw inputs
    with torch.no_grad():
        out = model(raw)
    out = out[0] if isinstance(out, tuple) else out
    if tuple(out.shape[1:]) != shape:
        return None
    return torch.stack([raw, out], 1).reshape(-1, *shape)
