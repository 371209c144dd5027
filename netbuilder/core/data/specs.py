"""Dataset specs, the one-line names of datasets used by the CLI, the training panel and graph recipes:

    xor | circles | moons | spirals | temperature   generated (options :n=1000:noise=0.1:seed=0)
    mnist-5k | digits                               shipped inside PyPI packages
    mnist:DIR | fashion-mnist:DIR                   the four IDX files (.gz or raw) in DIR
    cifar10:DIR                                     CIFAR-10's binary version in DIR
    csv:FILE:label=COLUMN                           numeric columns + a label column
    images:DIR                                      one sub-folder per class

A spec is parsed once into a DataSpec (kind, path, options); `str(spec)` writes it back.
"""
from __future__ import annotations

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


_GENERATED = {"n": int, "noise": float, "seed": int}
KINDS: dict[str, DatasetKind] = {kind.name: kind for kind in [
    DatasetKind("mnist-5k", "mnist-5k", help="5,000 real handwritten digits, 1x28x28, no download needed"),
    DatasetKind("digits", "digits", help="scikit-learn's 1,797 handwritten digits, 1x8x8"),
    *(DatasetKind(name, name, options=_GENERATED, help=(generate.__doc__ or "").strip().splitlines()[0])
      for name, generate in synthetic.GENERATORS.items()),
    DatasetKind("mnist", "MNIST folder…", "folder", help="the four MNIST IDX files (.gz or raw) in a folder"),
    DatasetKind("fashion-mnist", "Fashion-MNIST folder…", "folder", help="the four Fashion-MNIST IDX files"),
    DatasetKind("cifar10", "CIFAR-10 folder…", "folder", help="CIFAR-10's binary version (data_batch_*.bin)"),
    DatasetKind("csv", "CSV file…", "file", options={"label": str}, required=("label",),
                help="numeric feature columns and a label column"),
    DatasetKind("images", "Image folder (one sub-folder per class)…", "folder",
                help="one sub-folder of images per class"),
]}
SPEC_HELP = ("xor, circles, moons, spirals, temperature (options :n=N:noise=X:seed=S), mnist-5k, digits, "
             "mnist:DIR, fashion-mnist:DIR, cifar10:DIR, csv:FILE:label=COLUMN, images:DIR")


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
        elif not path:
            raise DataError(f"{text!r}: name the {kind.needs}, e.g. {_example(kind)}")
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
    what = "FILE" if kind.needs == "file" else "DIR"
    return ":".join([kind.name, what] + [f"{key}={key.upper()}" for key in kind.required]) \
        .replace("label=LABEL", "label=COLUMN")


@dataclass
class Source:
    """A loaded dataset, with its own test set where the files define one (MNIST, CIFAR-10)."""

    data: Dataset
    test: Dataset | None = None


def load_dataset(spec: str | DataSpec, input_shape: tuple[int, ...] | None = None) -> Source:
    """Load the dataset a spec names. `input_shape` (the graph's Input, without batch) lets image folders
    be read straight at the size the network wants."""
    spec = DataSpec.parse(spec)
    kind, options = spec.kind, dict(spec.options)
    if kind in synthetic.GENERATORS:
        if not 2 <= options.get("n", 1000) <= 1_000_000 or not 0 <= options.get("noise", 0) <= 10:
            raise DataError(f"{str(spec)!r}: n must be 2..1000000 and noise 0..10")
        return Source(synthetic.GENERATORS[kind](**options))
    if kind == "mnist-5k":
        return Source(bundled.mnist_5k())
    if kind == "digits":
        return Source(bundled.digits())
    path = Path(spec.path)
    if kind in ("mnist", "fashion-mnist"):
        return Source(*readers.read_mnist_folder(path, fashion=kind == "fashion-mnist"))
    if kind == "cifar10":
        return Source(*readers.read_cifar10_folder(path))
    if kind == "csv":
        return Source(readers.read_csv(path, str(options["label"])))
    size = channels = None  # images
    if input_shape is not None and len(input_shape) == 3 and input_shape[0] in (1, 3):
        channels, size = input_shape[0], (input_shape[1], input_shape[2])
    return Source(readers.read_image_folder(path, size, channels))
