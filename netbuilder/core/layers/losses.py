"""Loss blocks: the terms of what training minimizes, drawn on the canvas.

Each takes its prediction (and target) by wires and gives one number per batch. The objective is the sum
of the loss blocks' values, each times its weight; each loss block trains all blocks or a named group, so
two players (a GAN's generator and discriminator) are trained in turn. Losses are left out of inference
and of every export.
"""
from __future__ import annotations

from .spec import Choice, Float, LayerSpec, Text, format_shape, ports_case

_WEIGHT = Float("weight", 1.0, 0.0, 1e6, help="how much this term counts in the objective (the sum of the terms)")
_TRAINS = Text("trains", "all", help="which blocks this loss trains: all, or the name of a group of blocks")
F32, I64 = "float32", "int64"
# what every loss block's reference says about weight and trains
_TERM = (" Training minimizes the sum of all loss blocks, each times its weight; trains names the blocks it "
         "updates (all, or a group: one optimizer per group, the groups stepped in turn).")


def _params(*extra) -> tuple:
    return (*extra, _WEIGHT, _TRAINS)


def _summary(p: dict) -> str:
    parts = [] if p["trains"] == "all" else [f"trains {p['trains']}"]
    if p["weight"] != 1.0:
        parts.insert(0, f"x{p['weight']:g}")
    return ", ".join(parts)


# ----- cross-entropy: classes per sample, per position of a sequence, or per pixel

def _cross_entropy_check(p: dict, shapes: list) -> str | None:
    pred, target = shapes
    if len(pred) != len(target) + 1:
        return (f"the prediction ({format_shape(pred)}) needs one more dimension than the labels "
                f"({format_shape(target)}): class scores per sample, per step (steps x classes) or per pixel "
                "(classes x height x width)")
    spatial = pred[1:] if len(pred) == 3 else pred[:-1]  # images: classes first; sequences: classes last
    if tuple(spatial) != tuple(target):
        return f"the prediction {format_shape(pred)} does not match the labels {format_shape(target)}"
    return None


def _cross_entropy(m, pred, target, label_smoothing: float = 0.0, input_shapes=(), **_params):
    import torch.nn.functional as F

    if input_shapes and len(input_shapes[0]) == 2:  # batch x steps x classes -> batch x classes x steps
        pred = pred.transpose(1, 2)
    return F.cross_entropy(pred, target, label_smoothing=label_smoothing)


# ----- binary cross-entropy with logits: against labels or a constant target (GANs)

def _bce_ports(p: dict) -> list[str]:
    return ["pred", "target"] if p["against"] == "wire" else ["pred"]


def _bce_check(p: dict, shapes: list) -> str | None:
    import math

    if len(shapes) == 2 and math.prod(shapes[0]) != math.prod(shapes[1]):
        return f"the prediction {format_shape(shapes[0])} and the target {format_shape(shapes[1])} differ in size"
    return None


def _bce(m, pred, target=None, against: str = "wire", **_params):
    import torch
    import torch.nn.functional as F

    if target is None:
        target = torch.ones_like(pred) if against == "ones" else torch.zeros_like(pred)
    return F.binary_cross_entropy_with_logits(pred.reshape(-1), target.reshape(-1).to(pred.dtype))


# ----- regression and reconstruction

def _same_shape_check(p: dict, shapes: list) -> str | None:
    if tuple(shapes[0]) != tuple(shapes[1]):
        return f"the prediction {format_shape(shapes[0])} and the target {format_shape(shapes[1])} differ"
    return None


def _mse(m, pred, target, **_params):
    import torch.nn.functional as F

    return F.mse_loss(pred, target.to(pred.dtype))


def _l1(m, pred, target, **_params):
    import torch.nn.functional as F

    return F.l1_loss(pred, target.to(pred.dtype))


# ----- a VAE's KL term, and a Siamese network's contrastive loss

