"""Input and Output blocks: where tensors enter and leave the network."""
from __future__ import annotations

from .spec import Choice, Ints, LayerSpec, Text, format_value

FIELDS = ("x", "y", "x2", "same", "mask", "tokens", "target")  # the fields netbuilder's datasets have


def _passthrough(m, x, **_params):
    return x


def _input_summary(p: dict) -> str:
    parts = [format_value(p["shape"]) if p["shape"] else "scalar"]
    if p["dtype"] != "float32":
        parts.append(p["dtype"])
    if p["field"] != "x":
        parts.append(f"field {p['field']}")
    return ", ".join(parts)


LAYERS = [
    LayerSpec(
        "Input", "io",
        "Where data enters the network: one field of each sample of the dataset (x, the samples; y, their "
        "labels or targets; more where the dataset has them: x2 and same for pairs, mask, tokens, target). "
        "Shape excludes the batch, e.g. 1x28x28 for MNIST images; empty for one number per sample (a label).",
        params=(
            Ints("shape", [1, 28, 28], min=1, max=65536, min_length=0,
                 help="tensor shape without the batch dimension (empty: one number per sample)"),
            Choice("dtype", "float32", ("float32", "int64"), help="int64 for token ids, class labels and masks"),
            Text("field", "x", suggestions=FIELDS,
                 help="the dataset field this Input receives: x (samples), y (labels or targets), x2, same, mask, "
                      "tokens, target"),
            Choice("normalize", "zscore", ("zscore", "none"),
                   help="zscore: subtract the training split's mean and divide by its std (learned when training "
                        "starts and kept with the weights and in exports); integer inputs are never normalized"),
        ),
        forward=_passthrough, inputs=0, prefix="input", summary=_input_summary,
        doc=("Every network starts with one. Set its shape to one sample of your data, without the batch:"
             " 1x28x28 for MNIST digits, 3x32x32 for CIFAR-10 images, 2 for points in the plane. PyTorch "
             "adds the batch dimension in front; the shapes on the canvas never show it. Its field says which "
             "part of each sample it receives (x, the samples; y, the labels; ...)."),
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
