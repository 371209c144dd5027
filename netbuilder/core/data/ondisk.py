"""Opening dataset files for streaming: what their samples would take in memory, and lazy samples over them.

Each `open_*` reads only what it must (file lists, headers, labels) and gives a Dataset whose samples are
LazySamples (stream.py), with the same names, classes, sample shapes and values as the readers in readers.py give
when they read everything. `in_memory_bytes` says what the samples would take as float32, to choose between the two.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from ..base.errors import brief_text
from ..base.files import check_regular
from .dataset import DataError, Dataset
from .readers import _READ_ERRORS, FASHION_CLASSES, IMAGE_SUFFIXES, _cannot_read, _find, cifar10_files, read_idx
from .stream import ByteRecords, FloatRows, ImageFiles, LazySamples, cache_folder, fill_cache, raw_copy

FLOAT = 4


def _idx_header(path: Path) -> tuple[list[int], int]:
    """(dims, offset of the data) of an IDX file (raw; a .gz is decompressed first by raw_copy)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\0\0" or head[2] != 0x08 or not 1 <= head[3] <= 4:
            raise DataError(f"{path} is not an unsigned-byte IDX file")
        ndim = head[3]
        sizes = f.read(4 * ndim)
    dims = [int.from_bytes(sizes[4 * i:4 * i + 4], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if path.stat().st_size < offset + math.prod(dims):
        raise DataError(f"{path}: the header says {'x'.join(map(str, dims))} values, the file holds fewer (truncated?)")
    return dims, offset


def _idx_count(path: Path) -> tuple[int, int]:
    """(samples, values per sample) an IDX file declares, reading only its header (through gzip for .gz)."""
    import gzip

    check_regular(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4 or not 1 <= head[3] <= 4:
                raise DataError(f"{path} is not an IDX file (bad magic number)")
            sizes = f.read(4 * head[3])
    except _READ_ERRORS as e:
        raise _cannot_read(path, e) from None
    dims = [int.from_bytes(sizes[4 * i:4 * i + 4], "big") for i in range(head[3])]
    return dims[0], math.prod(dims[1:])


def _image_files(folder: Path) -> tuple[list[tuple[Path, int]], list[str]]:
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: no class sub-folders (expected {folder}/cat/*.png, {folder}/dog/*.png, ...)")
    files = [(path, c) for c, name in enumerate(classes) for path in sorted((folder / name).iterdir())
             if path.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"{folder}: no images in the class folders ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files, classes


def in_memory_bytes(kind: str, path: Path, input_shape: tuple[int, ...] | None = None) -> int:
    """What the samples of a dataset on disk take in memory as float32 (both parts, where it has a test part).
    A file that cannot be read (a FIFO, corrupt gzip data, a disk error) is a DataError naming it, as the readers
    say it."""
    try:
        return _in_memory_bytes(kind, path, input_shape)
    except _READ_ERRORS as e:
        raise _cannot_read(Path(getattr(e, "filename", None) or path), e) from None


def _in_memory_bytes(kind: str, path: Path, input_shape: tuple[int, ...] | None) -> int:
    if kind in ("mnist", "fashion-mnist"):
        return sum(math.prod(_idx_count(_find(path, f"{part}-images-idx3-ubyte"))) * FLOAT for part in ("train", "t10k"))
    if kind == "cifar10":
        train_files, test_file, _ = cifar10_files(path)
        return sum(f.stat().st_size for f in (*train_files, test_file)) // 3073 * 3072 * FLOAT
    if kind == "csv":
        check_regular(path)  # a FIFO would block here
        with open(path, "rb") as f:
            head = f.readline()
            lines = sum(1 for _ in f)
        return lines * max(len(head.split(b",")) - 1, 1) * FLOAT
    if kind == "images":
        files, _ = _image_files(path)
        size, channels = _image_geometry(files, input_shape)
        return len(files) * channels * size[0] * size[1] * FLOAT
    raise DataError(f"{kind} cannot be streamed")


def _image_geometry(files, input_shape) -> tuple[tuple[int, int], int]:
    """The size and channels images are read at, as read_image_folder chooses them."""
    from PIL import Image, UnidentifiedImageError

    if input_shape is not None and len(input_shape) == 3 and input_shape[0] in (1, 3):
        return (input_shape[1], input_shape[2]), input_shape[0]
    modes, first = [], None
    for path, _ in files:
        try:
            with Image.open(path) as image:  # the header only
                modes.append(image.mode)
                first = first or (image.height, image.width)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as e:
            raise DataError(f"{path}: not a readable image ({e})") from None
    return first, 1 if all(mode in ("L", "1", "I;16") for mode in modes) else 3


def open_image_folder(folder: Path, input_shape: tuple[int, ...] | None = None) -> Dataset:
    files, classes = _image_files(folder)
    for path, _ in files:
        check_regular(path)
    size, channels = _image_geometry(files, input_shape)
    reader = ImageFiles([str(p) for p, _ in files], size, channels)
    x = LazySamples(reader, len(files), reader.shape)
    return Dataset(folder.name, x, torch.tensor([c for _, c in files]), classes)


def open_mnist_folder(folder: Path, fashion: bool = False) -> tuple[Dataset, Dataset]:
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    name = "fashion-mnist" if fashion else "mnist"
    classes = FASHION_CLASSES if fashion else [str(d) for d in range(10)]
    parts = []
    for prefix in ("train", "t10k"):
        images = raw_copy(_find(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
        dims, offset = _idx_header(images)
        if len(dims) != 3 or labels.ndim != 1 or dims[0] != len(labels):
            raise DataError(f"{folder}: {prefix} images must be N x rows x cols, as many as the labels")
        if labels.size and labels.max() >= 10:
            raise DataError(f"{folder}: {prefix} labels must be 0..9, found {labels.max()}")
        reader = ByteRecords([(str(images), offset, dims[0])], dims[1] * dims[2], 0, (1, dims[1], dims[2]))
        parts.append(Dataset(f"{name} {prefix}", LazySamples(reader, dims[0], reader.shape),
                             torch.from_numpy(labels.astype(np.int64)), classes))
    return parts[0], parts[1]


def open_cifar10_folder(folder: Path) -> tuple[Dataset, Dataset]:
    train_files, test_file, classes = cifar10_files(folder)

    def part(files: list[Path], name: str) -> Dataset:
        spans, labels = [], []
        for path in files:
            size = path.stat().st_size
            if not size or size % 3073:
                raise DataError(f"{path}: {size:,} bytes is not a whole number of 3073-byte records")
            records = np.memmap(path, dtype=np.uint8, mode="r", shape=(size // 3073, 3073))
            labels.append(np.array(records[:, 0], dtype=np.int64))
            spans.append((str(path), 0, size // 3073))
        y = np.concatenate(labels)
        if y.max() >= 10:
            raise DataError(f"{name}: labels must be 0..9, found {y.max()}")
        reader = ByteRecords(spans, 3073, 1, (3, 32, 32))
        return Dataset(name, LazySamples(reader, len(y), reader.shape), torch.from_numpy(y), list(classes))

    return part(train_files, "cifar10 train"), part([test_file], "cifar10 test")


def open_csv(path: Path, label: str) -> Dataset:
    """A CSV converted once, row by row, into a float32 .npy file that is then memory-mapped (two passes: the labels
    and the count, then the values); labels as read_csv has them (classes, or regression values)."""
    import hashlib

    check_regular(path)
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{label}".encode()).hexdigest()[:16]
    target = cache_folder() / f"{path.stem}.{key}.npy"

    def data_rows():
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = csv.reader(f)
            header = [h.strip() for h in next(rows, [])]
            if label not in header:
                raise DataError(f"{path}: no column named {brief_text(label)!r}")
            yield header
            for line, row in enumerate(rows, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise DataError(f"{path} line {line}: {len(row)} values, the header has {len(header)} columns")
                yield line, row

    rows = data_rows()
    header = next(rows)
    column, features = header.index(label), len(header) - 1
    labels = [row[column].strip() for _, row in rows]
    if not labels:
        raise DataError(f"{path}: needs a header row and at least one data row")
    def convert(temporary: str) -> None:
        out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=(len(labels), features))
        rows = data_rows()
        next(rows)
        for i, (line, row) in enumerate(rows):
            try:
                out[i] = [float(cell) for j, cell in enumerate(row) if j != column]
            except ValueError:
                raise DataError(f"{path} line {line}: a feature is not a number") from None
            if not np.isfinite(out[i]).all():
                raise DataError(f"{path} line {line}: a feature is not a finite number")
        out.flush()
        del out

    fill_cache(target, convert)
    try:
        numbers = [float(v) for v in labels]
    except ValueError:
        numbers = None
    x = LazySamples(FloatRows(str(target), (features,)), len(labels), (features,))
    if numbers is not None and any(not n.is_integer() for n in numbers):
        return Dataset(path.name, x, torch.tensor(numbers, dtype=torch.float32)[:, None], None)
    classes = sorted(set(labels), key=lambda v: (float(v), v) if numbers is not None else (0.0, v))
    index = {c: i for i, c in enumerate(classes)}
    return Dataset(path.name, x, torch.tensor([index[v] for v in labels]), classes)
