"""Pooling and upsampling."""
from __future__ import annotations

import math

from .spec import Bool, Choice, Float, Ints, LayerSpec, case, format_shape, format_step, format_value, module


def _pool_params(n: int) -> tuple:
    return (
        Ints("kernel_size", 2, n, 1, 256, help="window size"),
        Ints("stride", None, n, 1, 256, optional=True, help="step between windows; empty: the kernel size"),
        Ints("padding", 0, n, 0, 128, help="padding on each side (at most half the kernel)"),
        Bool("ceil_mode", False, help="round the output size up instead of down"),
    )


def _pool(cls: str):
    def build(p: dict, s: list):
        extra = {"count_include_pad": p["count_include_pad"]} if "count_include_pad" in p else {}
        return module(cls, p["kernel_size"], stride=p["stride"], padding=p["padding"], ceil_mode=p["ceil_mode"],
                      **extra)
    return build


def _pool_summary(n: int):
    def summary(p: dict) -> str:
        stride = p["stride"] if p["stride"] is not None else p["kernel_size"]
        text = f"{format_value(p['kernel_size'], n)}, s{format_step(stride)}"
        return text + (f", p{format_step(p['padding'])}" if p["padding"] != 0 else "") + (
            ", ceil" if p["ceil_mode"] else "")
    return summary


def _upsample_check(p: dict, shapes: list) -> str | None:
    height, width = shapes[0][1:]
    out = (math.floor(height * p["scale_factor"]), math.floor(width * p["scale_factor"]))
    if min(out) < 1:
        return (f"scale {p['scale_factor']:g} makes {height}x{width} into {out[0]}x{out[1]}; "
                "the output needs at least 1x1")
    return None


def _global_avg(m, x, **_params):
    return x.mean(dim=(2, 3))


LAYERS = [
    LayerSpec(
        "MaxPool1d", "pool", "Keeps the largest value in each window of a sequence.",
        params=_pool_params(1), build=_pool("MaxPool1d"), summary=_pool_summary(1),
        ranks=(2,), rank_words="channels x length", prefix="pool",
        cases=(case((3, 32), (3, 16)),
               case((3, 32), (3, 16), kernel_size=3, stride=2, padding=1),  # (32 + 2 - 3) // 2 + 1
               case((3, 7), (3, 4), ceil_mode=True)),  # ceil((7 - 2) / 2) + 1
        doc=("Keeps the largest value of each window of kernel_size steps; with the default stride (the "
             "kernel size) it divides the length by the kernel size. No weights."),
        formula="L_out = floor((L + 2·padding − kernel) / stride) + 1 (rounded up with ceil_mode)",
    ),
    LayerSpec(
        "MaxPool2d", "pool", "Keeps the largest value in each window: halves an image with kernel 2.",
        params=_pool_params(2), build=_pool("MaxPool2d"), summary=_pool_summary(2),
        ranks=(3,), rank_words="channels x height x width", prefix="pool",
        cases=(case((3, 16, 16), (3, 8, 8)),
               case((64, 112, 112), (64, 56, 56), kernel_size=3, stride=2, padding=1)),  # ResNet's stem
        doc=("Keeps the largest value of each kernel_size window of each channel: kernel 2 with its "
             "default stride halves height and width. No weights; later layers see a wider part of the "
             "image."),
        formula="H_out = floor((H + 2·padding − kernel) / stride) + 1 (rounded up with ceil_mode)",
    ),
    LayerSpec(
        "AvgPool2d", "pool", "Averages each window of an image.",
        params=(*_pool_params(2), Bool("count_include_pad", True, help="count padded zeros in the average")),
        build=_pool("AvgPool2d"), summary=_pool_summary(2),
        ranks=(3,), rank_words="channels x height x width", prefix="pool",
        cases=(case((3, 16, 16), (3, 8, 8)),
               case((2, 5, 5), (2, 5, 5), kernel_size=3, stride=1, padding=1),
               case((2, 5, 5), (2, 3, 3), kernel_size=3, stride=2, padding=1, count_include_pad=False)),
        doc="Replaces each window by its mean, as LeNet-5's subsampling does. No weights.",
        formula="H_out = floor((H + 2·padding − kernel) / stride) + 1 (rounded up with ceil_mode)",
    ),
    LayerSpec(
        "AdaptiveAvgPool2d", "pool", "Averages an image down to a fixed output size, whatever the input size.",
        params=(Ints("output_size", 1, 2, 1, 4096, help="height and width of the output"),),
        build=lambda p, s: module("AdaptiveAvgPool2d", p["output_size"]),
        summary=lambda p: f"to {format_value(p['output_size'], 2)}",
        ranks=(3,), rank_words="channels x height x width", prefix="avgpool",
        cases=(case((3, 16, 16), (3, 1, 1)),
               case((16, 12, 12), (16, 6, 6), output_size=[6, 6]),
               case((8, 1, 1), (8, 6, 6), output_size=[6, 6]),  # AlexNet on a small image: each cell repeated
               case((4, 5, 7), (4, 3, 2), output_size=[3, 2]),  # windows of different sizes, overlapping
               case((2, 5, 2), (2, 3, 4), output_size=[3, 4])),  # uneven windows down, repeated cells across
        doc=("Averages each channel down to output_size whatever the input's size, choosing its windows "
             "to fit: AlexNet and VGG pool to 6x6 and 7x7 this way before their dense layers. Any output size "
             "trains; an output larger than the input repeats its cells (a 1x1 map becomes 6x6). The ONNX "
             "export writes windows of different sizes as an exact equivalent."),
    ),
    LayerSpec(
        "AdaptiveMaxPool2d", "pool", "Keeps the largest value of each window, sized to give a fixed output size.",
        params=(Ints("output_size", 1, 2, 1, 4096, help="height and width of the output"),),
        build=lambda p, s: module("AdaptiveMaxPool2d", p["output_size"]),
        summary=lambda p: f"to {format_value(p['output_size'], 2)}",
        ranks=(3,), rank_words="channels x height x width", prefix="maxpool",
        cases=(case((3, 16, 16), (3, 1, 1)),
               case((16, 12, 12), (16, 6, 6), output_size=[6, 6]),
               case((8, 1, 1), (8, 7, 7), output_size=[7, 7]),
               case((4, 5, 7), (4, 3, 2), output_size=[3, 2]),
               case((2, 6, 2), (2, 3, 4), output_size=[3, 4])),  # windows of 2 down, repeated cells across
        doc=("Keeps the largest value of each channel's windows, chosen to give output_size whatever the input's "
             "size (output 1: the global maximum). Any output size trains; the ONNX export writes windows of "
             "different sizes as an exact equivalent. No weights."),
    ),
    LayerSpec(
        "GlobalAvgPool2d", "pool",
        "Averages each channel over the whole image: channels x height x width becomes channels.",
        forward=_global_avg,
        ranks=(3,), rank_words="channels x height x width", prefix="gap",
        cases=(case((3, 16, 16), (3,)),),
        doc=("The mean of each channel over the whole image: C x H x W becomes C. Replaces flattening a "
             "large feature map into a huge dense layer (ResNet, GoogLeNet)."),
        formula="y[c] = mean of x[c, h, w] over h and w",
    ),
    LayerSpec(
        "Upsample", "pool", "Enlarges an image by a scale factor.",
        params=(
            Float("scale_factor", 2.0, 0.01, 64.0, help="how many times larger"),
            Choice("mode", "nearest", ("nearest", "bilinear"), help="how new pixels are filled in"),
        ),
        build=lambda p, s: module("Upsample", scale_factor=p["scale_factor"], mode=p["mode"]),
        summary=lambda p: f"x{p['scale_factor']:g}, {p['mode']}", check=_upsample_check,
        ranks=(3,), rank_words="channels x height x width", prefix="up",
        cases=(case((3, 8, 8), (3, 16, 16)),
               case((2, 4, 4), (2, 6, 6), scale_factor=1.5, mode="bilinear")),
        doc=("Enlarges each channel by scale_factor, copying (nearest) or interpolating (bilinear) "
             "pixels. No weights: a cheap alternative to ConvTranspose2d in decoders."),
        formula="H_out = floor(H · scale_factor)",
    ),
]


