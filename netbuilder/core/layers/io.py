"""Input and Output blocks: where tensors enter and leave the network."""
from __future__ import annotations

from .spec import Choice, Ints, LayerSpec, format_value


def _passthrough(m, x, **_params):
    return x


LAYERS = [
    LayerSpec(
        "Input", "io",
        "Where data enters the network. Shape excludes the batch, e.g. 1x28x28 for MNIST images.",
        params=(
            Ints("shape", [1, 28, 28], min=1, max=65536, help="tensor shape without the batch dimension"),
            Choice("dtype", "float32", ("float32", "int64"), help="int64 for token ids fed to an Embedding"),
        ),
        forward=_passthrough, inputs=0, prefix="input",
        summary=lambda p: format_value(p["shape"]) + ("" if p["dtype"] == "float32" else f", {p['dtype']}"),
        doc=("Every network starts with one. Set its shape to one sample of your data, without the batch:"
             " 1x28x28 for MNIST digits, 3x32x32 for CIFAR-10 images, 2 for points in the plane. PyTorch "
             "adds the batch dimension in front; the shapes on the canvas never show it."),
    ),
    LayerSpec(
        "Output", "io",
        "Where a result leaves the network. Its name becomes the output's name in exports.",
        forward=_passthrough, outputs=0, prefix="output",
        doc=("Marks a result of the network. Training compares what arrives here with the labels "
             "(cross-entropy for classes, mean squared error for values), so a classifier's Output should"
             " receive raw scores (logits). Exports name the output after this block."),
    ),
]
