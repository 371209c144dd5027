"""Which field of a run an augmentation touches, and how.

A float field the network reads with samples of channels x height x width is an image: each such field gets its own
random draw (a pair's second image x2 is another sample, drawn apart). A field only the loss reads moves with the
image of its height and width: integer classes per pixel (a segmentation mask) by nearest neighbour, float values
(a dense target) as the image does. An image that is also a loss's target (an autoencoder's) is moved and
recoloured once; noise and erasing reach only the network's copy. Labels, regression values and integer token ids
are never touched. A step that cannot apply to a field the network reads is refused, naming the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import AugmentError


@dataclass(frozen=True)
class FieldInfo:
    """A field's sample shape (without the batch) and whether its values are floats."""

    shape: tuple[int, ...]
    floating: bool


@dataclass
class Group:
    """An image and what moves with it."""

    image: str
    channels: int
    size: tuple[int, int]
    masks: list[str] = field(default_factory=list)  # classes per pixel: moved by nearest neighbour
    dense: list[str] = field(default_factory=list)  # float values per pixel: moved (and recoloured) as the image
    clean_target: bool = False  # the image is also a loss's target: the target gets it uncorrupted


@dataclass
class FieldPlan:
    groups: list[Group]
    signals: list[str]  # float samples that are not images (vectors, sequences): noise only
    untouched: list[str]

    def describe(self) -> str:
        """In words, for the log: `x (with mask)`."""
        parts = []
        for g in self.groups:
            moving = [*g.masks, *g.dense]
            parts.append(g.image + (f" (with {', '.join(moving)})" if moving else ""))
        parts += self.signals
        return ", ".join(parts)


def _what(info: FieldInfo) -> str:
    shape = " x ".join(str(d) for d in info.shape) or "one value"
    if not info.floating:
        return f"integer ids or classes ({shape} per sample), which augmentation never changes"
    if len(info.shape) <= 1:
        return f"a 1-D signal ({shape} values per sample), not an image"
    return f"samples of {shape} values, not images (channels x height x width)"


def plan_fields(steps: list, fields: dict[str, FieldInfo], network: set[str], targets: set[str]) -> FieldPlan:
    """How each field takes the steps; AugmentError names the first field a step cannot apply to."""
    reads = [name for name in fields if name in network]
    images = [name for name in reads if fields[name].floating and len(fields[name].shape) == 3]
    images.sort(key=lambda name: name != "x")  # a field that moves with an image goes with x first
    signals = [name for name in reads if fields[name].floating and name not in images]
    groups = [Group(name, fields[name].shape[0], fields[name].shape[1:], clean_target=name in targets)
              for name in images]
    untouched = []
    for name, info in fields.items():
        if name in images or name in signals:
            continue
        size = info.shape[-2:] if len(info.shape) in (2, 3) else None
        home = next((g for g in groups if size is not None and g.size == size), None)
        if home is not None and not info.floating and (len(info.shape) == 2 or info.shape[0] == 1):
            home.masks.append(name)  # classes per pixel, wherever they go
        elif home is not None and info.floating and len(info.shape) == 3 and name in targets:
            home.dense.append(name)
        else:
            untouched.append(name)
    for step in steps:
        image_only = step.name != "noise"
        if image_only:
            for name in signals:
                raise AugmentError(f"{step.name} cannot apply to field '{name}': {_what(fields[name])}; {step.name} "
                                   "needs images (channels x height x width)")
        if step.name == "colour":
            for g in groups:
                if g.channels != 3:
                    raise AugmentError(f"colour cannot apply to field '{g.image}': its images have {g.channels} "
                                       f"channel{'s' if g.channels != 1 else ''}; colour (saturation and hue) needs 3 "
                                       "(RGB); use brightness or contrast")
        if not groups and not (signals and not image_only):
            name = reads[0] if reads else next(iter(fields), None)
            if name is None:
                raise AugmentError(f"{step.name}: the network reads no field to augment")
            raise AugmentError(f"{step.name} cannot apply to field '{name}': {_what(fields[name])}")
    return FieldPlan(groups, signals, untouched)
