"""Pictures of what a probe sees: feature maps as tiles, heat maps, bars, filters, saliency; and a PNG of them.

The tiles are plain RGB arrays (uint8, H x W x 3) with a caption each: the editor paints them itself and the
headless `netbuilder inspect` lays them out in one PNG here (Pillow; no Qt, no matplotlib).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..layers.spec import format_shape
from .pictures import save_png

MAX_MAPS = 512  # channels shown as tiles; more are left out, and the picture says so
MAX_FILTER_ROWS, MAX_FILTER_COLUMNS = 64, 32  # a convolution with many inputs: output x input kernels
MAX_BARS = 512

# colour maps: anchors at even steps from 0 to 1 (viridis; hot for saliency; blue-white-red for signs)
_VIRIDIS = [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142), (31, 158, 137),
            (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37)]
_HOT = [(0, 0, 0), (120, 0, 0), (230, 30, 0), (255, 140, 0), (255, 230, 80), (255, 255, 255)]
_DIVERGING = [(33, 102, 172), (103, 169, 207), (209, 229, 240), (247, 247, 247), (253, 219, 199),
              (239, 138, 98), (178, 24, 43)]


def _table(anchors: list[tuple[int, int, int]]) -> torch.Tensor:
    """256 colours interpolated between the anchors."""
    a = torch.tensor(anchors, dtype=torch.float32)
    position = torch.linspace(0, len(anchors) - 1, 256)
    low = position.floor().long().clamp(max=len(anchors) - 2)
    t = (position - low)[:, None]
    return (a[low] * (1 - t) + a[low + 1] * t).round().to(torch.uint8)


MAPS = {"viridis": _table(_VIRIDIS), "hot": _table(_HOT), "diverging": _table(_DIVERGING),
        "grey": torch.arange(256, dtype=torch.uint8)[:, None].expand(256, 3).contiguous()}


def colour(values: torch.Tensor, name: str = "viridis") -> torch.Tensor:
    """Values in 0..1 (any shape) as colours: shape + (3,), uint8."""
    index = (values.clamp(0, 1) * 255).round().long()
    return MAPS[name][index]


def colour_of(value: float, name: str = "viridis") -> tuple[int, int, int]:
    """One value in 0..1 as an (r, g, b) colour."""
    return tuple(int(c) for c in colour(torch.tensor([float(value)]), name)[0])


def stretch(x: torch.Tensor, dims: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x stretched to 0..1 over its last `dims` dimensions, each leading index to its own range; and the
    ranges (low, high) per leading index."""
    flat = x.reshape(*x.shape[:x.dim() - dims], -1)
    low, high = flat.min(-1).values, flat.max(-1).values
    view = (*low.shape, *([1] * dims))
    scaled = (x - low.reshape(view)) / (high - low).clamp_min(1e-12).reshape(view)
    return scaled, low, high


def _number(v: float) -> str:
    return f"{v:.2g}" if abs(v) < 1e4 else f"{v:.1e}"


@dataclass
class Tiles:
    """Small pictures in a grid, each with a caption (a feature map per channel, a filter, ...)."""

    title: str
    images: list[torch.Tensor]  # each H x W x 3, uint8
    captions: list[str]
    columns: int | None = None  # a grid of rows x columns that means something (output x input filters)
    note: str = ""  # what the picture leaves out, how to read it

    kind = "tiles"


@dataclass
class Bars:
    """A vector as bars (its values, a label each), or a classifier's probabilities."""

    title: str
    values: list[float]
    labels: list[str]
    highlight: int | None = None  # the bar to draw in another colour (the predicted class)
    note: str = ""

    kind = "bars"


@dataclass
class Picture:
    """Sections, one under the other, under a heading: what `netbuilder inspect` writes."""

    heading: str
    sections: list = field(default_factory=list)


# ----- what a block's output looks like


