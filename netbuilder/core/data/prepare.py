"""Fitting a dataset to a graph: sample shape, targets, seeded splits, normalization."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..layers.spec import format_shape
from .dataset import DataError, Dataset, Splits
from .specs import Source


def adapt_samples(data: Dataset, input_shape: tuple[int, ...], notes: list[str]) -> Dataset:
    """Give samples the graph's input shape when that is unambiguous: the same values in another shape
    (1x28x28 -> 784), or images of other height/width (zero-padded when smaller, resized otherwise)."""
    have = data.sample_shape
    if have == tuple(input_shape):
        return data
    if math.prod(have) == math.prod(input_shape):
        notes.append(f"samples reshaped from {format_shape(have)} to {format_shape(input_shape)}")
        return Dataset(data.name, data.x.reshape(len(data), *input_shape), data.y, data.classes)
    if len(have) == 3 and len(input_shape) == 3 and have[0] == input_shape[0]:
        (_, h, w), (_, th, tw) = have, input_shape
        if th >= h and tw >= w and (th - h) % 2 == 0 and (tw - w) % 2 == 0:
            pad = ((tw - w) // 2, (tw - w) // 2, (th - h) // 2, (th - h) // 2)
            notes.append(f"images zero-padded from {h}x{w} to {th}x{tw}")
            return Dataset(data.name, F.pad(data.x, pad), data.y, data.classes)
        notes.append(f"images resized from {h}x{w} to {th}x{tw}")
        x = F.interpolate(data.x, size=(th, tw), mode="bilinear", align_corners=False, antialias=True)
        return Dataset(data.name, x, data.y, data.classes)
    raise DataError(f"graph input is {format_shape(input_shape)}, dataset {data.name} gives {format_shape(have)}")


def check_targets(data: Dataset, output_shape: tuple[int, ...]) -> None:
    """The network's output must match the targets: one logit per class (or one for two classes), or one
    value per regression target."""
    if data.is_classification:
        ok = output_shape == (data.num_classes,) or (data.num_classes == 2 and output_shape == (1,))
        if not ok:
            raise DataError(f"graph output is {format_shape(output_shape)}, dataset {data.name} has "
                            f"{data.num_classes} classes: the output must be {data.num_classes} values per sample, "
                            "one score per class")
    elif output_shape != (data.target_size,):
        raise DataError(f"graph output is {format_shape(output_shape)}, dataset {data.name} has "
                        f"{data.target_size} target value(s) per sample")


def split(source: Source, val_fraction: float, test_fraction: float, seed: int) -> tuple[Dataset, ...]:
    """Seeded shuffle, then test (unless the files define one), validation and training parts."""
    generator = torch.Generator().manual_seed(seed)
    data = source.data
    order = torch.randperm(len(data), generator=generator)
    n_test = 0 if source.test is not None else round(len(data) * test_fraction)
    n_val = round(len(data) * val_fraction)
    if len(data) - n_test - n_val < 1:
        raise DataError(f"{data.name}: {len(data)} samples are too few for these splits")
    test = source.test if source.test is not None else data.subset(order[:n_test], f"{data.name} test")
    val = data.subset(order[n_test:n_test + n_val], f"{data.name} validation") if n_val else None
    train = data.subset(order[n_test + n_val:], f"{data.name} train")
    if len(test) == 0:
        raise DataError(f"{data.name}: the test split is empty; give it a fraction of the data")
    return train, val, test


def normalize(parts: list[Dataset | None], notes: list[str]) -> tuple[list[float], list[float]]:
    """Subtract the training split's mean and divide by its std, per channel (images) or per feature,
    as the lecture's x.sub_(mu).div_(std). Returns the mean and std."""
    train = parts[0]
    dims = [0, 2, 3] if train.is_image else [0] if train.x.dim() == 2 else list(range(train.x.dim()))
    mean = train.x.mean(dim=dims, keepdim=True)
    std = train.x.std(dim=dims, keepdim=True).clamp_min(1e-6)
    for part in parts:
        if part is not None:
            part.x = (part.x - mean) / std
    notes.append("normalized with the training split's mean and std")
    return mean.flatten().tolist(), std.flatten().tolist()


def prepare(source: Source, input_shape: tuple[int, ...], output_shape: tuple[int, ...] | None, *,
            val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
            normalize_inputs: bool = True) -> Splits:
    """Everything between a loaded dataset and training: fit, split, normalize. DataError says what
    does not fit."""
    notes: list[str] = []
    if source.data.x.dtype == torch.int64 or not source.data.x.is_floating_point():
        normalize_inputs = False
    data = adapt_samples(source.data, input_shape, notes)
    test = adapt_samples(source.test, input_shape, []) if source.test is not None else None
    if output_shape is not None:
        check_targets(data, output_shape)
    train, val, test = split(Source(data, test), val_fraction, test_fraction, seed)
    splits = Splits(train, val, test, notes)
    if normalize_inputs:
        splits.mean, splits.std = normalize([train, val, test], notes)
    return splits
