"""Blocks that draw random numbers: a generator's noise, a VAE's sampling, a denoising autoencoder's
corruption. In inference and exports Noise becomes an input, Sample gives its mean, GaussianNoise passes
its input through."""
from __future__ import annotations

from .spec import Float, Ints, LayerSpec, case, format_value


def _noise(m, *refs, shape, **_params):
    """Standard normal noise, one tensor per sample: the batch size and device follow the graph's first input."""
    import torch

    if refs:  # a method of the input (not torch.randn) so that torch.fx records it with the batch size
        return refs[0].new_empty((refs[0].shape[0], *shape), dtype=torch.float32).normal_()
    return torch.randn(1, *shape)


def _sample(m, mu, logvar, **_params):
    import torch

    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def _mean(m, mu, logvar, **_params):
    return mu


def _sample_check(p: dict, shapes: list) -> str | None:
    if tuple(shapes[0]) != tuple(shapes[1]):
        return f"mu and logvar must have the same shape: mu is {shapes[0]}, logvar is {shapes[1]}"
    return None


def _gaussian_noise(m, x, std, **_params):
    import torch

    return x + std * torch.randn_like(x)


def _identity(m, x, **_params):
    return x


LAYERS = [
    LayerSpec(
        "Noise", "sampling",
        "Standard normal noise of a given shape, a new draw for every sample: a generator's input. "
        "In an export it becomes an input of the model.",
        params=(Ints("shape", [64], min=1, max=65536, help="shape of the noise per sample, e.g. 64 or 100x1x1"),),
        forward=_noise, inputs=0, role="source", prefix="noise",
        summary=lambda p: format_value(p["shape"]),
        cases=(case((), (64,)), case((), (100, 1, 1), shape=[100, 1, 1])),
        doc=("Makes a tensor of random numbers from N(0, 1) for every sample, new at each step; it takes no "
             "input, and shape sets its size (batch excluded). It is where a GAN's generator starts: DCGAN draws "
             "100x1x1 and grows it into an image with ConvTranspose2d. In an export it becomes an input of the "
             "model, so you pass your own noise to generate."),
        formula="z ~ N(0, 1), one value per entry of shape",
    ),
    LayerSpec(
        "Sample", "sampling",
        "The reparameterization trick of a VAE: z = mu + exp(logvar / 2) * eps with eps ~ N(0, 1) while "
        "training; the mean mu in inference and exports.",
        forward=_sample, infer_forward=_mean, inputs=("mu", "logvar"), check=_sample_check, prefix="sample",
        cases=(case((8,), (8,)),),
        doc=("A VAE's sampling step: takes mu and logvar (the same shape, e.g. the outputs of two Linear "
             "layers) and gives z of that shape. While training, z is mu plus random noise scaled by the "
             "standard deviation, written so that gradients still reach mu and logvar; in inference and exports"
             " it gives mu. Pair it with a KLDivergenceLoss on the same mu and logvar."),
        formula="z = mu + exp(logvar / 2) · ε, ε ~ N(0, 1) (training); z = mu (inference)",
    ),
    LayerSpec(
        "GaussianNoise", "sampling",
        "Adds Gaussian noise while training (a denoising autoencoder's corruption); passes its input through "
        "in inference and exports.",
        params=(Float("std", 0.3, 0.0, 100.0, help="standard deviation of the noise added"),),
        forward=_gaussian_noise, infer_forward=_identity, prefix="corrupt",
        summary=lambda p: f"std {p['std']:g}",
        cases=(case((1, 8, 8), (1, 8, 8)), case((16,), (16,), std=1.0)),
        doc=("While training, adds random noise of standard deviation std to every value; in inference and "
             "exports it passes its input through unchanged. The shape is kept. In a denoising autoencoder it "
             "corrupts the Input before the encoder, and an MSELoss compares the output with the clean Input."),
        formula="y = x + std · ε, ε ~ N(0, 1) (training); y = x (inference)",
    ),
]