def view_of(value: torch.Tensor, title: str) -> Tiles | Bars:
    """An image-shaped output (C x H x W): a tile per channel, each stretched to its own range (written under
    it); a sequence or other matrix: one heat map; a vector: bars."""
    v = value.detach().float().cpu()
    shape = format_shape(tuple(v.shape))
    if v.dim() >= 3:
        maps = v.reshape(v.shape[0], v.shape[-2], v.shape[-1]) if v.dim() == 3 else v.reshape(-1, *v.shape[-2:])
        shown = maps[:MAX_MAPS]
        scaled, low, high = stretch(shown, 2)
        images = list(colour(scaled, "viridis"))
        captions = [f"{c}: {_number(lo)}..{_number(hi)}" for c, (lo, hi) in enumerate(zip(low.tolist(), high.tolist()))]
        note = f"the first {MAX_MAPS} of {len(maps)} channels" if len(maps) > MAX_MAPS else ""
        return Tiles(f"{title}: {shape}, a map per channel (each stretched to its own range)", images, captions,
                     note=note)
    if v.dim() == 2:
        scaled, low, high = stretch(v[None], 2)
        return Tiles(f"{title}: {shape} as a heat map (rows: the first dimension, e.g. time steps)",
                     [colour(scaled[0], "viridis")], [f"{_number(float(low))}..{_number(float(high))}"])
    values = v.reshape(-1)
    note = f"the first {MAX_BARS} of {len(values)} values" if len(values) > MAX_BARS else ""
    values = values[:MAX_BARS]
    return Bars(f"{title}: {shape} values, from {_number(float(v.min()))} to {_number(float(v.max()))}", values.tolist(),
                [str(i) for i in range(len(values))], note=note)


def prediction_bars(prediction, true_label: str | None = None, top: int = 10) -> Bars:
    """A classifier's probabilities for its most likely classes (all of them when there are few)."""
    order = prediction.order[:top] if len(prediction.probabilities) > top else list(range(len(prediction.probabilities)))
    truth = f"; true class {true_label}" if true_label is not None else ""
    return Bars(f"{prediction.output}: {prediction.describe()}{truth}", [prediction.probabilities[i] for i in order],
                [prediction.classes[i] for i in order], highlight=order.index(prediction.best))


def filter_view(weight: torch.Tensor, title: str) -> Tiles:
    """A convolution's filters (output x input x kernel): in colour when they read 3 channels (RGB), grey when
    they read one; otherwise a grid of kernels, a row per output channel and a column per input channel,
    blue for negative weights and red for positive ones."""
    w = weight.detach().float().cpu()
    if w.dim() == 3:  # 1-D kernels: each filter's input channels x length as one little image
        w = w[:, None]
    out, inputs = w.shape[:2]
    kernel = "x".join(map(str, w.shape[2:]))
    if weight.dim() == 4 and inputs in (1, 3):
        scaled = stretch(w, 3)[0]
        images = [(s.permute(1, 2, 0).expand(*s.shape[1:], 3) * 255).round().to(torch.uint8) for s in scaled]
        what = "colour: the filters read RGB" if inputs == 3 else "grey"
        return Tiles(f"{title}: {out} filters of {inputs}x{kernel} ({what}; each stretched to its own range)",
                     images, [f"{o}" for o in range(out)])
    shown = w[:MAX_FILTER_ROWS, :MAX_FILTER_COLUMNS]
    bound = shown.flatten(1).abs().max(1).values.clamp_min(1e-12)[:, None, None, None]
    scaled = shown / bound * 0.5 + 0.5
    images = list(colour(scaled, "diverging").reshape(-1, *scaled.shape[2:], 3))
    note = ""
    if out > MAX_FILTER_ROWS or inputs > MAX_FILTER_COLUMNS:
        note = f"the first {min(out, MAX_FILTER_ROWS)} of {out} outputs and {min(inputs, MAX_FILTER_COLUMNS)} of {inputs} inputs"
    return Tiles(f"{title}: {out} filters of {inputs}x{kernel}: a row per output channel, a column per input "
                 "(blue negative, red positive)", images, [""] * len(images), columns=shown.shape[1] if shown.shape[1] > 1 else None, note=note)


