"""Random augmentation of a training batch, on whatever device the batch is on."""
from __future__ import annotations

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("flip", "crop", "noise")
CROP_PADDING = 4
NOISE_STD = 0.1  # in normalized units


def augment(x: torch.Tensor, kinds: list[str] | tuple[str, ...]) -> torch.Tensor:
    """flip: mirror half the images left-right; crop: pad by 4 and cut a random window of the original
    size; noise: add Gaussian noise. flip and crop apply to images only."""
    if x.dim() == 4 and "flip" in kinds:
        mirror = torch.rand(len(x), device=x.device) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    if x.dim() == 4 and "crop" in kinds:
        n, c, h, w = x.shape
        padded = F.pad(x, (CROP_PADDING,) * 4)
        dy = torch.randint(0, 2 * CROP_PADDING + 1, (n,), device=x.device)
        dx = torch.randint(0, 2 * CROP_PADDING + 1, (n,), device=x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None].expand(n, c, h, w + 2 * CROP_PADDING)
        x = padded.gather(2, rows)
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :].expand(n, c, h, w)
        x = x.gather(3, cols)
    if "noise" in kinds and x.is_floating_point():
        x = x + NOISE_STD * torch.randn_like(x)
    return x
