"""Fitting a dataset to a graph: each Input's field and shape, targets, seeded splits, normalization."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..layers.spec import format_shape
from . import stream
from .dataset import DataError, Dataset, Splits
from .specs import Source
from .stream import is_lazy

SAMPLE_FIELDS = ("x", "x2")  # fields of samples, fitted to an Input's shape where that is unambiguous


@dataclass(frozen=True)
class Feed:
    """What one Input block of the graph receives: a field of the dataset, in a shape and dtype."""

    input: str  # the Input block's name
    field: str
    shape: tuple[int, ...]
    dtype: str  # "float32" or "int64"
    normalize: bool = True


def fit_tensor(tensor: torch.Tensor, name: str, what: str, shape: tuple[int, ...], notes: list[str]) -> torch.Tensor:
    """Give samples the graph's input shape when that is unambiguous: the same values in another shape
    (1x28x28 -> 784), or images of other height/width (zero-padded when smaller, resized otherwise)."""
    have, shape = tuple(tensor.shape[1:]), tuple(shape)
    lazy = is_lazy(tensor)  # samples on disk: the same steps, done to each batch as it is read
    if have == shape:
        return tensor
    if math.prod(have) == math.prod(shape) and tensor.dim() > 1:
        notes.append(f"{what} reshaped from {format_shape(have)} to {format_shape(shape)}")
        return tensor.then(stream.Reshape(shape), shape) if lazy else tensor.reshape(len(tensor), *shape)
    if len(have) == 3 and len(shape) == 3 and have[0] == shape[0] and tensor.is_floating_point():
        (_, h, w), (_, th, tw) = have, shape
        if th >= h and tw >= w and (th - h) % 2 == 0 and (tw - w) % 2 == 0:
            pad = ((tw - w) // 2, (tw - w) // 2, (th - h) // 2, (th - h) // 2)
            notes.append(f"images zero-padded from {h}x{w} to {th}x{tw}")
            return tensor.then(stream.Pad(pad), shape) if lazy else F.pad(tensor, pad)
        notes.append(f"images resized from {h}x{w} to {th}x{tw}")
        if lazy:
            return tensor.then(stream.Resize((th, tw)), shape)
        return F.interpolate(tensor, size=(th, tw), mode="bilinear", align_corners=False, antialias=True)
    raise DataError(f"graph input is {format_shape(shape)}, dataset {name} gives {format_shape(have)}"
                    + ("" if what == "samples" else f" in field '{what}'"))


def adapt_samples(data: Dataset, input_shape: tuple[int, ...], notes: list[str]) -> Dataset:
    """The dataset with its samples (x) fitted to the graph's input shape (see fit_tensor)."""
    return data.with_fields(x=fit_tensor(data.x, data.name, "samples", input_shape, notes))


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