def sample_image(sample: torch.Tensor) -> torch.Tensor | None:
    """A sample as an H x W x 3 picture when it is an image (1 or 3 channels, or a square vector), else None."""
    x = sample.detach().float().cpu()
    if x.dim() == 1 and math.isqrt(len(x)) ** 2 == len(x) and len(x) > 1:
        x = x.reshape(1, math.isqrt(len(x)), -1)
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        return None
    scaled, _, _ = stretch(x[None], 3)
    return (scaled[0].permute(1, 2, 0).expand(*x.shape[1:], 3) * 255).round().to(torch.uint8)


def saliency_view(saliency, title: str, label: str | None = None) -> Tiles:
    """The input, how much each of its pixels moves the class score, and the two laid over each other."""
    heat, _, high = stretch(saliency.map.float()[None], saliency.map.dim())
    heat = heat[0]
    images, captions = [], []
    picture = sample_image(saliency.sample)
    if heat.dim() == 1 and picture is not None:
        heat = heat.reshape(picture.shape[:2])
    hot = colour(heat, "hot") if heat.dim() == 2 else None
    if picture is not None:
        images.append(picture)
        captions.append("input")
    if hot is not None:
        images.append(hot)
        captions.append(f"|gradient| up to {_number(float(high))}")
        if picture is not None and picture.shape[:2] == hot.shape[:2]:
            grey = picture.float().mean(-1, keepdim=True) * 0.6
            alpha = heat[..., None].sqrt()
            images.append((grey * (1 - alpha) + hot.float() * alpha).round().clamp(0, 255).to(torch.uint8))
            captions.append("over the input")
    what = f"class {label}" if label is not None else f"class {saliency.target}"
    if not images:
        values = saliency.map.reshape(-1)[:MAX_BARS]
        return Bars(f"{title}: saliency for {what}", values.tolist(), [str(i) for i in range(len(values))])
    return Tiles(f"{title}: saliency: which input values most change the score of {what}", images, captions)


# ----- one PNG of sections (headless)

TILE = 64  # the size a tile is scaled to (about), in pixels
CAPTION_HEIGHT = 13
PAD = 6


