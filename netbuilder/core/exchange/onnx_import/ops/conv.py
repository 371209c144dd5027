"""Conv and ConvTranspose: 1-D and 2-D, with their weights; asymmetric padding becomes a Pad block."""
from __future__ import annotations

from ..refusals import Refusal
from . import handles

CONV_ATTRS = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}


def weight_hint(initializer: str | None) -> str | None:
    """`layer1.0.conv1.weight` -> `layer1_0_conv1`: the exporting module's name, where it survived."""
    from ..importer import block_name

    if initializer and initializer.endswith(".weight"):
        return block_name(initializer[: -len(".weight")])
    return None


def explicit_pads(node, rank: int, sizes: list[int], kernel: list[int], strides: list[int],
                  dilations: list[int]) -> list[int]:
    """ONNX pads (begins then ends), with auto_pad SAME_UPPER / SAME_LOWER worked out."""
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", "VALID"):
        return list(node.attr("pads", [0] * 2 * rank)) if auto == "NOTSET" else [0] * 2 * rank
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else large)
        ends.append(large if auto == "SAME_UPPER" else small)
    return begins + ends


@handles("Conv", attrs=CONV_ATTRS, inputs=3)
def conv(imp, node):
    weight, view = node.const(1), node.view()
    if weight is None or weight.ndim not in (3, 4):
        raise Refusal("only 1-D and 2-D convolutions with constant weights have blocks")
    rank = weight.ndim - 2
    bias = node.const(2)
    if node.input(2) is not None and bias is None:
        raise Refusal("its bias is not a constant")
    port = imp.block(view, node)
    sizes = list(imp.shape_of(port)[1:])
    kernel, strides = list(weight.shape[2:]), list(node.attr("strides", [1] * rank))
    dilations = list(node.attr("dilations", [1] * rank))
    pads = explicit_pads(node, rank, sizes, kernel, strides, dilations)
    if pads[:rank] != pads[rank:]:  # zeros on uneven sides: a Pad block first
        port = imp.add("Pad", {"padding": [p for b, e in zip(pads[:rank][::-1], pads[rank:][::-1]) for p in (b, e)]},
                       [port], node)
        pads = [0] * 2 * rank
    params = {"out_channels": int(weight.shape[0]), "kernel_size": kernel, "stride": strides, "padding": pads[:rank],
              "dilation": dilations, "groups": int(node.attr("group", 1)), "bias": bias is not None}
    weights = {"weight": weight} | ({"bias": bias} if bias is not None else {})
    out = imp.add("Conv2d" if rank == 2 else "Conv1d", params, [port], node, weights,
                  hint=weight_hint(node.weight_name(1)), shares=node.weight_source(1))
    return imp.view_of(out)


@handles("ConvTranspose", attrs=CONV_ATTRS | {"output_padding", "output_shape"}, inputs=3)
def conv_transpose(imp, node):
    weight, view = node.const(1), node.view()
    if weight is None or weight.ndim != 4:
        raise Refusal("only 2-D transposed convolutions with constant weights have blocks")
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Refusal(f"auto_pad {node.attr('auto_pad')} is not supported")
    bias = node.const(2)
    port = imp.block(view, node)
    sizes = imp.shape_of(port)[1:]
    groups = int(node.attr("group", 1))
    kernel, strides = list(weight.shape[2:]), list(node.attr("strides", [1, 1]))
    dilations = list(node.attr("dilations", [1, 1]))
    pads = list(node.attr("pads", [0, 0, 0, 0]))
    extra = list(node.attr("output_padding", [0, 0]))
    if node.attr("output_shape") is not None:
        pads, extra = _from_output_shape(list(node.attr("output_shape"))[-2:], sizes, kernel, strides, dilations, extra)
    if pads[:2] != pads[2:]:
        raise Refusal(f"asymmetric padding {pads} is not supported")
    params = {"out_channels": int(weight.shape[1]) * groups, "kernel_size": kernel, "stride": strides,
              "padding": pads[:2], "output_padding": extra, "dilation": dilations, "groups": groups,
              "bias": bias is not None}
    weights = {"weight": weight} | ({"bias": bias} if bias is not None else {})
    out = imp.add("ConvTranspose2d", params, [port], node, weights, hint=weight_hint(node.weight_name(1)),
                  shares=node.weight_source(1))
    return imp.view_of(out)


def _from_output_shape(wanted, sizes, kernel, strides, dilations, extra) -> tuple[list[int], list[int]]:
    """ONNX works the padding out from output_shape (the larger half at the start unless SAME_UPPER); PyTorch
    takes a symmetric padding and an output_padding added at the end."""
    pads, paddings = [], []
    for out, size, k, s, d, e in zip(wanted, sizes, kernel, strides, dilations, extra):
        total = s * (size - 1) + e + (k - 1) * d + 1 - out
        begin = max(0, total - total // 2)  # larger than it makes: the extra rows come at the end (output_padding)
        natural = (size - 1) * s - 2 * begin + d * (k - 1) + 1
        pads.append(begin)
        paddings.append(out - natural)
        if not 0 <= out - natural < max(s, d):
            raise Refusal(f"output_shape {wanted} needs an output padding PyTorch does not allow")
    return pads + pads, paddings
