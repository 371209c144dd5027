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
    noise=0.1          add Gaussian noise of this std (in the units the network receives: normalized ones;
                       a window of a table of Gaussian values, at a random offset per batch)
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
NOISE_TABLE, NOISE_TABLE_SEED = 1 << 22, 20261204  # Gaussian values the noise step takes its batches' from
_TABLES: dict = {}  # (device, dtype) -> the table
_CENTRES: dict = {}  # (height, width, device, dtype) -> pixel centres (sampling grid)


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
        self._plans: dict = {}  # (height, width, device) -> what the draw needs besides random numbers

    def has(self, family: str) -> bool:
        return any(step.family == family for step in self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)

    # ----- the random draw: every random number of a batch, in a fixed order

    def draw(self, n: int, height: int, width: int, device, generator: torch.Generator | None = None) -> dict:
        """Per sample: the affine map that samples the moved image (theta, for affine_grid), the colour factors and
        matrices, and which samples get noise or an erased box. Every uniform number of the batch comes from one
        torch.rand call, a row per use, and every step's values from the same few operations on all the rows
        (the draw is a few dozen small operations, not a hundred)."""
        s = self.by_name
        plan = self._plan(height, width, device)
        k = len(self.steps)
        u = torch.rand(k + len(plan["rows"]), n, device=device, generator=generator)
        use = (u[:k] < plan["chance"]).to(u.dtype)  # 1 where a step applies, a row per step
        values = torch.addcmul(plan["low"], u[k:], plan["span"])  # each row uniform in its range
        values = torch.where(plan["whole"], values.floor(), values)  # whole pixels
        values = torch.addcmul(plan["base"], values, use[plan["owner"]])  # a step that does not apply: 0, or 1

        value_rows, use_rows = values.unbind(0), use.unbind(0)

        def row(name: str, i: int = 0) -> torch.Tensor:
            return value_rows[plan["rows"][(name, i)]]

        def applies(name: str) -> torch.Tensor:
            return use_rows[plan["step"][name]]

        out: dict = {"size": (height, width)}
        if self.has("geometric"):
            fx = 1 - 2 * applies("flip") if "flip" in s else 1.0
            fy = 1 - 2 * applies("vflip") if "vflip" in s else 1.0
            tx = ty = 0.0  # in whole pixels
            for name in ("crop", "translate"):  # crop: pad by N, cut a window: a shift of -N..N pixels each way
                if name in s:
                    tx, ty = tx + row(name, 0), ty + row(name, 1)
            zoom = row("scale") if "scale" in s else None
            if "rotate" in s:
                cos, sin = torch.cos(row("rotate")), torch.sin(row("rotate"))
                if zoom is not None:
                    cos, sin = cos / zoom, sin / zoom
            else:
                cos = 1 / zoom if zoom is not None else torch.ones(n, device=device)
                sin = torch.zeros(n, device=device)
            # output pixel q (centred pixel units) samples the input at p = F S^-1 R^-1 (q - t): p = A q + b with
            # A = [[fx cos, fx sin], [-fy sin, fy cos]], b = -A t
            a00, a01, a10, a11 = fx * cos, fx * sin, -fy * sin, fy * cos
            b0, b1 = -(a00 * tx + a01 * ty), -(a10 * tx + a11 * ty)
            # in affine_grid's normalized units (-1..1 across the image): D^-1 A D, D^-1 b, D = diag(W/2, H/2)
            out["theta"] = torch.stack([a00, a01 * (height / width), b0 * (2 / width),
                                        a10 * (width / height), a11, b1 * (2 / height)], 1).reshape(n, 2, 3)
        if self.has("colour"):
            out["brightness"] = row("brightness") if "brightness" in s else None
            out["contrast"] = row("contrast") if "contrast" in s else None
            if "colour" in s:
                out["colour"] = _colour_matrix(row("colour", 0), row("colour", 1))
        if "noise" in s:
            out["noise"] = applies("noise") * s["noise"].strength
            out["noise_seed"] = int(torch.randint(0, 2**62, (1,), device=device, generator=generator))
        if "erase" in s:
            box_h, box_w = plan["box"]
            out["erase"] = (applies("erase") > 0, row("erase", 0) - box_h // 2, row("erase", 1) - box_w // 2,
                            box_h, box_w)
        return out

    def _plan(self, height: int, width: int, device) -> dict:
        """What the draw needs besides random numbers, made once per image size and device: per value row its
        range (low, span), whether it is whole, the step it belongs to and its value when the step does not apply
        (base: 1 for a factor); each step's probability."""
        key = (height, width, str(device))
        if key in self._plans:
            return self._plans[key]
        s = self.by_name
        rows: dict = {}
        low, span, whole, owner, base = [], [], [], [], []

        def add(name: str, lowest: float, size: float, is_whole: bool = False, factor: bool = False) -> None:
            rows[(name, sum(1 for r in rows if r[0] == name))] = len(low)
            low.append(lowest)
            span.append(size)
            whole.append(is_whole)
            owner.append(step_of[name])
            base.append(1.0 if factor else 0.0)

        step_of = {step.name: i for i, step in enumerate(self.steps)}
        if "crop" in s:  # -N..N whole pixels: floor of a uniform number in -N..N+1
            pad = s["crop"].strength
            add("crop", -pad, 2 * pad + 1, True)
            add("crop", -pad, 2 * pad + 1, True)
        if "translate" in s:  # -fW..fW rounded to whole pixels: floor of one in -fW+0.5..fW+0.5
            f = s["translate"].strength
            add("translate", 0.5 - f * width, 2 * f * width, True)
            add("translate", 0.5 - f * height, 2 * f * height, True)
        if "rotate" in s:
            d = s["rotate"].strength * math.pi / 180
            add("rotate", -d, 2 * d)
        for name in ("scale", "brightness", "contrast"):
            if name in s:
                r = s[name].strength
                add(name, -r, 2 * r, factor=True)
        if "colour" in s:
            step = s["colour"]
            add("colour", -step.strength, 2 * step.strength, factor=True)  # saturation
            add("colour", -step.hue * 2 * math.pi, step.hue * 4 * math.pi)  # hue, an angle
        if "erase" in s:  # the box's centre, a whole pixel
            add("erase", 0, height, True)
            add("erase", 0, width, True)
            step = s["erase"]
            box = (max(1, round(step.strength * height)), max(1, round(step.strength * width)))
        else:
            box = None

        def column(values, dtype=torch.float32):
            return torch.tensor(values, dtype=dtype, device=device).reshape(-1, 1)

        plan = {"rows": rows, "step": step_of, "low": column(low), "span": column(span),
                "whole": column(whole, torch.bool), "base": column(base),
                "owner": torch.tensor(owner, dtype=torch.long, device=device),
                "chance": column([step.p for step in self.steps]), "box": box}
        self._plans[key] = plan
        return plan

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
        exact = values.is_floating_point() or values.dtype in (torch.uint8, torch.int8, torch.int16, torch.bool) or \
            x.numel() == 0 or bool(x.abs().max() < 2**24)  # values a float32 holds exactly
        if (nearest or not values.is_floating_point()) and exact:  # each output pixel takes its nearest source pixel
            as_float = x if x.dtype in (torch.float32, torch.float64) else x.float()
            moved = F.grid_sample(as_float, grid.to(as_float.dtype), mode="nearest", padding_mode="zeros",
                                  align_corners=False).to(values.dtype)
        elif nearest or not values.is_floating_point():  # by index, for whole numbers past float32's: slower
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
        scale, shift = self._levels(images, draw)
        x = images if scale is None else torch.addcmul(shift, images, scale)
        if draw.get("colour") is not None:
            if x.shape[1] != 3:
                raise ValueError(f"colour (saturation and hue) needs 3-channel images, not {x.shape[1]}")
            x = torch.einsum("nij,njhw->nihw", draw["colour"].to(x.dtype), x)
        return x

    def _levels(self, x: torch.Tensor, draw: dict):
        """Brightness b then contrast c around the mean grey g of the brightened image, as one map per sample:
        c (b x - b g0) + b g0 = (b c) x + b g0 (1 - c), g0 the image's mean grey. (scale, shift), N x 1 x 1 x 1,
        or (None, None) when the draw has neither."""
        brightness, contrast = draw.get("brightness"), draw.get("contrast")
        if brightness is None and contrast is None:
            return None, None
        scale = brightness.to(x.dtype) if brightness is not None else torch.ones(len(x), device=x.device,
                                                                                  dtype=x.dtype)
        shift = torch.zeros((), device=x.device, dtype=x.dtype)
        if contrast is not None:
            factor = contrast.to(x.dtype)
            shift = scale * _grey(x).mean(dim=(1, 2, 3)) * (1 - factor)
            scale = scale * factor
        shape = (-1, 1, 1, 1)
        return scale.reshape(shape), (shift.reshape(shape) if shift.dim() else shift)

    def corrupt(self, images: torch.Tensor, draw: dict, fill=0.0, std=1.0) -> torch.Tensor:
        """Noise (std in units of `std`: 1 for normalized images) and an erased box (filled with `fill`, the
        mean) on the network's input; N x ... (noise) or N x C x H x W (erase)."""
        x = images
        if "noise" in draw:
            noise = _gaussian(x.shape, x.device, x.dtype, draw["noise_seed"])
            scale = draw["noise"].to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
            x = torch.addcmul(x, noise, scale * std if torch.is_tensor(std) else scale * float(std))
        if "erase" in draw:
            use, top, left, box_h, box_w = draw["erase"]
            height, width = x.shape[-2:]
            rows = torch.arange(height, device=x.device)[None, :]
            cols = torch.arange(width, device=x.device)[None, :]
            # the box's rows (N x H) by its columns (N x W), on the samples it applies to
            inside_rows = (rows >= top[:, None]) & (rows < (top + box_h)[:, None]) & use[:, None]
            inside_cols = (cols >= left[:, None]) & (cols < (left + box_w)[:, None])
            box = inside_rows[:, :, None] & inside_cols[:, None, :]
            fill = fill if torch.is_tensor(fill) else torch.tensor(float(fill), device=x.device)
            x = torch.where(box[:, None], fill.to(x.dtype), x)
        return x

    def images(self, images: torch.Tensor, draw: dict, mean=None, std=None,
               normalized: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(clean, corrupted) images: moved and recoloured; then with noise and erasing. `mean`, `std` (per channel,
        shaped C x 1 x 1): the images' normalization; `normalized`: whether the images come normalized (else raw, as
        a script's model that normalizes inside takes them)."""
        known = mean is not None and std is not None
        both = known and normalized
        raw = torch.addcmul(mean, images, std) if both else images
        moved = self.move(raw, draw)
        if both and draw.get("colour") is None:  # levels and normalization as one map per sample and channel
            scale, shift = self._levels(moved, draw)
            if scale is None:
                clean = (moved - mean) / std
            else:
                clean = torch.addcmul((shift - mean) / std, moved, scale / std)
        else:
            recoloured = self.recolour(moved, draw)
            clean = (recoloured - mean) / std if both else recoloured
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
    on a CPU than these multiply-adds. What varies down a column is made small (N x 2 x H x 1), what varies along
    a row added in one pass; the grid is handed over as a view in grid_sample's layout (it reads any strides), not
    copied into it."""
    xs, ys = _centres(height, width, theta.device, theta.dtype)
    t = theta[:, :, :, None, None]  # N x 2 x 3 x 1 x 1
    grid = torch.addcmul(torch.addcmul(t[:, :, 2], t[:, :, 1], ys), t[:, :, 0], xs)  # N x 2 x H x W
    return grid.permute(0, 2, 3, 1)


def _centres(height: int, width: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The pixel centres, -1..1 across the image: along a row (W) and down a column (H x 1); made once per size."""
    key = (height, width, str(device), dtype)
    if key not in _CENTRES:
        kw = {"device": device, "dtype": dtype}
        _CENTRES[key] = ((torch.arange(width, **kw) * 2 + 1) / width - 1,
                         ((torch.arange(height, **kw) * 2 + 1) / height - 1)[:, None])
    return _CENTRES[key]


def _gaussian(shape, device, dtype, seed: int) -> torch.Tensor:
    """Standard normal values for a batch: a window, at an offset made from `seed`, of a table of NOISE_TABLE values
    drawn once per process and device from a fixed seed, as OpenAI's evolution strategies take theirs (the table's
    values are independent, so are a batch's; drawing 78,400 fresh ones costs a CPU a third of a millisecond, a
    third of every augmentation step at once). A batch larger than half the table draws fresh ones."""
    count = math.prod(shape)
    if count > NOISE_TABLE // 2:
        generator = torch.Generator(device=device).manual_seed(seed)
        return torch.randn(shape, device=device, dtype=dtype, generator=generator)
    key = (str(device), dtype)
    table = _TABLES.get(key)
    if table is None:
        generator = torch.Generator(device=device).manual_seed(NOISE_TABLE_SEED)
        table = _TABLES[key] = torch.randn(NOISE_TABLE, device=device, generator=generator).to(dtype)
    offset = seed % (NOISE_TABLE - count + 1)
    return table[offset:offset + count].view(shape)


def _grey(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
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
