"""Generated datasets, seeded: 2-D classification toys (as in TensorFlow Playground) and a small regression."""
from __future__ import annotations

import math

import torch

from .dataset import Dataset


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def xor(n: int = 1000, noise: float = 0.1, seed: int = 0, margin: float = 0.0) -> Dataset:
    """Points in [-1, 1]^2; class 1 where x and y have different signs. `margin` keeps the points at least that
    far from the axes (the four clusters of the classic XOR problem)."""
    g = _generator(seed)
    x = torch.rand(n, 2, generator=g) * 2 - 1
    if margin:
        x = x.sign() * (margin + (1 - margin) * x.abs())
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
    return Dataset("xor", x + noise * torch.randn(n, 2, generator=g), y, ["same sign", "different sign"])


def circles(n: int = 1000, noise: float = 0.1, seed: int = 0) -> Dataset:
    """A disc of class 0 inside a ring of class 1."""
    g = _generator(seed)
    y = torch.arange(n) % 2
    radius = torch.where(y == 0, torch.rand(n, generator=g) * 0.5, 0.7 + torch.rand(n, generator=g) * 0.3)
    angle = torch.rand(n, generator=g) * 2 * math.pi
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    return Dataset("circles", x + noise * torch.randn(n, 2, generator=g), y, ["inner", "outer"])


def moons(n: int = 1000, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles."""
    g = _generator(seed)
    y = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * math.pi
    x = torch.where(y[:, None] == 0, torch.stack([torch.cos(t), torch.sin(t)], 1),
                    torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1))
    return Dataset("moons", x + noise * torch.randn(n, 2, generator=g), y, ["upper", "lower"])


def spirals(n: int = 1000, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two spirals wound into each other."""
    g = _generator(seed)
    y = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * 3 * math.pi + 0.5
    sign = 1 - 2 * y.float()
    x = torch.stack([sign * t * torch.cos(t), sign * t * torch.sin(t)], 1) / (3.5 * math.pi)
    return Dataset("spirals", x + noise * torch.randn(n, 2, generator=g), y, ["spiral A", "spiral B"])


def temperature(n: int = 1000, noise: float = 0.5, seed: int = 0) -> Dataset:
    """The temperature toy: 3 inputs (time of day, cloud cover, altitude, each in [0, 1]) -> temperature in C."""
    g = _generator(seed)
    x = torch.rand(n, 3, generator=g)
    hour, clouds, altitude = x.unbind(1)
    temp = 15 + 8 * torch.sin(2 * math.pi * (hour - 0.35)) - 4 * clouds - 9 * altitude ** 2
    return Dataset("temperature", x, (temp + noise * torch.randn(n, generator=g))[:, None], None)




def ring(n: int = 2000, noise: float = 0.02, seed: int = 0, modes: int = 8) -> Dataset:
    """The GAN benchmark: 2-D points from `modes` Gaussians (std `noise`) evenly spaced on the unit circle;
    y is each point's mode."""
    g = _generator(seed)
    y = torch.randint(0, modes, (n,), generator=g)
    angle = 2 * math.pi * y.float() / modes
    x = torch.stack([torch.cos(angle), torch.sin(angle)], 1) + noise * torch.randn(n, 2, generator=g)
    return Dataset("ring", x, y, [f"mode {k}" for k in range(modes)])


SHAPE_CLASSES = ["circle", "square", "triangle"]


def shapes(n: int = 2000, noise: float = 0.1, seed: int = 0, size: int = 32) -> Dataset:
    """Segmentation of generated images: 1 to 3 filled circles, squares and triangles on a noisy background.
    x: 1 x size x size images; mask: size x size class per pixel (0 background, 1 circle, 2 square,
    3 triangle); y: the class of the largest shape."""
    g = _generator(seed)
    rows = torch.arange(size, dtype=torch.float32)[:, None]
    cols = torch.arange(size, dtype=torch.float32)[None, :]
    images = torch.zeros(n, 1, size, size)
    masks = torch.zeros(n, size, size, dtype=torch.int64)
    labels = torch.zeros(n, dtype=torch.int64)
    for i in range(n):
        count = int(torch.randint(1, 4, (1,), generator=g))
        largest = 0.0
        for _ in range(count):
            kind = int(torch.randint(0, 3, (1,), generator=g))
            r = float(torch.empty(1).uniform_(size * 0.12, size * 0.22, generator=g))
            cy, cx = (float(v) for v in torch.empty(2).uniform_(r, size - r, generator=g))
            if kind == 0:
                inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r
            elif kind == 1:
                inside = ((rows - cy).abs() <= r * 0.85) & ((cols - cx).abs() <= r * 0.85)
            else:  # pointing up: below the apex, within the two slanted sides
                top, bottom = cy - r, cy + r * 0.8
                half = (rows - top) / (bottom - top) * r
                inside = (rows >= top) & (rows <= bottom) & ((cols - cx).abs() <= half)
            masks[i][inside] = kind + 1
            images[i, 0][inside] = 1.0
            if float(inside.sum()) > largest:
                largest, labels[i] = float(inside.sum()), kind
    images = images + noise * torch.randn(images.shape, generator=g)
    return Dataset("shapes", images, labels, list(SHAPE_CLASSES), extra={"mask": masks},
                   mask_classes=["background", *SHAPE_CLASSES])


def tokens(task: str, n: int = 5000, length: int = 8, vocab: int = 10, seed: int = 0) -> Dataset:
    """Sequence tasks on random token ids 0..vocab-1: copy, reverse, sort (tokens -> target, one id per step),
    and majority (tokens -> the most frequent id, the smallest on a tie). Fields: tokens and target (also x
    and y), and target_in: the target shifted right behind a start id (= vocab), a decoder's input."""
    g = _generator(seed)
    x = torch.randint(0, vocab, (n, length), generator=g)
    names = [str(v) for v in range(vocab)]
    if task == "majority":
        counts = torch.nn.functional.one_hot(x, vocab).sum(1)
        y = counts.argmax(1)
        return Dataset("majority", x, y, names, extra={"tokens": x, "target": y})
    target = {"copy": x, "reverse": x.flip(1), "sort": x.sort(1).values}[task]
    start = torch.full((n, 1), vocab, dtype=torch.int64)
    return Dataset(task, x, target, names, extra={"tokens": x, "target": target,
                                                  "target_in": torch.cat([start, target[:, :-1]], 1)})


_POINTS = {"n": (int, 2, 1_000_000), "noise": (float, 0, 10), "seed": (int, 0, 2**32 - 1)}
_TOKENS = {"n": (int, 2, 1_000_000), "length": (int, 1, 512), "vocab": (int, 2, 100_000), "seed": (int, 0, 2**32 - 1)}
# name -> (make(**options), {option: (type, lowest, highest)})
GENERATORS = {
    "xor": (xor, {**_POINTS, "margin": (float, 0, 0.9)}), "circles": (circles, _POINTS), "moons": (moons, _POINTS), "spirals": (spirals, _POINTS),
    "temperature": (temperature, _POINTS), "ring": (ring, {**_POINTS, "modes": (int, 2, 64)}),
    "shapes": (shapes, {**_POINTS, "n": (int, 2, 100_000), "size": (int, 8, 256)}),
    **{task: (lambda task=task, **options: tokens(task, **options), _TOKENS)
       for task in ("copy", "reverse", "sort", "majority")},
}