def _resize_build(p: dict, shapes: list):
    align = {"align_corners": p["align_corners"]} if p["mode"] == "bilinear" else {}
    if p["by"] == "size":
        return module("Upsample", size=p["size"], mode=p["mode"], **align)
    return module("Upsample", scale_factor=p["scale_factor"], mode=p["mode"], **align)


def _resize_check(p: dict, shapes: list) -> str | None:
    if p["align_corners"] and p["mode"] != "bilinear":
        return "align_corners applies to bilinear resizing only"
    return None


def _resize_summary(p: dict) -> str:
    how = f"to {format_value(p['size'], 2)}" if p["by"] == "size" else f"x{p['scale_factor']:g}"
    return f"{how}, {p['mode']}" + (", corners" if p["align_corners"] else "")


LAYERS.append(LayerSpec(
    "Resize", "pool", "Resizes an image to a given size, or by a factor (FCN and U-Net decoders).",
    params=(
        Choice("by", "factor", ("factor", "size"), help="scale by a factor, or resize to a fixed size"),
        Float("scale_factor", 2.0, 0.01, 64.0, help="how many times larger (when by factor)"),
        Ints("size", [32, 32], 2, 1, 65536, help="height and width of the output (when by size)"),
        Choice("mode", "bilinear", ("nearest", "bilinear"), help="how new pixels are filled in"),
        Bool("align_corners", False, help="bilinear: align the corner pixels of input and output"),
    ),
    build=_resize_build, check=_resize_check, summary=_resize_summary,
    ranks=(3,), rank_words="channels x height x width", prefix="resize",
    cases=(case((3, 8, 8), (3, 16, 16)),
           case((2, 5, 7), (2, 20, 14), by="size", size=[20, 14], mode="nearest"),
           case((2, 4, 4), (2, 6, 6), scale_factor=1.5, align_corners=True)),
    doc=("Changes the height and width of each channel, by scale_factor or to a fixed size; the channels stay. "
         "Bilinear interpolates smoothly, nearest copies pixels. No weights. In a U-Net or FCN decoder, resizing "
         "by size makes a feature map match the skip connection it is joined with (Concat or Add)."),
    formula="H_out = floor(H · scale_factor), W_out likewise (by factor); H_out x W_out = size (by size)",
))
