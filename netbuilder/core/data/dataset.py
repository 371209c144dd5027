"""What a dataset is once loaded: a set of named fields, one row per sample.

Every dataset has `x` (the samples) and `y` (their labels, or regression targets); some have more
(`extra`): a pair's second sample `x2` and whether the two share a class `same`, a segmentation `mask`,
a sequence task's `tokens` and `target`. Integer fields (labels, masks, token ids) stay integers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ..base.errors import NetbuilderError


class DataError(NetbuilderError):
    """A dataset that cannot be read or does not fit: the message names the file or the mismatch."""


@dataclass
class Dataset:
    """Samples x (N, *shape) and targets y: class indices (N,) int64, or values (N, k) float32 for regression;
    more fields, each (N, ...), in `extra`. `classes` names the classes of y (None: y is a regression target)."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    classes: list[str] | None  # class names; None for regression
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    mask_classes: list[str] | None = None  # what a segmentation mask's values mean

    def __post_init__(self) -> None:
        for name, tensor in self.fields.items():
            if len(tensor) != len(self.x):
                raise DataError(f"{self.name}: {len(self.x)} samples but {len(tensor)} values of field '{name}'")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def fields(self) -> dict[str, torch.Tensor]:
        return {"x": self.x, "y": self.y, **self.extra}

    def field_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.fields[name].shape[1:])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_classification(self) -> bool:
        return self.classes is not None

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes else 0

    @property
    def target_size(self) -> int:
        """How many outputs a network needs: classes, or regression values per sample."""
        return self.num_classes if self.is_classification else int(self.y.shape[1])

    def subset(self, index: torch.Tensor, name: str | None = None) -> Dataset:
        def pick(values):  # samples kept on disk (stream.LazySamples) give a lazy view
            return values.take(index) if type(values).__name__ == "LazySamples" else values[index]

        return replace(self, name=name or self.name, x=pick(self.x), y=self.y[index],
                       extra={k: pick(v) for k, v in self.extra.items()})

    def with_fields(self, **fields: torch.Tensor) -> Dataset:
        """The same dataset with fields replaced (x, y or extra ones)."""
        extra = dict(self.extra)
        x, y = fields.pop("x", self.x), fields.pop("y", self.y)
        extra.update(fields)
        return replace(self, x=x, y=y, extra=extra)

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    @property
    def streamed(self) -> bool:
        """Whether the samples stay on disk and are read a batch at a time (stream.py)."""
        return type(self.x).__name__ == "LazySamples"


@dataclass
class Splits:
    train: Dataset
    val: Dataset | None
    test: Dataset
    notes: list[str]  # what was done to fit the data to the graph, for the user to read
    mean: list[float] | None = None  # the normalization applied to x (per channel or feature), if any
    std: list[float] | None = None
    # every normalized field: name -> (mean, std), shaped to broadcast over one sample (e.g. C x 1 x 1)
    normalization: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def __iter__(self):
        return iter(d for d in (self.train, self.val, self.test) if d is not None)
