"""Generated datasets, seeded: 2-D classification toys (as in TensorFlow Playground) and a small regression."""
from __future__ import annotations

import math

import torch

from .dataset import Dataset


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def xor(n: int = 1000, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Points in [-1, 1]^2; class 1 where x and y have different signs."""
    g = _generator(seed)
    x = torch.rand(n, 2, generator=g) * 2 - 1
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


GENERATORS = {"xor": xor, "circles": circles, "moons": moons, "spirals": spirals, "temperature": temperature}
