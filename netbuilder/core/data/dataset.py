"""What a dataset is once loaded: inputs, targets, and what the targets mean."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..errors import NetbuilderError


class DataError(NetbuilderError):
    """A dataset that cannot be read or does not fit: the message names the file or the mismatch."""


@dataclass
class Dataset:
    """Samples x (N, *shape) and targets y: class indices (N,) int64, or values (N, k) float32 for regression."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    classes: list[str] | None  # class names; None for regression

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise DataError(f"{self.name}: {len(self.x)} samples but {len(self.y)} targets")

    def __len__(self) -> int:
        return len(self.x)

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
        return replace(self, name=name or self.name, x=self.x[index], y=self.y[index])

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4


@dataclass
class Splits:
    train: Dataset
    val: Dataset | None
    test: Dataset
    notes: list[str]  # what was done to fit the data to the graph, for the user to read
    mean: list[float] | None = None  # the normalization applied (per channel or feature), if any
    std: list[float] | None = None

    def __iter__(self):
        return iter(d for d in (self.train, self.val, self.test) if d is not None)
