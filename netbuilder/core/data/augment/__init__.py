"""Augmentation of training batches, where the fields aligned with an image move with it.

- transforms.py: the steps and their random draw, batched in torch (a standalone file, copied into exports);
- fields.py: which of a run's fields is an image, which moves with which (masks, dense targets), which is never
  touched (labels, token ids), and refusals that name the field a step cannot apply to;
- grid.py: a picture of augmented samples, masks drawn over their images.
"""
from __future__ import annotations

from ..dataset import DataError
from .transforms import KINDS


class AugmentError(DataError):
    """An augmentation that cannot be read or cannot apply to a field; the message names it."""


def parse_augment(spec) -> list:
    """The steps of `flip,rotate=15` (or a list of names or {"name": ...} objects); AugmentError says what is wrong."""
    from .transforms import parse

    try:
        return parse(spec)
    except ValueError as e:
        raise AugmentError(str(e)) from None


def canonical(spec) -> list[str]:
    """The augmentation as the run's settings record it: ["flip", "rotate=20", "erase:p=0.8"]."""
    return [step.text() for step in parse_augment(spec)]


def augment_text(spec) -> str:
    """`flip,rotate=20`: the command-line form."""
    return ",".join(canonical(spec))


AUGMENTATIONS = tuple(KINDS)  # in the order the editor lists them

__all__ = ["AUGMENTATIONS", "KINDS", "AugmentError", "augment_text", "canonical", "parse_augment"]
