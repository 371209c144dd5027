"""Readers for dataset files a user has: MNIST-style IDX, CIFAR-10 binary, CSV, and image folders.

Each reader checks what it reads (sizes, counts, values) and raises DataError naming the file and the
problem. Nothing is executed or unpickled: IDX and CIFAR are raw bytes, CSV is text, images are decoded
by Pillow.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from ..base.errors import brief, brief_text
from ..base.files import check_regular
from .dataset import DataError, Dataset

MAX_BYTES = 4 * 2**30  # no teaching dataset is bigger; a header claiming more is corrupt
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


_READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, zlib.error)  # zlib.error: corrupt deflate data


def _cannot_read(path: Path, error: BaseException) -> DataError:
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return DataError(f"cannot read {path}: {brief_text(reason, 200)}")


def _read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    """A file's bytes (a .gz file's, decompressed), refused beyond `limit`; only regular files are read."""
    try:
        check_regular(path)
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read(limit + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
    except _READ_ERRORS as e:
        raise _cannot_read(path, e) from None
    if len(data) > limit:
        raise DataError(f"{path} is larger than {limit / 2**30:.3g} GB")
    return data


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): magic 0 0 type ndim, big-endian int32 sizes, then unsigned bytes.
    The header is read first, so a compressed file is never inflated beyond the size its header declares."""
    try:
        check_regular(path)
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise DataError(f"{path} is not an IDX file (bad magic number)")
            if head[2] != 0x08:
                raise DataError(f"{path}: only unsigned-byte IDX files are supported (type code 0x{head[2]:02x})")
            ndim = head[3]
            sizes = f.read(4 * ndim) if 1 <= ndim <= 4 else b""
            if len(sizes) < 4 * ndim or not 1 <= ndim <= 4:
                raise DataError(f"{path}: bad IDX header ({ndim} dimensions)")
            dims = [int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(ndim)]
            declared = math.prod(dims)
            if declared > MAX_BYTES:
                raise DataError(f"{path}: the header declares {'x'.join(map(str, dims))} = {declared:,} values, "
                                f"more than {MAX_BYTES // 2**30} GB (corrupt?)")
            body = f.read(declared + 1)
    except _READ_ERRORS as e:
        raise _cannot_read(path, e) from None
    if declared != len(body):
        raise DataError(f"{path}: the header says {'x'.join(map(str, dims))} = {declared:,} values, "
                        f"the file holds {'more' if len(body) > declared else f'{len(body):,}'} "
                        "(truncated or corrupt)")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    alt = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (alt, alt + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: no {stem} or {stem}.gz")


def read_mnist_folder(folder: Path, fashion: bool = False) -> tuple[Dataset, Dataset]:
    """MNIST or Fashion-MNIST from the four standard IDX files: (train, test)."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    name = "fashion-mnist" if fashion else "mnist"
    classes = FASHION_CLASSES if fashion else [str(d) for d in range(10)]
    parts = []
    for prefix in ("train", "t10k"):
        images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(f"{folder}: {prefix} images must be N x rows x cols and labels a list")
        if len(images) != len(labels):
            raise DataError(f"{folder}: {len(images)} {prefix} images but {len(labels)} labels")
        if labels.size and labels.max() >= 10:
            raise DataError(f"{folder}: {prefix} labels must be 0..9, found {labels.max()}")
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        parts.append(Dataset(f"{name} {prefix}", x, torch.from_numpy(labels.astype(np.int64)), classes))
    return parts[0], parts[1]


def cifar10_files(folder: Path) -> tuple[list[Path], Path, list[str]]:
    """(the training batches, the test batch, the class names) of a CIFAR-10 binary folder (or the folder holding
    its cifar-10-batches-bin); DataError when they are not there."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    inner = folder / "cifar-10-batches-bin"
    folder = inner if inner.is_dir() else folder
    train_files = sorted(folder.glob("data_batch_*.bin"))
    if not train_files or not (folder / "test_batch.bin").is_file():
        raise DataError(f"{folder}: expected data_batch_1.bin .. data_batch_5.bin and test_batch.bin "
                        "(the CIFAR-10 binary version)")
    classes = CIFAR_CLASSES
    meta = folder / "batches.meta.txt"
    if meta.is_file():
        names = [line.strip() for line in meta.read_text(errors="replace").splitlines() if line.strip()]
        classes = names[:10] if len(names) >= 10 else classes
    return train_files, folder / "test_batch.bin", list(classes)


def read_cifar10_folder(folder: Path) -> tuple[Dataset, Dataset]:
    """CIFAR-10's binary version: data_batch_1..5.bin and test_batch.bin, records of 1 label + 3072 bytes."""
    train_files, test_file, classes = cifar10_files(folder)

    def read(files: list[Path], name: str) -> Dataset:
        chunks = []
        for path in files:
            data = _read_bytes(path)
            if not data or len(data) % 3073:
                raise DataError(f"{path}: {len(data):,} bytes is not a whole number of 3073-byte records")
            chunks.append(np.frombuffer(data, dtype=np.uint8).reshape(-1, 3073))
        table = np.concatenate(chunks)
        if table[:, 0].max() >= 10:
            raise DataError(f"{name}: labels must be 0..9, found {table[:, 0].max()}")
        x = torch.from_numpy(table[:, 1:].astype(np.float32) / 255.0).reshape(-1, 3, 32, 32)
        return Dataset(name, x, torch.from_numpy(table[:, 0].astype(np.int64)), list(classes))

    return read(train_files, "cifar10 train"), read([test_file], "cifar10 test")


def read_csv(path: Path, label: str) -> Dataset:
    """Numeric feature columns and one label column chosen by name. Labels that are all whole numbers or
    text are classes; labels with fractions make a regression."""
    try:
        text = _read_bytes(path).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read {path}: {brief_text(str(e), 200)}") from None
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label not in header:
        raise DataError(f"{path}: no column named {brief(label)} (columns: {_columns(header)})")
    target_col = header.index(label)
    features, labels, label_lines = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path} line {line}: {len(row)} values, the header has {len(header)} columns")
        values = []
        for col, cell in enumerate(row):
            if col == target_col:
                continue
            try:
                value = float(cell)
            except ValueError:
                raise DataError(f"{path} line {line}, column '{brief_text(header[col])}': {brief(cell)} is not a number") \
                    from None
            if not math.isfinite(value):
                raise DataError(f"{path} line {line}, column '{brief_text(header[col])}': {brief(cell)} is not a "
                                "finite number")
            values.append(value)
        features.append(values)
        labels.append(row[target_col].strip())
        label_lines.append(line)
    if not features or not features[0]:
        raise DataError(f"{path}: needs at least one feature column besides '{label}'")
    x = torch.tensor(features, dtype=torch.float32)
    try:
        numbers = [float(v) for v in labels]
    except ValueError:
        numbers = None
    if numbers is not None:  # labels are checked as features are: a NaN target trains to a NaN loss
        for line, cell, number in zip(label_lines, labels, numbers):
            if not math.isfinite(number):
                raise DataError(f"{path} line {line}, label column '{brief_text(label)}': {brief(cell)} is not a "
                                "finite number")
    if numbers is not None and any(not n.is_integer() for n in numbers):
        return Dataset(path.name, x, torch.tensor(numbers, dtype=torch.float32)[:, None], None)
    classes = sorted(set(labels), key=lambda v: (float(v), v) if numbers is not None else (0.0, v))
    index = {c: i for i, c in enumerate(classes)}
    return Dataset(path.name, x, torch.tensor([index[v] for v in labels]), classes)


