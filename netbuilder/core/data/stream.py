"""Datasets larger than memory: samples read from disk on demand, in DataLoader worker processes.

A dataset whose samples would take more than the memory budget as float32 (image folders, IDX, CIFAR-10, CSV)
keeps its labels in memory and its samples on disk, as `LazySamples`: they behave like the tensor of all samples
where netbuilder looks at them (length, shape, indexing a few), while training reads them a batch at a time in
torch.utils.data.DataLoader worker processes, which decode (images), fit them to the graph's input (reshape, pad,
resize) and normalize them on the fly, exactly as the in-memory path does to all of them at once. The splits, the
order of the batches and the normalization (the training split's mean and std, computed in one streamed pass) are
the same, so a streamed run learns what the in-memory run of the same data and seed learns.

    budget = memory_budget()                      # a quarter of the free memory, or NETBUILDER_MEMORY_BUDGET (MB)
    loader = batch_loader(fields, device)         # DataLoader over index batches; None for tensors in memory
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import DataError

BUDGET_FRACTION = 0.25  # of the free memory: what the samples of a dataset held in memory may take
STATISTICS_BATCH = 512


def memory_budget(device: str | None = None) -> int:
    """Bytes a dataset's samples may take in memory before they are streamed: NETBUILDER_MEMORY_BUDGET (MB), else a
    quarter of the machine's available memory (and of a GPU's, when training there)."""
    from ..base.system import available_bytes

    if os.environ.get("NETBUILDER_MEMORY_BUDGET"):
        try:
            return int(float(os.environ["NETBUILDER_MEMORY_BUDGET"]) * 2**20)
        except ValueError:
            raise DataError(f"NETBUILDER_MEMORY_BUDGET must be a number of MB, got "
                            f"{os.environ['NETBUILDER_MEMORY_BUDGET'][:40]!r}") from None
    budgets = [available_bytes()]
    if device is not None and str(device).split(":")[0] != "cpu":
        budgets.append(available_bytes(device))
    known = [b for b in budgets if b is not None]
    return int(BUDGET_FRACTION * min(known)) if known else 4 * 2**30


def workers() -> int:
    """Worker processes for streamed data: one core stays with training (and the window)."""
    from ..base.system import cpu_count

    return max(1, min(4, cpu_count() - 1))


def cache_folder() -> Path:
    """Where decompressed or converted files for streaming are kept (beside the downloaded datasets)."""
    from .download import data_home

    return data_home().parent / "stream-cache"


# ----- readers: picklable, each gives float32 samples for an array of positions


class ImageFiles:
    """Image files decoded as read_image_folder decodes them: converted to grey or RGB, resized, in [0, 1]."""

    def __init__(self, paths: list[str], size: tuple[int, int], channels: int) -> None:
        self.paths, self.size, self.channels = paths, tuple(size), channels

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.channels, *self.size)

    def __call__(self, positions: np.ndarray) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        mode = "L" if self.channels == 1 else "RGB"
        arrays = []
        for i in positions.tolist():
            try:
                with Image.open(self.paths[i]) as image:
                    image.load()
                    arrays.append(np.asarray(image.convert(mode).resize((self.size[1], self.size[0])),
                                             dtype=np.float32) / 255.0)
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as e:
                raise DataError(f"{self.paths[i]}: not a readable image ({e})") from None
        x = torch.from_numpy(np.stack(arrays)) if arrays else torch.empty((0, *self.size), dtype=torch.float32)
        return x.unsqueeze(1) if self.channels == 1 else x.permute(0, 3, 1, 2).contiguous()


class ByteRecords:
    """Fixed-size records of unsigned bytes in raw files (IDX images, CIFAR-10 batches), read through a memory map:
    each record's `length` bytes from `skip` on, as float32 / 255 in `shape`."""

    def __init__(self, files: list[tuple[str, int, int]], record: int, skip: int, shape: tuple[int, ...]) -> None:
        self.files = files  # (path, offset of the first record, records)
        self.record, self.skip, self.shape = record, skip, tuple(shape)
        self.starts = np.cumsum([0] + [count for _, _, count in files])
        self._maps = None

    def __getstate__(self):
        return {**self.__dict__, "_maps": None}  # each worker maps the files itself

    def __call__(self, positions: np.ndarray) -> torch.Tensor:
        if self._maps is None:
            self._maps = [np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(count, self.record))
                          for path, offset, count in self.files]
        out = np.empty((len(positions), math.prod(self.shape)), dtype=np.float32)
        which = np.searchsorted(self.starts, positions, side="right") - 1
        for j, (f, p) in enumerate(zip(which.tolist(), positions.tolist())):
            out[j] = self._maps[f][p - self.starts[f], self.skip:]
        return torch.from_numpy(out / 255.0).reshape(len(positions), *self.shape)