def _kl(m, mu, logvar, **_params):
    """KL(N(mu, exp(logvar)) || N(0, 1)), summed over the latent dimensions, averaged over the batch."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(1).mean()


def _contrastive_check(p: dict, shapes: list) -> str | None:
    if tuple(shapes[0]) != tuple(shapes[1]):
        return f"the two embeddings differ: a is {format_shape(shapes[0])}, b is {format_shape(shapes[1])}"
    if shapes[2] not in ((), (1,)):
        return f"'same' must be one number per pair (1: same, 0: different), receives {format_shape(shapes[2])}"
    return None


def _contrastive(m, a, b, same, margin: float = 1.0, **_params):
    """Hadsell, Chopra and LeCun 2006: pull pairs of the same class together, push others past the margin."""
    import torch.nn.functional as F

    distance = F.pairwise_distance(a.flatten(1), b.flatten(1))
    same = same.reshape(-1).to(distance.dtype)
    return 0.5 * (same * distance.pow(2) + (1 - same) * F.relu(margin - distance).pow(2)).mean()


LAYERS = [
    LayerSpec(
        "CrossEntropyLoss", "loss",
        "Cross-entropy of class scores (logits, no softmax before it) against integer labels: per sample "
        "(classes vs a label), per step of a sequence (steps x classes vs steps) or per pixel "
        "(classes x height x width vs height x width: segmentation).",
        params=_params(Float("label_smoothing", 0.0, 0.0, 0.9, help="spread this much of each label over all "
                                                                   "classes")),
        forward=_cross_entropy, inputs=("pred", "target"), outputs=0, port_dtypes={"target": I64},
        check=_cross_entropy_check, shape_aware=True, role="loss", prefix="ce_loss", summary=_summary,
        cases=(ports_case({"pred": ((10,), F32), "target": ((), I64)}, ()),
               ports_case({"pred": ((7, 5), F32), "target": ((7,), I64)}, ()),  # a sequence: steps x classes
               ports_case({"pred": ((3, 4, 4), F32), "target": ((4, 4), I64)}, (), label_smoothing=0.1)),
        doc=("Scores class predictions against int64 labels: pred gets raw scores (logits: no Softmax before "
             "it), target the labels. It takes classes against one label per sample (N x C vs N), steps x "
             "classes against a label per step (N x T x C vs N x T), or classes x height x width against a label"
             " per pixel (N x C x H x W vs N x H x W, segmentation). label_smoothing keeps the network from "
             "growing overconfident." + _TERM),
        formula="loss = −mean log softmax(pred)[label], i.e. −mean (pred[label] − log Σ_c exp(pred[c]))",
    ),
    LayerSpec(
        "BCEWithLogitsLoss", "loss",
        "Binary cross-entropy of logits (no sigmoid before it) against 0/1 targets by wire, or against a "
        "constant: all ones ('real') or all zeros ('fake'), as a GAN's losses are.",
        params=_params(Choice("against", "wire", ("wire", "ones", "zeros"),
                              help="what the prediction is compared with: wire, the target port's input; ones "
                                   "('real') or zeros ('fake'): a constant target")),
        forward=_bce, inputs=_bce_ports, outputs=0, port_dtypes={"target": "any"}, check=_bce_check,
        role="loss", prefix="bce_loss", summary=lambda p: ", ".join(
            [*([f"against {p['against']}"] if p["against"] != "wire" else []), *filter(None, [_summary(p)])]),
        cases=(ports_case({"pred": ((1,), F32), "target": ((), I64)}, ()),
               ports_case({"pred": ((1,), F32)}, (), against="ones"),
               ports_case({"pred": ((1,), F32)}, (), against="zeros", trains="discriminator")),
        doc=("Scores raw scores (logits: no Sigmoid before it) as yes / no predictions, one per value. With "
             "against 'wire', the target port takes 0/1 labels with as many values as pred; with 'ones' or "
             "'zeros' there is no target port and every value is compared with 1 ('real') or 0 ('fake'). A GAN "
             "uses three: the discriminator's on real samples against ones and on generated ones against zeros "
             "(trains discriminator), the generator's on generated samples against ones (trains generator)."
             + _TERM),
        formula="loss = −mean (t · log σ(pred) + (1 − t) · log(1 − σ(pred))), t the target, σ the sigmoid",
    ),
    LayerSpec(
        "MSELoss", "loss", "Mean squared error between a prediction and a target of the same shape "
        "(regression; an autoencoder's reconstruction against its input).",
        params=_params(), forward=_mse, inputs=("pred", "target"), outputs=0, port_dtypes={"target": "any"},
        check=_same_shape_check, role="loss", prefix="mse_loss", summary=_summary,
        cases=(ports_case({"pred": ((3,), F32), "target": ((3,), F32)}, ()),
               ports_case({"pred": ((1, 8, 8), F32), "target": ((1, 8, 8), F32)}, (), weight=0.5)),
        doc=("The average of the squared differences between pred and target, which must have the same shape. "
             "The usual loss for predicting numbers, and for an autoencoder, whose target is its own Input. "
             "Squaring makes large errors count much more than small ones." + _TERM),
        formula="loss = mean (pred − target)²",
    ),
    LayerSpec(
        "L1Loss", "loss", "Mean absolute error between a prediction and a target of the same shape.",
        params=_params(), forward=_l1, inputs=("pred", "target"), outputs=0, port_dtypes={"target": "any"},
        check=_same_shape_check, role="loss", prefix="l1_loss", summary=_summary,
        cases=(ports_case({"pred": ((3,), F32), "target": ((3,), F32)}, ()),),
        doc=("The average of the absolute differences between pred and target, which must have the same shape. "
             "Compared with MSELoss, a few large errors (outliers) pull on it less, and image reconstructions "
             "often come out less blurry." + _TERM),
        formula="loss = mean |pred − target|",
    ),
    LayerSpec(
        "KLDivergenceLoss", "loss",
        "A VAE's KL term: how far N(mu, exp(logvar)) is from N(0, 1), "
        "-1/2 sum(1 + logvar - mu^2 - exp(logvar)) over the latent dimensions, averaged over the batch.",
        params=_params(), forward=_kl, inputs=("mu", "logvar"), outputs=0, check=_same_shape_check,
        role="loss", prefix="kl_loss", summary=_summary,
        cases=(ports_case({"mu": ((8,), F32), "logvar": ((8,), F32)}, ()),),
        doc=("The second term of a VAE's loss: how far the encoder's distribution N(mu, exp(logvar)) is from a "
             "standard normal. Wire it the same mu and logvar as the Sample block (the same shape); it pulls the "
             "latent codes towards N(0, 1) so that decoding random noise gives sensible samples. Its weight sets "
             "the balance with the reconstruction loss (more than 1: a β-VAE)." + _TERM),
        formula="KL = −½ Σ (1 + logvar − mu² − exp(logvar)), summed over the latent dimensions, averaged over the "
                "batch",
    ),
    LayerSpec(
        "ContrastiveLoss", "loss",
        "For pairs of embeddings a and b: pulls a pair together when 'same' is 1, pushes it apart to at least "
        "the margin when 'same' is 0 (Siamese networks): 1/2 (same d^2 + (1 - same) max(0, margin - d)^2).",
        params=_params(Float("margin", 1.0, 0.0, 1e6, help="the distance beyond which different pairs cost nothing")),
        forward=_contrastive, inputs=("a", "b", "same"), outputs=0, port_dtypes={"same": "any"},
        check=_contrastive_check, role="loss", prefix="contrastive_loss", summary=_summary,
        cases=(ports_case({"a": ((16,), F32), "b": ((16,), F32), "same": ((), I64)}, (), margin=2.0),),
        doc=("Trains a Siamese network: a and b take the two embeddings of a pair (the same shape, usually from "
             "twin branches that share weights), same takes one number per pair, 1 for the same class and 0 for "
             "different. Pairs of the same class are pulled together; different pairs are pushed apart until "
             "they are margin apart." + _TERM),
        formula="loss = ½ mean (same · d² + (1 − same) · max(0, margin − d)²), d = ‖a − b‖ (Euclidean)",
    ),
]
