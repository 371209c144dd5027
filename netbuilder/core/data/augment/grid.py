"""A picture of augmented samples: a grid of images as training sees them, each mask drawn over its image in
one colour per class (the background left clear), with a legend of the classes."""
from __future__ import annotations

import math

import torch

# class 1, 2, ... (class 0, the background, is not drawn)
CLASS_COLOURS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
                 (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128)]
MASK_ALPHA = 0.45


def class_colour(index: int) -> tuple[int, int, int]:
    return CLASS_COLOURS[(index - 1) % len(CLASS_COLOURS)]


def overlay(images: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """N x 3 x H x W uint8: raw images (0..1, grey or RGB) with each mask class over them in its colour."""
    x = images.detach().float().cpu().clamp(0, 1)
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]
    x = x * 255
    if mask is not None:
        mask = mask.detach().cpu().long()
        for value in mask.unique().tolist():
            if value <= 0:
                continue
            colour = torch.tensor(class_colour(value), dtype=torch.float32)[None, :, None, None]
            where = (mask == value)[:, None]
            x = torch.where(where, x * (1 - MASK_ALPHA) + colour * MASK_ALPHA, x)
    return x.round().to(torch.uint8)


def augment_grid(images: torch.Tensor, mask: torch.Tensor | None = None, classes: list[str] | None = None,
                 columns: int | None = None, cell: int = 112, title: str | None = None):
    """The samples (N x C x H x W, raw) as a Pillow image, each scaled up by whole pixels to about `cell`, masks
    drawn over them; a legend names the mask's classes, a title line says what was applied."""
    from PIL import Image, ImageDraw

    pixels = overlay(images, mask)
    n, _, h, w = pixels.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    zoom = max(1, cell // max(h, w))
    pad, top = 4, (18 if title else 0)
    present = sorted(v for v in mask.unique().tolist() if v > 0) if mask is not None else []
    legend = 18 if present else 0
    width = columns * (w * zoom + pad) + pad
    height = top + rows * (h * zoom + pad) + pad + legend
    canvas = Image.new("RGB", (width, height), "white")
    for i in range(n):
        r, c = divmod(i, columns)
        tile = Image.fromarray(pixels[i].permute(1, 2, 0).contiguous().numpy(), "RGB")
        tile = tile.resize((w * zoom, h * zoom), Image.Resampling.NEAREST)
        canvas.paste(tile, (pad + c * (w * zoom + pad), top + pad + r * (h * zoom + pad)))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, 3), title[:max(10, width // 6)], fill=(40, 40, 40))
    x = pad
    for value in present:
        name = classes[value] if classes and value < len(classes) else f"class {value}"
        draw.rectangle((x, height - 14, x + 10, height - 4), fill=class_colour(value))
        draw.text((x + 14, height - 16), name, fill=(40, 40, 40))
        x += 24 + 7 * len(name)
    return canvas