class FloatRows:
    """Rows of float32 in a .npy file (a CSV converted once), through a memory map."""

    def __init__(self, path: str, shape: tuple[int, ...]) -> None:
        self.path, self.shape, self._map = path, tuple(shape), None

    def __getstate__(self):
        return {**self.__dict__, "_map": None}

    def __call__(self, positions: np.ndarray) -> torch.Tensor:
        if self._map is None:
            self._map = np.load(self.path, mmap_mode="r")
        return torch.from_numpy(np.ascontiguousarray(self._map[positions], dtype=np.float32))


# ----- what is done to every sample once read (picklable)


class Reshape:
    def __init__(self, shape):
        self.shape = tuple(shape)

    def __call__(self, x):
        return x.reshape(len(x), *self.shape)


class Pad:
    def __init__(self, pad):
        self.pad = tuple(pad)

    def __call__(self, x):
        return F.pad(x, self.pad)


class Resize:
    def __init__(self, size):
        self.size = tuple(size)

    def __call__(self, x):
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)


class Normalize:
    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        self.mean, self.std = mean, std

    def __call__(self, x):
        return (x - self.mean) / self.std


class LazySamples:
    """The samples of a dataset kept on disk: `reader` gives raw samples for positions in the files; `index` picks
    and orders them (a split), `steps` fit and normalize them. Indexing with an int, a slice or indices reads those
    samples (a tensor); `take` and `then` give new lazy views."""

    def __init__(self, reader, length: int, shape: tuple[int, ...], index: torch.Tensor | None = None,
                 steps: tuple = ()) -> None:
        self.reader, self.index, self.steps = reader, index, tuple(steps)
        self._length, self._shape = (len(index) if index is not None else length), tuple(shape)

    def __len__(self) -> int:
        return self._length

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self._length, *self._shape))

    def dim(self) -> int:
        return 1 + len(self._shape)

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def is_floating_point(self) -> bool:
        return True

    def take(self, index) -> LazySamples:
        index = torch.as_tensor(index, dtype=torch.int64)
        return LazySamples(self.reader, 0, self._shape, self.index[index] if self.index is not None else index,
                           self.steps)

    def then(self, step, shape: tuple[int, ...]) -> LazySamples:
        return LazySamples(self.reader, self._length, shape, self.index, (*self.steps, step))

    def read(self, positions) -> torch.Tensor:
        """The samples at these positions of this view, fitted and normalized."""
        positions = torch.as_tensor(positions, dtype=torch.int64).reshape(-1)
        where = self.index[positions] if self.index is not None else positions
        x = self.reader(where.numpy())
        for step in self.steps:
            x = step(x)
        return x

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, int):
            return self.read([range(self._length)[key]])[0]
        if isinstance(key, slice):
            return self.read(list(range(self._length))[key])
        return self.read(key)

    def __repr__(self) -> str:
        return f"LazySamples({self._length} x {'x'.join(map(str, self._shape))}, on disk)"


def is_lazy(value) -> bool:
    return isinstance(value, LazySamples)


# ----- batches for training and evaluation


