"""Dataset specs, the one-line names of datasets used by the CLI, the training panel and graph recipes:

    xor | circles | moons | spirals | temperature   generated (options :n=1000:noise=0.1:seed=0)
    mnist-5k | digits                               shipped inside PyPI packages
    mnist[:DIR] | fashion-mnist[:DIR]               the four IDX files (.gz or raw) in DIR; without DIR, downloaded
    cifar10[:DIR]                                   CIFAR-10's binary version in DIR; without DIR, downloaded
    csv:FILE:label=COLUMN                           numeric columns + a label column
    images:DIR                                      one sub-folder per class

A spec is parsed once into a DataSpec (kind, path, options); `str(spec)` writes it back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import bundled, readers, synthetic
from .dataset import DataError, Dataset


@dataclass(frozen=True)
class DatasetKind:
    """One kind of dataset: what its spec needs (nothing, a folder or a file) and the options it takes."""

    name: str
    title: str  # what the training panel shows
    needs: str | None = None  # None (built in), "folder" or "file"
    options: dict[str, type] = field(default_factory=dict)
    required: tuple[str, ...] = ()  # options that must be given
    help: str = ""
    downloads: bool = False  # without a folder, fetched from its public mirrors into the user's data folder


_TASKS = {"copy": "tokens -> the same tokens", "reverse": "tokens -> the tokens reversed",
          "sort": "tokens -> the tokens sorted", "majority": "tokens -> the most frequent token (a class)"}


def _generated_help(name: str, make) -> str:
    if name in _TASKS:
        return f"generated sequences of token ids: {_TASKS[name]} (fields tokens, target, target_in)"
    return (make.__doc__ or name).strip().splitlines()[0]


KINDS: dict[str, DatasetKind] = {kind.name: kind for kind in [
    DatasetKind("mnist-5k", "mnist-5k", help="5,000 real handwritten digits, 1x28x28, no download needed"),
    DatasetKind("digits", "digits", options={"size": int},
                help="scikit-learn's 1,797 handwritten digits, 1x8x8 (:size=28 enlarges them)"),
    *(DatasetKind(name, name, options={k: kind for k, (kind, *_bounds) in options.items()},
                  help=_generated_help(name, make))
      for name, (make, options) in synthetic.GENERATORS.items()),
    DatasetKind("pairs", "Pairs of…", "dataset", options={"seed": int},
                help="pairs of samples of another classification dataset (pairs:mnist-5k): fields x, x2 and "
                     "same (1 when the two share a class), for Siamese networks"),
    DatasetKind("mnist", "MNIST (70,000 digits)", "folder", downloads=True,
                help="the full MNIST: 60,000 + 10,000 digits, 1x28x28; downloaded on first use (11 MB), or the four "
                     "IDX files (.gz or raw) in a folder"),
    DatasetKind("fashion-mnist", "Fashion-MNIST (70,000 clothes)", "folder", downloads=True,
                help="Zalando's 60,000 + 10,000 clothing images, 1x28x28; downloaded on first use (30 MB), or the "
                     "four IDX files in a folder"),
    DatasetKind("cifar10", "CIFAR-10 (60,000 photos)", "folder", downloads=True,
                help="60,000 32x32 colour photos of 10 classes; downloaded on first use (162 MB), or CIFAR-10's "
                     "binary version (data_batch_*.bin) in a folder"),
    DatasetKind("csv", "CSV file…", "file", options={"label": str}, required=("label",),
                help="numeric feature columns and a label column"),
    DatasetKind("images", "Image folder (one sub-folder per class)…", "folder",
                help="one sub-folder of images per class"),
]}
SPEC_HELP = ("xor, circles, moons, spirals, temperature, ring (options :n=N:noise=X:seed=S), shapes (segmentation), "
             "copy, reverse, sort, majority (token sequences: :n=N:length=L:vocab=V), mnist-5k, digits, "
             "mnist, fashion-mnist, cifar10 (downloaded on first use, or :DIR), csv:FILE:label=COLUMN, images:DIR, "
             "pairs:SPEC")


@dataclass(frozen=True)
class DataSpec:
    """A parsed dataset spec: its kind, the folder or file it reads (if any), and its options."""

    kind: str
    path: str | None = None
    options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def parse(cls, text: str | DataSpec) -> DataSpec:
        """`csv:data/t.csv:label=y` -> DataSpec("csv", "data/t.csv", (("label", "y"),)). DataError says
        what is wrong with a spec."""
        if isinstance(text, DataSpec):
            return text
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"no dataset given; use one of: {SPEC_HELP}")
        name, _, rest = text.strip().partition(":")
        kind = KINDS.get(name)
        if kind is None:
            raise DataError(f"unknown dataset {text!r}; use one of: {SPEC_HELP}")
        parts = rest.split(":") if rest else []
        options: dict[str, object] = {}
        # options are the trailing key=value parts the kind knows; the path (which may hold ':') is the rest
        while parts and kind.needs is not None and parts[-1].partition("=")[0] in kind.options and "=" in parts[-1]:
            key, _, value = parts.pop().partition("=")
            options[key] = _convert(text, kind, key, value)
        path = ":".join(parts) if kind.needs is not None else None
        if kind.needs is None:
            for part in parts:
                key, sep, value = part.partition("=")
                if not sep or key not in kind.options:
                    allowed = f" (allowed: {', '.join(kind.options)})" if kind.options else ""
                    raise DataError(f"{text!r}: unknown option {part!r}{allowed}")
                options[key] = _convert(text, kind, key, value)
        elif not path and not kind.downloads:
            raise DataError(f"{text!r}: name the {kind.needs}, e.g. {_example(kind)}")
        path = path or None
        missing = [key for key in kind.required if key not in options]
        if missing:
            raise DataError(f"{text!r}: write {_example(kind)}")
        return cls(kind.name, path, tuple(sorted(options.items())))

    def option(self, key: str, default: object = None) -> object:
        return dict(self.options).get(key, default)

    def __str__(self) -> str:
        parts = [self.kind] + ([self.path] if self.path is not None else [])
        parts += [f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in self.options]
        return ":".join(parts)


def _convert(text: str, kind: DatasetKind, key: str, value: str) -> object:
    try:
        return kind.options[key](value)
    except ValueError:
        raise DataError(f"{text!r}: {key} must be a {kind.options[key].__name__}, got {value!r}") from None


def _example(kind: DatasetKind) -> str:
    what = {"file": "FILE", "folder": "DIR", "dataset": "SPEC"}[kind.needs]
    return ":".join([kind.name, what] + [f"{key}={key.upper()}" for key in kind.required]) \
        .replace("label=LABEL", "label=COLUMN")


@dataclass
class Source:
    """A loaded dataset, with its own test set where the files define one (MNIST, CIFAR-10)."""

    data: Dataset
    test: Dataset | None = None
    notes: list[str] = field(default_factory=list)  # how it was loaded (in memory, or streamed from disk, and why)


STREAMABLE = ("mnist", "fashion-mnist", "cifar10", "csv", "images")  # kinds whose samples may stay on disk


def load_dataset(spec: str | DataSpec, input_shape: tuple[int, ...] | None = None, progress=None,
                 memory_budget: float | None = None) -> Source:
    """Load the dataset a spec names. `input_shape` (the graph's Input, without batch) lets image folders
    be read straight at the size the network wants. A classic dataset named without a folder (mnist) is fetched
    on first use; `progress` hears how the download goes (download.DownloadProgress). Files whose samples would take
    more than `memory_budget` bytes as float32 (default: stream.memory_budget()) are streamed from disk."""
    spec = DataSpec.parse(spec)
    kind, options = spec.kind, dict(spec.options)
    if spec.path is None and KINDS[kind].downloads:
        from .download import REMOTE, ensure

        spec = DataSpec(kind, str(ensure(REMOTE[kind], progress=progress)), spec.options)
    if kind in synthetic.GENERATORS:
        make, allowed = synthetic.GENERATORS[kind]
        for key, value in options.items():
            _, low, high = allowed[key]
            if not low <= value <= high:
                raise DataError(f"{str(spec)!r}: {key} must be {low}..{high}, got {value}")
        return Source(make(**options))
    if kind == "pairs":
        return pairs(load_dataset(spec.path, input_shape, memory_budget=math.inf), seed=int(options.get("seed", 0)))
    if kind == "mnist-5k":
        return Source(bundled.mnist_5k())
    if kind == "digits":
        size = int(options.get("size", 8))
        if not 4 <= size <= 256:
            raise DataError(f"{str(spec)!r}: size must be 4..256, got {size}")
        return Source(bundled.digits(size))
    path = Path(spec.path)
    streamed, note = _stream_or_not(kind, path, options, input_shape, memory_budget)
    if streamed is not None:
        return streamed
    if kind in ("mnist", "fashion-mnist"):
        source = Source(*readers.read_mnist_folder(path, fashion=kind == "fashion-mnist"))
    elif kind == "cifar10":
        source = Source(*readers.read_cifar10_folder(path))
    elif kind == "csv":
        source = Source(readers.read_csv(path, str(options["label"])))
    else:  # images
        size = channels = None
        if input_shape is not None and len(input_shape) == 3 and input_shape[0] in (1, 3):
            channels, size = input_shape[0], (input_shape[1], input_shape[2])
        source = Source(readers.read_image_folder(path, size, channels))
    source.notes += [note] if note else []
    return source


def _stream_or_not(kind: str, path: Path, options: dict, input_shape, budget: float | None):
    """(the dataset with its samples left on disk, None) when they would take more than the budget in memory, else
    (None, a note saying they fit). A note says which was chosen, and why."""
    from ..base.system import format_bytes
    from . import ondisk, stream

    if kind not in STREAMABLE or not path.exists():
        return None, None  # the reader says what is missing
    size = ondisk.in_memory_bytes(kind, path, input_shape)
    budget = stream.memory_budget() if budget is None else budget
    if size <= budget:
        return None, (f"held in memory: its samples take {format_bytes(size)} as float32, within the memory budget "
                      f"of {format_bytes(budget)}")
    count = stream.workers()
    note = (f"streamed from disk by {count} worker process{'es' if count > 1 else ''}: its samples take "
            f"{format_bytes(size)} as float32, more than the memory budget of {format_bytes(budget)}")
    if kind in ("mnist", "fashion-mnist"):
        return Source(*ondisk.open_mnist_folder(path, fashion=kind == "fashion-mnist"), notes=[note]), note
    if kind == "cifar10":
        return Source(*ondisk.open_cifar10_folder(path), notes=[note]), note
    if kind == "csv":
        return Source(ondisk.open_csv(path, str(options["label"])), notes=[note]), note
    return Source(ondisk.open_image_folder(path, input_shape), notes=[note]), note


def pairs(source: Source, seed: int = 0, test_fraction: float = 0.2) -> Source:
    """Pairs of samples of a classification dataset, half of the same class and half of different ones:
    x, x2, same (1 or 0), y and y2 (the two labels). The samples are split first (seeded) and paired within
    each part, so no test pair shares a sample with a training pair."""
    import torch

    data = source.data
    if not data.is_classification or data.num_classes < 2:
        raise DataError(f"pairs need a classification dataset of two or more classes; {data.name} is not one")
    generator = torch.Generator().manual_seed(seed)
    if source.test is None:
        order = torch.randperm(len(data), generator=generator)
        cut = round(len(data) * test_fraction)
        train, test = data.subset(order[cut:]), data.subset(order[:cut])
    else:
        train, test = data, source.test
    return Source(_pair_up(train, generator, f"pairs of {data.name}"),
                  _pair_up(test, generator, f"pairs of {data.name} test"))


def _pair_up(data: Dataset, generator, name: str) -> Dataset:
    import torch

    n = len(data)
    same = torch.rand(n, generator=generator) < 0.5
    by_class = [torch.nonzero(data.y == c).flatten() for c in range(data.num_classes)]
    partner = torch.empty(n, dtype=torch.int64)
    for i in range(n):
        label = int(data.y[i])
        if same[i] and len(by_class[label]) > 1:
            pool = by_class[label]
        else:
            others = [c for c in range(data.num_classes) if c != label and len(by_class[c])]
            pool = by_class[others[int(torch.randint(len(others), (1,), generator=generator))]]
            same[i] = False
        partner[i] = pool[int(torch.randint(len(pool), (1,), generator=generator))]
    return Dataset(name, data.x, data.y, list(data.classes),
                   extra={"x2": data.x[partner], "y2": data.y[partner], "same": same.long()})
