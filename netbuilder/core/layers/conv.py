"""Convolutions. in_channels always comes from the incoming tensor."""
from __future__ import annotations

from .spec import Bool, Int, Ints, LayerSpec, case, format_step, format_value, module


def _conv_params(n: int, transposed: bool = False) -> tuple:
    padding_words = () if transposed else ("same", "valid")
    extra = (Ints("output_padding", 0, n, 0, 64, help="extra size added to one side of the output"),) if transposed else ()
    return (
        Int("out_channels", 16, 1, 65536, help="number of filters"),
        Ints("kernel_size", 3, n, 1, 256, help="filter size"),
        Ints("stride", 1, n, 1, 256, help="step between filter positions"),
        Ints("padding", 0, n, 0, 256, words=padding_words,
             help="zeros added on each side" + ("" if transposed else "; 'same' keeps the size (stride 1 only)")),
        *extra,
        Ints("dilation", 1, n, 1, 64, help="spacing between filter taps"),
        Int("groups", 1, 1, 65536, help="split channels into groups (in and out channels must divide by it)"),
        Bool("bias", True, help="learn an additive bias"),
    )


def _conv(cls: str):
    def build(p: dict, shapes: list) -> object:
        kwargs = {k: p[k] for k in ("stride", "padding", "output_padding", "dilation", "groups", "bias") if k in p}
        return module(cls, shapes[0][0], p["out_channels"], kernel_size=p["kernel_size"], **kwargs)
    return build


def _transposed_check(p: dict, shapes: list) -> str | None:
    """PyTorch's rule, in words: each output_padding must be smaller than the stride or the dilation there."""
    n = len(shapes[0]) - 1
    p = {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}  # as the document writes them

    def each(value) -> list[int]:
        return list(value) if isinstance(value, (list, tuple)) else [value] * n

    for pad, stride, dilation in zip(each(p["output_padding"]), each(p["stride"]), each(p["dilation"])):
        if pad >= max(stride, dilation):
            return (f"output_padding {format_step(p['output_padding'])} must be smaller than the stride "
                    f"({format_step(p['stride'])}) or the dilation ({format_step(p['dilation'])})")
    return None


def conv_summary(n: int):
    """`32 @ 5x5, s1`, then only what is off its default: padding, dilation, groups, no bias."""
    def summary(p: dict) -> str:
        parts = [f"{p['out_channels']} @ {format_value(p['kernel_size'], n)}, s{format_step(p['stride'])}"]
        if p["padding"] not in (0, "valid"):
            parts.append("same" if p["padding"] == "same" else f"p{format_step(p['padding'])}")
        if p["dilation"] != 1:
            parts.append(f"d{format_step(p['dilation'])}")
        if p["groups"] != 1:
            parts.append(f"g{p['groups']}")
        if not p["bias"]:
            parts.append("no bias")
        return ", ".join(parts)
    return summary


LAYERS = [
    LayerSpec(
        "Conv1d", "conv", "1-D convolution over sequences or signals (channels x length).",
        params=_conv_params(1), build=_conv("Conv1d"), summary=conv_summary(1),
        ranks=(2,), rank_words="channels x length", prefix="conv",
        cases=(case((3, 32), (16, 30), 3 * 16 * 3 + 16),
               # (20 + 2*2 - 5) // 2 + 1 = 10
               case((4, 20), (8, 10), 4 * 8 * 5, out_channels=8, kernel_size=5, stride=2, padding=2, bias=False)),
        doc=("Slides out_channels filters along a signal; each output is a filter's weighted sum over "
             "kernel_size steps of all the input channels. in_channels is inferred."),
        formula="L_out = floor((L + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1",
    ),
    LayerSpec(
        "Conv2d", "conv", "2-D convolution over images (channels x height x width).",
        params=_conv_params(2), build=_conv("Conv2d"), summary=conv_summary(2),
        ranks=(3,), rank_words="channels x height x width", prefix="conv",
        cases=(case((3, 16, 16), (16, 14, 14), 16 * 3 * 3 * 3 + 16),
               case((1, 28, 28), (6, 28, 28), 6 * 5 * 5 + 6, out_channels=6, kernel_size=5, padding="same"),
               # dilation 2 spans 5 pixels: (15 - 5) // 2 + 1 = 6; 2 groups of 2 input channels
               case((4, 15, 15), (8, 6, 6), 8 * 2 * 3 * 3 + 8, out_channels=8, stride=2, dilation=2, groups=2)),
        doc=("The building block of image networks: out_channels filters of kernel_size slide over the "
             "image, each summing over all input channels, and give out_channels feature maps. Padding "
             "keeps the borders ('same' keeps the size); a stride above 1 shrinks the image. in_channels "
             "is inferred."),
        formula=("H_out = floor((H + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1, and the same "
                 "for W; weights: out_channels · in_channels / groups · kernel_h · kernel_w, plus "
                 "out_channels biases"),
    ),
    LayerSpec(
        "ConvTranspose2d", "conv",
        "Transposed 2-D convolution ('deconvolution'): upsamples, e.g. in decoders.",
        params=_conv_params(2, transposed=True), build=_conv("ConvTranspose2d"), summary=conv_summary(2),
        check=_transposed_check,
        ranks=(3,), rank_words="channels x height x width", prefix="deconv",
        cases=(case((8, 7, 7), (16, 9, 9), 8 * 16 * 3 * 3 + 16),  # (7 - 1) + 3
               case((8, 7, 7), (4, 14, 14), 8 * 4 * 2 * 2 + 4, out_channels=4, kernel_size=2, stride=2),
               # (7 - 1) * 2 - 2 * 1 + 3 + 1 = 14
               case((8, 7, 7), (4, 14, 14), 8 * 4 * 3 * 3 + 4, out_channels=4, stride=2, padding=1,
                    output_padding=1)),
        doc=("Goes the other way from a strided convolution: each input pixel spreads a kernel_size patch"
             " into the output, so stride 2 doubles the size. Used in decoders and segmentation networks."),
        formula="H_out = (H − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1",
    ),
]
