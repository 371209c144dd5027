"""Data augmentation of a batch of images, where every field aligned with an image moves with it.

One random draw per sample is applied to the image and to each field aligned with it: a segmentation mask moves
by nearest neighbour (its classes are never blended), a dense target (an autoencoder's target image) gets the same
geometric and colour transform. Noise and erasing corrupt the network's input only: the clean image stays the
target. Everything runs batched on the batch's device, drawn from a torch.Generator (the same seed, the same batch).

    flip, vflip        mirror left-right / upside down                  (strength: the probability, 0.5)
    crop=4             pad by N pixels, cut a random window of the size (a shift of up to N pixels each way)
    translate=0.1      shift by up to this fraction of the size, in whole pixels
    rotate=15          rotate by up to this many degrees either way
    scale=0.1          zoom by a factor in 1 +- this
    brightness=0.2     multiply by a factor in 1 +- this
    contrast=0.2       stretch around the image's mean grey by a factor in 1 +- this
    colour=0.2         saturation by a factor in 1 +- this and hue by up to a quarter of it (3-channel images)
    noise=0.1          add Gaussian noise of this std (in the units the network receives: normalized ones)
    erase=0.2          erase a box of this fraction of the height and width (cut-out), filled with the mean

Written `flip,rotate=15,brightness=0.2`; a probability or another option after a colon: `rotate=15:p=0.5`,
`colour=0.3:hue=0.05`. Geometric and colour steps work on raw pixel values (images in 0..1): give the
normalization's mean and std when the batch is normalized. This file imports only torch: netbuilder copies it
beside the training scripts and the PyTorch code it writes, so they augment exactly as netbuilder does.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# name -> (what the strength is, its default, lowest, highest, default probability, geometric | colour | corrupt)
KINDS = {
    "flip": ("p", 0.5, 0.0, 1.0, None, "geometric"),
    "vflip": ("p", 0.5, 0.0, 1.0, None, "geometric"),
    "crop": ("padding", 4, 1, 256, 1.0, "geometric"),
    "translate": ("fraction", 0.1, 0.0, 0.5, 1.0, "geometric"),
    "rotate": ("degrees", 15.0, 0.0, 180.0, 1.0, "geometric"),
    "scale": ("range", 0.1, 0.0, 0.9, 1.0, "geometric"),
    "brightness": ("amount", 0.2, 0.0, 1.0, 1.0, "colour"),
    "contrast": ("amount", 0.2, 0.0, 1.0, 1.0, "colour"),
    "colour": ("amount", 0.2, 0.0, 1.0, 1.0, "colour"),
    "noise": ("std", 0.1, 0.0, 10.0, 1.0, "corrupt"),
    "erase": ("size", 0.2, 0.0, 1.0, 0.5, "corrupt"),
}
EXTRA = {"colour": {"hue": (0.0, 0.5)}}  # options besides the strength and p: name -> (lowest, highest)
ALIASES = {"hflip": "flip", "color": "colour", "cutout": "erase"}
GREY = (0.299, 0.587, 0.114)  # luma weights of R, G, B


class Step:
    """One augmentation: its name, strength, probability and options."""

    def __init__(self, name: str, strength=None, p=None, **options) -> None:
        name = ALIASES.get(name, name)
        if name not in KINDS:
            raise ValueError(f"unknown augmentation {str(name)[:40]!r}; use {', '.join(KINDS)}")
        key, default, low, high, default_p, self.family = KINDS[name]
        self.name = name
        self.strength = _number(name, key, default if strength is None else strength, low, high, key == "padding")
        self.p = self.strength if key == "p" else _number(name, "p", default_p if p is None else p, 0.0, 1.0)
        if key == "p" and p is not None:
            raise ValueError(f"{name}: its strength is its probability; write {name}={p}")
        allowed = EXTRA.get(name, {})
        for option in options:
            if option not in allowed:
                more = f" (it takes {', '.join(allowed)})" if allowed else ""
                raise ValueError(f"{name}: unknown option {str(option)[:40]!r}{more}")
        self.options = {k: _number(name, k, v, *allowed[k]) for k, v in options.items()}

    @property
    def hue(self) -> float:
        return self.options.get("hue", self.strength / 4)

    def text(self) -> str:
        """`rotate=20`, `erase=0.2:p=0.8`: what was not left at its default."""
        key, default, *_rest, default_p, _family = KINDS[self.name]
        parts = [self.name if self.strength == default else f"{self.name}={_plain(self.strength)}"]
        if key != "p" and self.p != default_p:
            parts.append(f"p={_plain(self.p)}")
        parts += [f"{k}={_plain(v)}" for k, v in self.options.items()]
        return ":".join(parts)

    def as_dict(self) -> dict:
        key = KINDS[self.name][0]
        return {"name": self.name, key: self.strength, **({"p": self.p} if key != "p" else {}), **self.options}


def _number(name: str, key: str, value, low: float, high: float, whole: bool = False):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name}: {key} must be a number, got {value[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: {key} must be a number, got {str(value)[:40]!r}")
    if whole and value != int(value):
        raise ValueError(f"{name}: {key} must be a whole number of pixels, got {value}")
    if not low <= value <= high:
        raise ValueError(f"{name}: {key} must be {_plain(low)}..{_plain(high)}, got {_plain(value)}")
    return int(value) if whole else float(value)


def _plain(value: float) -> str:
    return f"{value:g}"


def parse(spec) -> list[Step]:
    """`flip,rotate=15:p=0.5` or a list of such items, or of {"name": ..., <strength or option>: ...} objects."""
    if spec is None or spec == "":
        return []
    items = spec.split(",") if isinstance(spec, str) else spec
    if not isinstance(items, (list, tuple)):
        raise ValueError("augmentations are a list of names or {\"name\": ...} objects")
    steps: list[Step] = []
    for item in items:
        if isinstance(item, str):
            head, *rest = item.strip().split(":")
            name, has_strength, strength = head.strip().partition("=")
            options = {}
            for part in rest:
                key, sep, value = part.partition("=")
                if not sep:
                    raise ValueError(f"{item.strip()[:40]!r}: write options as key=value, e.g. rotate=15:p=0.5")
                options[key.strip()] = value.strip()
            step = Step(name.strip(), strength if has_strength else None, **options)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            values = {k: v for k, v in item.items() if k != "name"}
            key = KINDS.get(ALIASES.get(item["name"], item["name"]), ("strength",))[0]
            strength = values.pop(key, values.pop("strength", None))
            if key == "p" and "p" in values:
                strength = values.pop("p")
            step = Step(item["name"], strength, **values)
        else:
            raise ValueError(f"an augmentation must be a name or a {{\"name\": ...}} object, got {str(item)[:40]!r}")
        if any(s.name == step.name for s in steps):
            raise ValueError(f"{step.name} is given twice")
        steps.append(step)
    return steps


def text(steps: list[Step]) -> str:
    return ",".join(step.text() for step in steps)


class Augmentation:
    """A parsed list of steps, applied to batches: `Augmentation("flip,rotate=15")(images, masks)`."""

    def __init__(self, spec) -> None:
        self.steps = parse(spec) if not (isinstance(spec, list) and all(isinstance(s, Step) for s in spec)) else spec
        self.by_name = {step.name: step for step in self.steps}

    def has(self, family: str) -> bool:
        return any(step.family == family for step in self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)

    # ----- the random draw: every random number of a batch, in a fixed order

    def draw(self, n: int, height: int, width: int, device, generator: torch.Generator | None = None) -> dict:
        """Per sample: the affine map that samples the moved image (theta, for affine_grid), the colour factors and
        matrices, and which samples get noise or an erased box."""
        kw = {"device": device, "generator": generator}

        def uniform(low, high):
            return low + (high - low) * torch.rand(n, **kw)

        def chosen(step):
            return torch.rand(n, **kw) < step.p

        out: dict = {"size": (height, width)}
        s = self.by_name
        if self.has("geometric"):
            one = torch.ones(n, device=device)
            fx = torch.where(chosen(s["flip"]), -one, one) if "flip" in s else one
            fy = torch.where(chosen(s["vflip"]), -one, one) if "vflip" in s else one
            tx, ty = torch.zeros(n, device=device), torch.zeros(n, device=device)
            if "crop" in s:  # pad by N and cut a window: a shift of -N..N whole pixels each way
                pad, use = s["crop"].strength, chosen(s["crop"])
                tx = tx + torch.where(use, torch.randint(-pad, pad + 1, (n,), **kw), 0)
                ty = ty + torch.where(use, torch.randint(-pad, pad + 1, (n,), **kw), 0)
            if "translate" in s:
                f, use = s["translate"].strength, chosen(s["translate"])
                tx = tx + torch.where(use, uniform(-f * width, f * width).round(), 0)
                ty = ty + torch.where(use, uniform(-f * height, f * height).round(), 0)
            angle = torch.zeros(n, device=device)
            if "rotate" in s:
                d, use = s["rotate"].strength, chosen(s["rotate"])
                angle = torch.where(use, uniform(-d, d), 0) * (math.pi / 180)
            zoom = one
            if "scale" in s:
                r, use = s["scale"].strength, chosen(s["scale"])
                zoom = torch.where(use, uniform(1 - r, 1 + r), 1)
            # output pixel q (centred pixel units) samples the input at p = F S^-1 R^-1 (q - t)
            cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
            a = torch.stack([torch.stack([fx * cos, fx * sin], 1), torch.stack([-fy * sin, fy * cos], 1)], 1)
            t = torch.stack([tx, ty], 1).float()
            b = -(a @ t[:, :, None])[:, :, 0]
            # in affine_grid's normalized units (-1..1 across the image): D^-1 A D, D^-1 b, D = diag(W/2, H/2)
            half = torch.tensor([width / 2, height / 2], device=device)
            a = a * half[None, None, :] / half[None, :, None]
            out["theta"] = torch.cat([a, (b / half)[:, :, None]], 2)
        if self.has("colour"):
            out["brightness"] = self._factor("brightness", n, kw, chosen, uniform)
            out["contrast"] = self._factor("contrast", n, kw, chosen, uniform)
            if "colour" in s:
                step = s["colour"]
                use = chosen(step)
                saturation = torch.where(use, uniform(1 - step.strength, 1 + step.strength), 1)
                hue = torch.where(use, uniform(-step.hue, step.hue), 0) * (2 * math.pi)
                out["colour"] = _colour_matrix(saturation, hue)
        if "noise" in s:
            out["noise"] = torch.where(chosen(s["noise"]), s["noise"].strength, 0.0)
            out["noise_seed"] = int(torch.randint(0, 2**62, (1,), **kw))
        if "erase" in s:
            step = s["erase"]
            use = chosen(step)
            box_h, box_w = max(1, round(step.strength * height)), max(1, round(step.strength * width))
            cy, cx = uniform(0, height).floor(), uniform(0, width).floor()
            out["erase"] = (use, (cy - box_h // 2), (cx - box_w // 2), box_h, box_w)
        return out

    def _factor(self, name, n, kw, chosen, uniform):
        if name not in self.by_name:
            return None
        step = self.by_name[name]
        return torch.where(chosen(step), uniform(1 - step.strength, 1 + step.strength), 1)

    # ----- applying a draw

    def move(self, values: torch.Tensor, draw: dict, nearest: bool = False) -> torch.Tensor:
        """The geometric steps of a draw on N x C x H x W values (or an N x H x W mask of classes, by nearest
        neighbour); what moves in from outside is 0 (black; class 0, the background)."""
        if "theta" not in draw:
            return values
        flat = values.dim() == 3
        x = values[:, None] if flat else values
        n, c, h, w = x.shape
        grid = draw.get("grid")
        if grid is None or grid.shape[1:3] != (h, w):  # one sampling grid per draw, for the image and its fields
            grid = draw["grid"] = _affine_grid(draw["theta"], h, w)
        if nearest or not values.is_floating_point():  # by index: each output pixel takes its nearest source pixel
            size = torch.tensor([w, h], device=grid.device, dtype=grid.dtype)
            pixel = (((grid + 1) * size - 1) / 2).round().long()
            col, row = pixel[..., 0], pixel[..., 1]
            inside = (pixel >= 0).all(-1) & (col < w) & (row < h)
            index = (row.clamp(0, h - 1) * w + col.clamp(0, w - 1)).reshape(n, 1, h * w).expand(n, c, h * w)
            moved = x.reshape(n, c, h * w).gather(2, index).reshape(n, c, h, w)
            moved = torch.where(inside[:, None], moved, torch.zeros((), dtype=x.dtype, device=x.device))
        else:
            moved = F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
        return moved[:, 0] if flat else moved

    def recolour(self, images: torch.Tensor, draw: dict) -> torch.Tensor:
        """The colour steps of a draw on N x C x H x W images in raw units (brightness, contrast; saturation and hue
        on 3 channels)."""
        x = images
        if draw.get("brightness") is not None:
            x = x * draw["brightness"].to(x.dtype)[:, None, None, None]
        if draw.get("contrast") is not None:
            grey = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
            factor = draw["contrast"].to(x.dtype)[:, None, None, None]
            x = (x - grey) * factor + grey
        if draw.get("colour") is not None:
            if x.shape[1] != 3:
                raise ValueError(f"colour (saturation and hue) needs 3-channel images, not {x.shape[1]}")
            x = torch.einsum("nij,njhw->nihw", draw["colour"].to(x.dtype), x)
        return x

    def corrupt(self, images: torch.Tensor, draw: dict, fill=0.0, std=1.0) -> torch.Tensor:
        """Noise (std in units of `std`: 1 for normalized images) and an erased box (filled with `fill`, the
        mean) on the network's input; N x ... (noise) or N x C x H x W (erase)."""
        x = images
        if "noise" in draw:
            generator = torch.Generator(device=x.device).manual_seed(draw["noise_seed"])
            noise = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
            scale = draw["noise"].to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
            x = x + noise * scale * (std if torch.is_tensor(std) else float(std))
        if "erase" in draw:
            use, top, left, box_h, box_w = draw["erase"]
            height, width = x.shape[-2:]
            rows = torch.arange(height, device=x.device)[None, :, None]
            cols = torch.arange(width, device=x.device)[None, None, :]
            top, left = top[:, None, None], left[:, None, None]  # the box's rows (N x H x 1) by its columns (N x 1 x W)
            box = (((rows >= top) & (rows < top + box_h) & use[:, None, None])
                   & ((cols >= left) & (cols < left + box_w)))
            fill = fill if torch.is_tensor(fill) else torch.tensor(float(fill), device=x.device)
            x = torch.where(box[:, None], fill.to(x.dtype), x)
        return x

    def images(self, images: torch.Tensor, draw: dict, mean=None, std=None,
               normalized: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(clean, corrupted) images: moved and recoloured; then with noise and erasing. `mean`, `std` (per channel,
        shaped C x 1 x 1): the images' normalization; `normalized`: whether the images come normalized (else raw, as
        a script's model that normalizes inside takes them)."""
        known = mean is not None and std is not None
        raw = images * std + mean if known and normalized else images
        raw = self.recolour(self.move(raw, draw), draw)
        clean = (raw - mean) / std if known and normalized else raw
        if not self.has("corrupt"):
            return clean, clean
        if known and not normalized:  # noise in normalized units, erased boxes filled with the mean
            return clean, self.corrupt(clean, draw, fill=mean, std=std)
        return clean, self.corrupt(clean, draw)

    def __call__(self, images: torch.Tensor, *aligned: torch.Tensor, generator: torch.Generator | None = None,
                 mean=None, std=None, normalized: bool = False):
        """Augment a batch of images (N x C x H x W, raw unless `normalized`) and the fields aligned with them (masks
        N x H x W of classes, dense targets N x C x H x W); returns the corrupted images (and the moved fields: a
        dense target gets the clean images' colour steps when it has their channels)."""
        if not self.steps:
            return (images, *aligned) if aligned else images
        if (self.has("geometric") or self.has("colour") or "erase" in self.by_name) and images.dim() != 4:
            raise ValueError(f"images must be N x C x H x W, not {tuple(images.shape)}")
        height, width = images.shape[-2:] if images.dim() == 4 else (1, 1)
        draw = self.draw(len(images), height, width, images.device, generator)
        _clean, corrupted = self.images(images, draw, mean, std, normalized)
        moved = [self.dense(a, draw, images.shape[1]) for a in aligned]
        return (corrupted, *moved) if aligned else corrupted

    def dense(self, values: torch.Tensor, draw: dict, channels: int) -> torch.Tensor:
        """A field aligned with the images: a mask moved by nearest neighbour, a dense target moved and (with the
        images' channels) recoloured."""
        if not values.is_floating_point():
            return self.move(values, draw)
        moved = self.move(values, draw)
        return self.recolour(moved, draw) if values.shape[1] == channels else moved


def _affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """F.affine_grid(theta, [N, 1, H, W], align_corners=False), computed elementwise: affine_grid multiplies
    every pixel's coordinates by its 2 x 3 matrix as a batch of tiny matrix products, several times slower
    on a CPU than these six multiply-adds a pixel."""
    kw = dict(device=theta.device, dtype=theta.dtype)
    xs = (torch.arange(width, **kw) * 2 + 1) / width - 1  # pixel centres, -1..1 across the image
    ys = ((torch.arange(height, **kw) * 2 + 1) / height - 1)[:, None]
    t = theta[:, :, :, None, None]  # N x 2 x 3 x 1 x 1
    grid = t[:, :, 0] * xs + t[:, :, 1] * ys + t[:, :, 2]  # N x 2 x H x W
    return grid.permute(0, 2, 3, 1).contiguous()


def _grey(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
    weights = torch.tensor(GREY, device=x.device, dtype=x.dtype)
    return (x * weights[None, :, None, None]).sum(dim=1, keepdim=True)


def _colour_matrix(saturation: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """Per sample, the 3 x 3 matrix that scales saturation (towards or away from the grey of each pixel) and turns
    the hue by an angle (a rotation of the YIQ chroma plane)."""
    device = saturation.device
    grey = torch.tensor(GREY, device=device)
    eye = torch.eye(3, device=device)
    sat = saturation[:, None, None] * eye + (1 - saturation)[:, None, None] * grey[None, None, :].expand(1, 3, 3)
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], device=device)
    cos, sin = torch.cos(hue), torch.sin(hue)
    turn = torch.zeros(len(hue), 3, 3, device=device)
    turn[:, 0, 0] = 1
    turn[:, 1, 1], turn[:, 1, 2], turn[:, 2, 1], turn[:, 2, 2] = cos, -sin, sin, cos
    return torch.linalg.inv(to_yiq) @ turn @ to_yiq @ sat
