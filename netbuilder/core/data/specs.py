"""Dataset specs, the one-line names of datasets used by the CLI and the training panel:

    xor | circles | moons | spirals | temperature   generated (options :n=1000:noise=0.1:seed=0)
    mnist-5k | digits                               shipped inside PyPI packages
    mnist:DIR | fashion-mnist:DIR                   the four IDX files (.gz or raw) in DIR
    cifar10:DIR                                     CIFAR-10's binary version in DIR
    csv:FILE:label=COLUMN                           numeric columns + a label column
    images:DIR                                      one sub-folder per class
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import bundled, readers, synthetic
from .dataset import DataError, Dataset

SPEC_HELP = ("xor, circles, moons, spirals, temperature (options :n=N:noise=X:seed=S), mnist-5k, digits, "
             "mnist:DIR, fashion-mnist:DIR, cifar10:DIR, csv:FILE:label=COLUMN, images:DIR")
BUILTIN = ["mnist-5k", "digits", *synthetic.GENERATORS]


@dataclass
class Source:
    """A loaded dataset, with its own test set where the files define one (MNIST, CIFAR-10)."""

    data: Dataset
    test: Dataset | None = None


def _options(parts: list[str], allowed: dict[str, type], spec: str) -> dict:
    options = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in allowed:
            raise DataError(f"{spec!r}: unknown option {part!r} (allowed: {', '.join(allowed)})")
        try:
            options[key] = allowed[key](value)
        except ValueError:
            raise DataError(f"{spec!r}: {key} must be a {allowed[key].__name__}, got {value!r}") from None
    return options


def load_dataset(spec: str, input_shape: tuple[int, ...] | None = None) -> Source:
    """Load the dataset a spec names. `input_shape` (the graph's Input, without batch) lets image folders
    be read straight at the size the network wants."""
    kind, _, rest = spec.partition(":")
    if kind in synthetic.GENERATORS:
        options = _options([p for p in rest.split(":") if p], {"n": int, "noise": float, "seed": int}, spec)
        if not 2 <= options.get("n", 1000) <= 1_000_000 or not 0 <= options.get("noise", 0) <= 10:
            raise DataError(f"{spec!r}: n must be 2..1000000 and noise 0..10")
        return Source(synthetic.GENERATORS[kind](**options))
    if kind == "mnist-5k" and not rest:
        return Source(bundled.mnist_5k())
    if kind == "digits" and not rest:
        return Source(bundled.digits())
    if kind in ("mnist", "fashion-mnist") and rest:
        train, test = readers.read_mnist_folder(Path(rest), fashion=kind == "fashion-mnist")
        return Source(train, test)
    if kind == "cifar10" and rest:
        train, test = readers.read_cifar10_folder(Path(rest))
        return Source(train, test)
    if kind == "csv" and rest:
        path, sep, option = rest.rpartition(":")
        if not sep or not option.startswith("label="):
            raise DataError(f"{spec!r}: write csv:FILE:label=COLUMN")
        return Source(readers.read_csv(Path(path), option[len("label="):]))
    if kind == "images" and rest:
        size = channels = None
        if input_shape is not None and len(input_shape) == 3 and input_shape[0] in (1, 3):
            channels, size = input_shape[0], (input_shape[1], input_shape[2])
        return Source(readers.read_image_folder(Path(rest), size, channels))
    raise DataError(f"unknown dataset {spec!r}; use one of: {SPEC_HELP}")
