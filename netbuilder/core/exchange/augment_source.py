"""netbuilder's augmentation as source for the code it writes: the standalone transforms file (torch only), whole
beside a training script (augment.py), or appended to a generated model.py with the graph's steps, so that what
they train on is augmented exactly as netbuilder augments it."""
from __future__ import annotations

from pathlib import Path

from ..data.augment import augment_text, canonical, transforms
from .pysource import comment, literal


def transforms_source() -> str:
    """core/data/augment/transforms.py, as it is."""
    return Path(transforms.__file__).read_text(encoding="utf-8")


def augmentation_section(spec) -> str:
    """The transforms (less their module docstring and future import) and AUGMENT, the graph's steps: the end of a
    generated model.py."""
    source = transforms_source()
    body = source.split('"""', 2)[2].replace("from __future__ import annotations\n", "")
    steps = canonical(spec)
    return "\n".join([
        "",
        "",
        comment(f"----- training augmentation, as netbuilder applies it (the graph's recipe: {augment_text(spec)}): "
                "one random draw per sample for an image and the masks aligned with it. On each training batch of "
                "raw images: x = AUGMENT(x), or x, mask = AUGMENT(x, mask); pass generator= for seeded draws and "
                "mean=, std= (the normalization) for noise in normalized units."),
        body.strip("\n"),
        "",
        "",
        f"AUGMENT = Augmentation({literal(steps)})",
        "",
    ])