def _scale(image: torch.Tensor, size: int) -> torch.Tensor:
    """A tile scaled by a whole factor (nearest) up towards `size`, or down to it."""
    h, w = image.shape[:2]
    factor = max(1, size // max(h, w))
    image = image.repeat_interleave(factor, 0).repeat_interleave(factor, 1)
    if max(h, w) > 2 * size:
        step = math.ceil(max(h, w) / (2 * size))
        image = image[::step, ::step]
    return image


def render(picture: Picture, width: int = 1100, tile: int = TILE):
    """The picture as one Pillow image: the heading, then each section's title, tiles or bars, and note."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(11)
    bold = ImageFont.load_default(13)
    blocks = []  # (height, draw(image, top))
    blocks.append((22, lambda draw, image, top: draw.text((PAD, top + 4), picture.heading, fill=(20, 20, 20),
                                                          font=bold)))
    for section in picture.sections:
        blocks.append((20, lambda draw, image, top, s=section: draw.text((PAD, top + 4), s.title[:180],
                                                                          fill=(40, 40, 60), font=font)))
        if section.kind == "tiles":
            blocks.append(_tiles_block(section, width, tile, font))
        else:
            blocks.append(_bars_block(section, width, font))
        if section.note:
            blocks.append((16, lambda draw, image, top, s=section: draw.text((PAD, top + 2), s.note,
                                                                              fill=(110, 110, 110), font=font)))
        blocks.append((8, lambda draw, image, top: None))
    height = sum(h for h, _ in blocks) + PAD
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    top = 0
    for h, paint in blocks:
        paint(draw, image, top)
        top += h
    return image


def _tiles_block(tiles: Tiles, width: int, size: int, font):
    from PIL import Image

    scaled = [_scale(t, size if tiles.columns is None else max(8, size // 6)) for t in tiles.images]
    cell_w = max(t.shape[1] for t in scaled)
    cell_h = max(t.shape[0] for t in scaled)
    captioned = any(tiles.captions)
    gap = 2 if tiles.columns else 4
    caption_w = max((font.getlength(c) for c in tiles.captions), default=0)
    cell_w_total = max(cell_w, int(caption_w) + 2) if captioned else cell_w
    columns = tiles.columns or max(1, (width - 2 * PAD) // (cell_w_total + gap))
    rows = math.ceil(len(scaled) / columns)
    row_h = cell_h + (CAPTION_HEIGHT if captioned else 0) + gap

    def paint(draw, image, top):
        for i, t in enumerate(scaled):
            r, c = divmod(i, columns)
            left, y = PAD + c * (cell_w_total + gap), top + r * row_h
            image.paste(Image.fromarray(t.contiguous().numpy(), "RGB"), (left, y))
            if captioned and tiles.captions[i]:
                draw.text((left, y + t.shape[0] + 1), tiles.captions[i], fill=(90, 90, 90), font=font)

    return rows * row_h, paint


def _bars_block(bars: Bars, width: int, font):
    height, label_h = 110, 14
    n = max(1, len(bars.values))
    area = width - 2 * PAD
    bar_w = max(1.0, min(48.0, area / n))
    low, high = min(0.0, min(bars.values, default=0)), max(0.0, max(bars.values, default=0))
    span = (high - low) or 1.0
    labelled = bar_w >= 14

    def paint(draw, image, top):
        top += 14  # room for the values written above the bars
        zero = top + height * high / span
        draw.line((PAD, zero, PAD + bar_w * n, zero), fill=(180, 180, 180))
        for i, v in enumerate(bars.values):
            x0 = PAD + i * bar_w
            y = top + height * (high - v) / span
            fill = (217, 48, 37) if i == bars.highlight else (47, 111, 222)
            draw.rectangle((x0 + (1 if bar_w > 3 else 0), min(y, zero), x0 + bar_w - (1 if bar_w > 3 else 0),
                            max(y, zero)), fill=fill)
            if labelled:
                draw.text((x0 + 2, top + height + 2), bars.labels[i][:int(bar_w // 6)], fill=(60, 60, 60), font=font)
                if bar_w >= 30:
                    draw.text((x0 + 2, min(y, zero) - 12), f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}",
                              fill=(90, 90, 90), font=font)

    return height + (label_h if labelled else 0) + 30, paint


def write_picture(picture: Picture, path: str | Path) -> None:
    save_png(render(picture), Path(path))


# ----- what `netbuilder inspect` shows

SHOWS = ("maps", "filters", "saliency")


def inspection(model, inputs: dict, blocks: list[str], show: tuple[str, ...] = ("maps",), *,
               classes: list[str] | None = None, label: str | None = None, heading: str = "") -> Picture:
    """The pictures of one sample (or of filters alone, which need none): the input and the prediction, each
    block's feature maps, each convolution's filters, saliency over the input."""
    picture = Picture(heading)
    if inputs and ("maps" in show or "saliency" in show):
        for name, sample in inputs.items():
            image = sample_image(sample)
            if image is not None:
                picture.sections.append(Tiles(f"input {name}: {format_shape(tuple(sample.shape))}"
                                              + (f", class {label}" if label is not None else ""), [image], [""]))
        from .probe import prediction_of

        prediction = prediction_of(model.outputs(inputs), classes)
        if prediction is not None:
            picture.sections.append(prediction_bars(prediction, label))
    for block in blocks:
        if "maps" in show and inputs:
            picture.sections.append(view_of(model.run(block, inputs, with_outputs=False).value, block))
        if "filters" in show:
            picture.sections.append(filter_view(model.filters(block), block))
    if "saliency" in show and inputs:
        saliency = model.saliency(inputs)
        target = classes[saliency.target] if classes and saliency.target < len(classes) else None
        picture.sections.append(saliency_view(saliency, saliency.input, target))
    return picture