class _Fields(torch.utils.data.Dataset):
    """A split's fields for a DataLoader: each item is a whole batch, for a list of sample positions."""

    def __init__(self, fields: dict) -> None:
        self.fields = fields

    def __len__(self) -> int:
        return len(next(iter(self.fields.values())))

    def __getitem__(self, positions):
        index = torch.as_tensor(positions, dtype=torch.int64)
        return {name: value.read(index) if is_lazy(value) else value[index] for name, value in self.fields.items()}


class IndexBatches(torch.utils.data.Sampler):
    """The batches (lists of positions) of the next pass, set before each pass."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class BatchLoader:
    """Batches of a split's fields, decoded by worker processes and moved to the device; the batches are given as
    lists of positions (the trainer's seeded order), so they are the batches of the in-memory path."""

    def __init__(self, fields: dict, device: torch.device, worker_count: int | None = None) -> None:
        self.sampler = IndexBatches()
        self.device = device
        count = workers() if worker_count is None else worker_count
        self.loader = torch.utils.data.DataLoader(
            _Fields(fields), batch_size=None, sampler=self.sampler, num_workers=count,
            persistent_workers=count > 0, pin_memory=device.type == "cuda", prefetch_factor=4 if count else None,
            generator=torch.Generator())  # its own generator: the run's random draws stay as in memory

    def batches(self, positions: list[torch.Tensor]):
        self.sampler.batches = [p.tolist() for p in positions]
        for batch in self.loader:
            yield {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}


def statistics(x: LazySamples) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of lazy samples per channel (images) or per feature (vectors), in one streamed pass: what
    prepare's _statistics gives for the same samples in memory (the same chunks, the same sums)."""
    loader = BatchLoader({"x": x}, torch.device("cpu"))
    batches = [torch.arange(s, min(s + STATISTICS_BATCH, len(x))) for s in range(0, len(x), STATISTICS_BATCH)]
    return combine_statistics(batch["x"] for batch in loader.batches(batches))


def combine_statistics(chunks) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased std over chunks of samples, per channel (images: N x C x H x W), per feature (N x F), else
    over all values; float64 sums, float32 results shaped like one sample (C x 1 x 1, F, ...)."""
    total = square = None
    count = 0
    for chunk in chunks:
        values = chunk.double()
        dims = [0, 2, 3] if values.dim() == 4 else [0] if values.dim() == 2 else list(range(values.dim()))
        s, q = values.sum(dim=dims, keepdim=True), (values * values).sum(dim=dims, keepdim=True)
        total, square = (s, q) if total is None else (total + s, square + q)
        count += values.numel() // s.numel()
    mean = total / count
    var = (square - count * mean * mean) / max(count - 1, 1)
    std = var.clamp_min(0).sqrt().clamp_min(1e-6)
    return mean[0].float(), std[0].float()


# ----- opening files for streaming


def raw_copy(path: Path) -> Path:
    """A .gz file decompressed once into the stream cache (memory maps need raw bytes); a raw file as it is."""
    if path.suffix != ".gz":
        return path
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]

    def decompress(temporary: str) -> None:
        try:
            with gzip.open(path, "rb") as source, open(temporary, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except (OSError, EOFError) as e:
            raise DataError(f"cannot read {path}: {e}") from None

    return fill_cache(cache_folder() / f"{path.stem}.{key}", decompress)


FILL_WAIT_S = 3600.0  # the longest a process waits for another filling the same cache file


def fill_cache(target: Path, write) -> Path:
    """`target`, written once by `write(temporary path)`: under a lock (a second process wanting the same file waits,
    then uses it), into a temporary file of this process that is renamed into place when complete (one a killed
    process left is removed by the next fill). A write that fails leaves nothing behind."""
    from ..base.files import atomic_write
    from ..base.locks import LockTimeout, exclusive

    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive(target.with_name(target.name + ".lock"), timeout=FILL_WAIT_S, what=f"the cache file {target}"):
            if not target.is_file():
                atomic_write(target, write)
    except LockTimeout as e:
        raise DataError(str(e)) from None
    return target
