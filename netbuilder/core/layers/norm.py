"""Normalization and regularization. num_features always comes from the incoming tensor."""
from __future__ import annotations

from .spec import Bool, Float, Int, LayerSpec, case, module

_EPS = Float("eps", 1e-5, 1e-12, 1.0, help="added to the variance to avoid dividing by zero")
_MOMENTUM = Float("momentum", 0.1, 0.0, 1.0, help="how fast the running statistics follow each batch")


def _layer_norm_check(p: dict, shapes: list) -> str | None:
    if p["dims"] > len(shapes[0]):
        return f"normalizes the last {p['dims']} dimensions, but the input has only {len(shapes[0])}"
    return None


LAYERS = [
    LayerSpec(
        "BatchNorm1d", "norm", "Normalizes each feature over the batch, then scales and shifts it.",
        params=(_EPS, _MOMENTUM),
        build=lambda p, s: module("BatchNorm1d", s[0][0], eps=p["eps"], momentum=p["momentum"]),
        ranks=(1, 2), rank_words="features, or channels x length", prefix="bn",
        cases=(case((16,), (16,), 2 * 16), case((4, 10), (4, 10), 2 * 4)),  # running statistics are not weights
        doc=("For each feature, subtracts the batch's mean and divides by its standard deviation, then "
             "learns a scale γ and a shift β. Speeds up and steadies the training of deep networks; "
             "evaluation uses running averages instead. While training it needs batches of more than one "
             "sample."),
        formula="y = (x − mean) / sqrt(var + eps) · γ + β, mean and var over the batch",
    ),
    LayerSpec(
        "BatchNorm2d", "norm", "Normalizes each channel of an image over the batch, then scales and shifts it.",
        params=(_EPS, _MOMENTUM),
        build=lambda p, s: module("BatchNorm2d", s[0][0], eps=p["eps"], momentum=p["momentum"]),
        ranks=(3,), rank_words="channels x height x width", prefix="bn",
        cases=(case((4, 8, 8), (4, 8, 8), 2 * 4),),
        doc=("Normalizes each channel over the batch, height and width, then learns a scale γ and a shift"
             " β per channel. Usually right after a convolution (which then needs no bias), before its "
             "activation."),
        formula="y = (x − mean) / sqrt(var + eps) · γ + β, per channel",
    ),
    LayerSpec(
        "LayerNorm", "norm", "Normalizes over the last dimensions of each sample (as in transformers).",
        params=(
            Int("dims", 1, 1, 8, help="how many trailing dimensions to normalize over"),
            _EPS,
            Bool("elementwise_affine", True, help="learn a scale and shift"),
            Bool("bias", True, help="learn the shift (with elementwise_affine)"),
        ),
        build=lambda p, s: module("LayerNorm", tuple(s[0][-p["dims"]:]), eps=p["eps"],
                                  elementwise_affine=p["elementwise_affine"], bias=p["bias"]),
        check=_layer_norm_check, prefix="ln",
        cases=(case((5, 16), (5, 16), 2 * 16), case((3, 4, 5), (3, 4, 5), 2 * 4 * 5, dims=2),
               case((5, 16), (5, 16), 0, elementwise_affine=False), case((5, 16), (5, 16), 16, bias=False)),
        doc=("Normalizes each sample over its last dims dimensions, whatever the batch: works with a "
             "batch of one, in recurrent networks and in transformers."),
        formula="y = (x − mean) / sqrt(var + eps) · γ + β, over the last dims dimensions of each sample",
    ),
    LayerSpec(
        "LocalResponseNorm", "norm",
        "Divides each value by the energy of its neighbouring channels (AlexNet, GoogLeNet).",
        params=(
            Int("size", 5, 1, 1024, help="how many neighbouring channels"),
            Float("alpha", 1e-4, 0.0, 1e6, help="multiplies the mean square of the neighbours"),
            Float("beta", 0.75, 0.0, 100.0, help="the exponent"),
            Float("k", 1.0, 0.0, 1e6, help="added before the exponent"),
        ),
        build=lambda p, s: module("LocalResponseNorm", p["size"], alpha=p["alpha"], beta=p["beta"], k=p["k"]),
        ranks=(2, 3), rank_words="channels x length, or channels x height x width", prefix="lrn",
        summary=lambda p: f"size {p['size']}",
        cases=(case((8, 5, 5), (8, 5, 5)), case((4, 6), (4, 6), size=3, alpha=1e-3, beta=0.5, k=2.0)),
        doc=("At each position, divides a channel's value by the energy of the size channels around it, so that "
             "strong responses damp their neighbours (AlexNet put it after its first convolutions). No weights; "
             "the shape is kept. Mostly for rebuilding historical networks: BatchNorm replaced it in newer "
             "designs."),
        formula="y_c = x_c / (k + alpha/size · Σ x_c′²)^beta, the sum over the size channels around c",
    ),
    LayerSpec(
        "Dropout", "norm", "While training, zeroes each value with probability p (and scales the rest).",
        params=(Float("p", 0.5, 0.0, 1.0, help="probability of zeroing a value"),),
        build=lambda p, s: module("Dropout", p["p"]), summary=lambda p: f"p={p['p']:g}",
        prefix="drop", cases=(case((16,), (16,)), case((3, 4, 4), (3, 4, 4), p=0.2)),
        doc=("While training, sets each value to zero with probability p and scales the others by 1 / (1 "
             "− p); at evaluation it does nothing. Fights overfitting in large dense layers. Not right "
             "before an Output: it would drop parts of the prediction itself."),
        formula="y = x · m / (1 − p), m a random 0/1 mask (1 − p of ones)",
    ),
    LayerSpec(
        "Dropout2d", "norm", "While training, zeroes whole channels of an image with probability p.",
        params=(Float("p", 0.5, 0.0, 1.0, help="probability of zeroing a channel"),),
        build=lambda p, s: module("Dropout2d", p["p"]), summary=lambda p: f"p={p['p']:g}",
        ranks=(3,), rank_words="channels x height x width", prefix="drop",
        cases=(case((4, 8, 8), (4, 8, 8)),),
        doc=("While training, zeroes whole channels of an image with probability p (neighbouring pixels "
             "are too alike for dropping single values to help)."),
    ),
]