def _columns(header: list[str], show: int = 8) -> str:
    shown = ", ".join(brief_text(h, 30) for h in header[:show])
    return shown + (f", and {len(header) - show:,} more" if len(header) > show else "")


def read_image_folder(folder: Path, size: tuple[int, int] | None = None, channels: int | None = None) -> Dataset:
    """One sub-folder per class, images inside, resized to `size` (height, width) and converted to
    `channels` (1 grey, 3 RGB); by default the first image's size and RGB unless all are grey."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("reading image folders needs Pillow: pip install pillow") from None
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: no class sub-folders (expected {folder}/cat/*.png, {folder}/dog/*.png, ...)")
    files = [(path, c) for c, name in enumerate(classes) for path in sorted((folder / name).iterdir())
             if path.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"{folder}: no images in the class folders ({', '.join(sorted(IMAGE_SUFFIXES))})")
    images = []
    for path, _ in files:
        try:
            check_regular(path)
            with Image.open(path) as image:
                image.load()
                images.append(image.copy())
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as e:
            raise DataError(f"{path}: not a readable image ({e})") from None
    if channels is None:
        channels = 1 if all(image.mode in ("L", "1", "I;16") for image in images) else 3
    if size is None:
        size = (images[0].height, images[0].width)
    mode = "L" if channels == 1 else "RGB"
    arrays = [np.asarray(image.convert(mode).resize((size[1], size[0])), dtype=np.float32) / 255.0
              for image in images]
    x = torch.from_numpy(np.stack(arrays))
    x = x.unsqueeze(1) if channels == 1 else x.permute(0, 3, 1, 2).contiguous()
    return Dataset(folder.name, x, torch.tensor([c for _, c in files]), classes)