def _statistics(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std per channel (images) or per feature (vectors), else over all values; shaped like one
    sample with 1 where the statistics are shared (e.g. C x 1 x 1). Summed in float64 by chunks, exactly as a
    streamed dataset's are (stream.statistics), so that both give the same figures."""
    step = stream.STATISTICS_BATCH
    return stream.combine_statistics(x[s:s + step] for s in range(0, len(x), step))


def normalize(parts: list[Dataset | None], notes: list[str], fields: tuple[str, ...] = ("x",),
              fixed: dict | None = None) -> dict:
    """Subtract the training split's mean and divide by its std, per channel (images) or per feature,
    as the lecture's x.sub_(mu).div_(std). A pair's second sample (x2) takes x's statistics. `fixed`
    ({field: (mean, std)}) gives the statistics instead, where the starting weights expect their own
    (pretrained ImageNet weights: ImageNet's). Returns {field: (mean, std)}."""
    train = parts[0]
    fixed = {name: stats for name, stats in (fixed or {}).items() if name in fields}
    stats = dict(fixed)
    for name in fields:
        if name in stats:
            continue
        base = "x" if name == "x2" and "x" in fields else name
        if base not in stats:
            values = train.fields[base]
            stats[base] = stream.statistics(values) if is_lazy(values) else _statistics(values.float())
        stats[name] = stats[base]

    def normalized(values, mean, std):
        if is_lazy(values):
            return values.then(stream.Normalize(mean, std), tuple(values.shape[1:]))
        return (values - mean) / std

    for i, part in enumerate(parts):
        if part is not None:
            parts[i] = part.with_fields(**{name: normalized(part.fields[name], mean, std)
                                           for name, (mean, std) in stats.items()})
    computed = [name for name in fields if name not in fixed]
    if computed:
        notes.append("normalized with the training split's mean and std"
                     + ("" if tuple(computed) == ("x",) else f" ({', '.join(computed)})"))
    if fixed:
        notes.append(f"normalized with the mean and std the starting weights expect ({', '.join(fixed)})")
    return stats


def as_integers(tensor: torch.Tensor, what: str) -> torch.Tensor:
    """Whole numbers (token ids read from a CSV as numbers, say) as int64; DataError for anything else."""
    if not tensor.is_floating_point():
        return tensor.long()
    if not bool(torch.isfinite(tensor).all()) or not bool((tensor == tensor.round()).all()):
        raise DataError(f"{what} holds numbers that are not whole: an Input of dtype int64 (token ids) needs whole "
                        "numbers; set its dtype to float32")
    return tensor.long()


def prepare(source: Source, input_shape: tuple[int, ...], output_shape: tuple[int, ...] | None, *,
            val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
            normalize_inputs: bool = True, input_dtype: str = "float32", fixed: dict | None = None) -> Splits:
    """A graph trained with the automatic loss: its one Input receives the samples, its one Output is
    compared with the labels. `fixed`: normalization statistics to use (see normalize). DataError says what
    does not fit."""
    notes: list[str] = list(source.notes)
    if input_dtype == "int64":
        if not isinstance(source.data.x, torch.Tensor):
            raise DataError(f"{source.data.name} is streamed from disk, and token ids (an Input of dtype int64) are read "
                            "only in memory: raise the memory budget (--memory-budget)")
        source = Source(source.data.with_fields(x=as_integers(source.data.x, f"{source.data.name}'s samples")),
                        source.test.with_fields(x=as_integers(source.test.x, f"{source.test.name}'s samples"))
                        if source.test is not None else None, source.notes)
    if not source.data.x.is_floating_point():
        normalize_inputs = False
    data = adapt_samples(source.data, input_shape, notes)
    test = adapt_samples(source.test, input_shape, []) if source.test is not None else None
    if output_shape is not None:
        check_targets(data, output_shape)
    parts = list(split(Source(data, test), val_fraction, test_fraction, seed))
    splits = Splits(*parts, notes)
    if normalize_inputs:
        splits.normalization = normalize(parts, notes, fixed=fixed)
        splits.train, splits.val, splits.test = parts
        splits.mean, splits.std = (t.flatten().tolist() for t in splits.normalization["x"])
    return splits


def prepare_feeds(source: Source, feeds: list[Feed], *, val_fraction: float = 0.1, test_fraction: float = 0.2,
                  seed: int = 0, fixed: dict | None = None) -> Splits:
    """A graph with loss blocks: each Input receives its field, fitted to its shape and dtype; float fields
    feeding an Input that normalizes are normalized with the training split's statistics."""
    notes: list[str] = list(source.notes)
    data, test = source.data, source.test
    fitted: dict[str, tuple[str, tuple, str]] = {}
    for feed in feeds:
        if feed.field not in data.fields:
            raise DataError(f"graph input '{feed.input}' reads field '{feed.field}'; dataset {data.name} has "
                            f"fields {', '.join(data.fields)}")
        wanted = (feed.field, feed.shape, feed.dtype)
        if feed.field in fitted and fitted[feed.field] != wanted:
            other = fitted[feed.field]
            raise DataError(f"inputs read field '{feed.field}' as {format_shape(other[1])} {other[2]} and as "
                            f"{format_shape(feed.shape)} {feed.dtype}: one field, one shape and dtype")
        fitted[feed.field] = wanted
        data, test = (_fit_field(part, feed, notes if part is data else []) if part is not None else None
                      for part in (data, test))
    parts = list(split(Source(data, test), val_fraction, test_fraction, seed))
    normalized = []
    for feed in feeds:
        if feed.dtype == "float32" and feed.field not in normalized:
            if feed.normalize != any(f.normalize for f in feeds if f.field == feed.field):
                raise DataError(f"field '{feed.field}' feeds Inputs that normalize and Inputs that do not: "
                                "set 'normalize' alike on them")
            if feed.normalize:
                normalized.append(feed.field)
    splits = Splits(*parts, notes)
    if normalized:
        splits.normalization = normalize(parts, notes, tuple(normalized), fixed=fixed)
        splits.train, splits.val, splits.test = parts
        if "x" in splits.normalization:
            splits.mean, splits.std = (t.flatten().tolist() for t in splits.normalization["x"])
    return splits


def _fit_field(data: Dataset, feed: Feed, notes: list[str]) -> Dataset:
    tensor = data.fields[feed.field]
    if feed.dtype == "int64":
        tensor = as_integers(tensor, f"field '{feed.field}' of {data.name} (read by graph input '{feed.input}')")
    elif not tensor.is_floating_point():
        tensor = tensor.float()  # 0/1 labels compared with logits, say
    if feed.field in SAMPLE_FIELDS:
        tensor = fit_tensor(tensor, data.name, "samples" if feed.field == "x" else feed.field, feed.shape, notes)
    elif tuple(tensor.shape[1:]) != tuple(feed.shape):
        raise DataError(f"graph input '{feed.input}' is {format_shape(feed.shape)}, field '{feed.field}' of "
                        f"{data.name} is {format_shape(tuple(tensor.shape[1:]))}")
    return data.with_fields(**{feed.field: tensor})
