"""Blocks that PyTorch's ONNX exporter cannot write as they are, written for the export as exact equivalents.

AdaptiveAvgPool2d and AdaptiveMaxPool2d train with any output size, but torch.onnx writes them only where the
output size divides the input's (windows of one size: AveragePool, MaxPool). For the export alone, each other one
is replaced, axis by axis (the windows of adaptive pooling are rectangles: pooling is separable), by:
  - a pooling window of input / output cells where the output divides the input;
  - a nearest-neighbour enlargement (Resize) where the output is a multiple of the input: each output cell's
    window is then one input cell (AlexNet's 6x6 or VGG's 7x7 of a 1x1 feature map);
  - otherwise (windows of different sizes, overlapping: 5 -> 3), the average as a product with the matrix of the
    windows' weights (MatMul), the maximum as one MaxPool per window (Slice), concatenated.
The model given is put back as it was once the export is done; training and PyTorch code use the blocks as they are.
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

ADAPTIVE = {"AdaptiveAvgPool2d": "avg", "AdaptiveMaxPool2d": "max"}


def windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows along one axis: [floor(i * size / out), ceil((i + 1) * size / out))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _output_size(module: torch.nn.Module, size: tuple[int, int]) -> tuple[int, int]:
    out = module.output_size
    out = (out, out) if isinstance(out, int) or out is None else tuple(out)
    return tuple(s if o is None else int(o) for o, s in zip(out, size))


def native(size: tuple[int, int], out: tuple[int, int]) -> bool:
    """Whether torch.onnx writes this adaptive pooling itself (the output divides the input on both axes)."""
    return all(s % o == 0 for s, o in zip(size, out))


class ExactAdaptivePool(torch.nn.Module):
    """Adaptive pooling of a fixed input size written with operators ONNX has (see the module's docstring)."""

    def __init__(self, kind: str, size: tuple[int, int], out: tuple[int, int]) -> None:
        super().__init__()
        self.kind, self.size, self.out = kind, tuple(size), tuple(out)
        self.kernel = tuple(s // o if s % o == 0 else 1 for s, o in zip(size, out))
        self.uneven = [axis for axis, (s, o) in enumerate(zip(size, out)) if s % o and o % s]
        self.repeat = any(s % o and o % s == 0 for s, o in zip(size, out))  # an output a multiple of the input
        if kind == "avg":
            for axis in self.uneven:  # out x in: each row averages its window
                matrix = torch.zeros(out[axis], size[axis])
                for i, (start, end) in enumerate(windows(size[axis], out[axis])):
                    matrix[i, start:end] = 1.0 / (end - start)
                self.register_buffer(f"average{axis}", matrix.t().contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel != (1, 1):  # the axes whose output divides the input: one window size
            pool = F.avg_pool2d if self.kind == "avg" else F.max_pool2d
            x = pool(x, self.kernel, self.kernel)
        for axis in self.uneven:  # axis 0: height (dim 2), 1: width (dim 3)
            dim = 2 + axis
            if self.kind == "avg":
                matrix = getattr(self, f"average{axis}")
                x = x @ matrix if axis == 1 else (x.transpose(2, 3) @ matrix).transpose(2, 3)
            else:  # each window sliced and pooled whole (Slice, MaxPool: blocks an import makes again)
                parts = []
                for start, end in windows(self.size[axis], self.out[axis]):
                    kernel = (end - start, 1) if axis == 0 else (1, end - start)
                    parts.append(F.max_pool2d(x.narrow(dim, start, end - start), kernel, kernel))
                x = torch.cat(parts, dim=dim)
        if self.repeat:  # the axes whose output is a multiple of the input: repeated cells
            x = F.interpolate(x, size=self.out, mode="nearest")
        return x


@contextlib.contextmanager
def exportable(model: torch.nn.Module, input_sizes: dict[str, tuple[int, ...]]):
    """Within: `model`'s adaptive pooling blocks that torch.onnx cannot write are exact equivalents it can.
    input_sizes: each block's input shape (batch excluded), by module name (the graph's shape report)."""
    replaced = {}
    try:
        for name, module in model.named_modules():
            kind = ADAPTIVE.get(type(module).__name__)
            if kind is None or name not in input_sizes or len(input_sizes[name]) != 3:
                continue
            size = tuple(input_sizes[name][1:])
            out = _output_size(module, size)
            if not native(size, out) and math.prod(out) > 0:
                replaced[name] = module
                model.set_submodule(name, ExactAdaptivePool(kind, size, out))
        yield sorted(replaced)
    finally:
        for name, module in replaced.items():
            model.set_submodule(name, module)
