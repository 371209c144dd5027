"""Per-block statistics of a training run: how each block's activations, gradients and weights behave, epoch
after epoch, so that vanishing or exploding gradients and dead ReLUs show where they happen.

Every `every` batches (and the first batch of each epoch), one training step is observed: forward hooks on each
block's module record the mean and std of its output (for a ReLU also the share of samples whose outputs are
all zero); hooks on the parameters record the mean and std of their gradients as backward accumulates them;
the weights before and after the step give the norm of the update. Nothing is read back from the device until
the epoch ends (one synchronization), and the steps in between run without any hook, so the cost is that of
the observed steps alone (bench/bench_statistics.py measures it). Observing reads; it never changes a tensor.
"""
from __future__ import annotations

import math

# what is recorded per block, in words (the canvas offers to colour blocks by each)
STATISTICS = {
    "act_mean": "activation mean", "act_std": "activation std",
    "grad_mean": "gradient mean", "grad_std": "gradient std (magnitude)",
    "update_norm": "weight update norm", "update_ratio": "update / weight norm",
    "dead": "dead samples (ReLU: all outputs zero)",
}
VANISHING = 1e-4  # a block's gradient std below this share of the largest block's: its gradients vanish
DEAD = 0.5  # a ReLU whose outputs are all zero for more than this share of samples is dead
# (torch is imported where it is used: the editor reads the words above before torch has loaded)


def _tensor(value):
    import torch

    while isinstance(value, (tuple, list)):
        value = value[0] if value else None
    return value if isinstance(value, torch.Tensor) and value.is_floating_point() else None


class BlockStatistics:
    """Observes one training step in `every` on a model whose submodules are the graph's blocks."""

    def __init__(self, model, every: int) -> None:
        import torch

        self.every = max(1, int(every))
        self.modules = dict(model.named_children())
        self.params = {name: [p for p in module.parameters() if p.requires_grad]
                       for name, module in self.modules.items()}
        self.params = {name: params for name, params in self.params.items() if params}
        relus = (torch.nn.ReLU, torch.nn.ReLU6)
        self.relus = {name for name, module in self.modules.items() if isinstance(module, relus)}
        self.epochs: list[dict] = []  # per epoch: {"epoch", "observed", "blocks": {block: {statistic: value}}}
        self._handles: list = []
        self._before: dict[str, list] = {}
        self._scale = 1.0
        self._reset()

    def _reset(self) -> None:
        self._activations: dict[str, list] = {}  # per block: a tensor of statistics per forward observed
        self._gradients: dict[str, list] = {}  # per block: (tensor [sum, sum of squares], count) per parameter
        self._updates: dict[str, list] = {}  # per block: tensor [|update|^2, |weights|^2] per step observed
        self._observed = 0

    # ----- one observed step

    def wants(self, batch: int) -> bool:
        """Whether the step of this batch (0-based within the epoch) is observed."""
        return batch % self.every == 0

    def begin(self, grad_scale: float = 1.0) -> None:
        """Hooks on, and the weights as they are before the step. `grad_scale`: a loss scaler's factor (fp16)."""
        self._scale = float(grad_scale)
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._activation_hook(name)))
        for name, params in self.params.items():
            for p in params:
                self._handles.append(p.register_post_accumulate_grad_hook(self._gradient_hook(name)))
        self._before = {name: [p.detach().clone() for p in params] for name, params in self.params.items()}

    def end(self) -> None:
        """Hooks off; the update of each block's weights."""
        import torch

        for handle in self._handles:
            handle.remove()
        self._handles = []
        with torch.no_grad():
            for name, params in self.params.items():
                update = sum((p.detach() - b).float().pow(2).sum() for p, b in zip(params, self._before[name]))
                weight = sum(p.detach().float().pow(2).sum() for p in params)
                self._updates.setdefault(name, []).append(torch.stack([update, weight]))
        self._before = {}
        self._observed += 1

    def _activation_hook(self, name: str):
        dead = name in self.relus

        import torch

        def hook(module, args, output) -> None:
            x = _tensor(output)
            if x is None or x.numel() == 0:
                return
            x = x.detach().float()
            values = [x.mean(), x.std() if x.numel() > 1 else torch.zeros((), device=x.device)]
            if dead:
                values.append((x.reshape(len(x), -1) == 0).all(1).float().mean())
            self._activations.setdefault(name, []).append(torch.stack(values))

        return hook

    def _gradient_hook(self, name: str):
        import torch

        def hook(param) -> None:
            if param.grad is not None:
                g = param.grad.detach().float() / self._scale
                self._gradients.setdefault(name, []).append((torch.stack([g.sum(), g.pow(2).sum()]), g.numel()))

        return hook

    # ----- the epoch's record

    def end_epoch(self, epoch: int) -> dict:
        """The epoch's statistics per block (averaged over its observed steps), kept in `epochs`."""
        import torch

        parts, layout = [], []
        for name, values in self._activations.items():
            parts.append(torch.stack(values).mean(0))
            layout.append((name, "act"))
        for name, values in self._gradients.items():
            parts.append(torch.stack([s for s, _ in values]).sum(0))
            layout.append((name, "grad"))
        for name, values in self._updates.items():
            parts.append(torch.stack(values).mean(0))
            layout.append((name, "update"))
        numbers = torch.cat([p.reshape(-1).cpu() for p in parts]).tolist() if parts else []  # one synchronization
        blocks: dict[str, dict[str, float]] = {}
        at = 0
        for (name, kind), part in zip(layout, parts):
            values, at = numbers[at:at + part.numel()], at + part.numel()
            entry = blocks.setdefault(name, {})
            if kind == "act":
                entry["act_mean"], entry["act_std"] = values[0], values[1]
                if len(values) > 2:
                    entry["dead"] = values[2]
            elif kind == "grad":
                count = sum(n for _, n in self._gradients[name])
                mean = values[0] / count
                entry["grad_mean"] = mean
                entry["grad_std"] = math.sqrt(max(values[1] / count - mean * mean, 0.0))
            else:
                update, weight = math.sqrt(values[0]), math.sqrt(values[1])
                entry["update_norm"] = update
                entry["update_ratio"] = update / weight if weight > 0 else 0.0
        for name in self.params:  # a block whose step saw no gradient at all (its outputs feed nothing alive)
            blocks.setdefault(name, {}).setdefault("grad_std", 0.0)
            blocks[name].setdefault("grad_mean", 0.0)
        record = {"epoch": epoch, "observed": self._observed,
                  "blocks": {name: blocks[name] for name in self.modules if name in blocks}}
        self.epochs.append(record)
        self._reset()
        return record


def statistics_warnings(record: dict | None) -> list[str]:
    """Sentences naming the blocks whose gradients vanish (or are zero) and the ReLUs that are dead, from one
    epoch's record."""
    if not record:
        return []
    blocks = record["blocks"]
    warnings = []
    for name, entry in blocks.items():
        if entry.get("dead", 0.0) > DEAD:
            warnings.append(f"{name}: its outputs are all zero for {entry['dead']:.0%} of samples (a dead ReLU): "
                            "no gradient flows back through it; try a smaller learning rate, another "
                            "initialization or LeakyReLU")
    grads = {name: entry["grad_std"] for name, entry in blocks.items() if "grad_std" in entry}
    if grads:
        top_name = max(grads, key=grads.get)
        top = grads[top_name]
        zero = [name for name, g in grads.items() if g == 0.0]
        vanishing = [name for name, g in grads.items() if 0.0 < g < VANISHING * top]
        if zero:
            warnings.append(f"{_names(zero)}: {'receives' if len(zero) == 1 else 'receive'} no gradient at all "
                            f"({'its' if len(zero) == 1 else 'their'} weights do not learn)")
        if vanishing:
            low = min(grads[n] for n in vanishing)
            high = max(grads[n] for n in vanishing)
            spread = f"std {low:.1e}" if len(vanishing) == 1 else f"std {low:.1e} to {high:.1e}"
            one = len(vanishing) == 1
            warnings.append(f"{_names(vanishing)}: {'its' if one else 'their'} gradients vanish ({spread}, at most "
                            f"{high / top:.0e} of {top_name}'s): {'it barely learns' if one else 'they barely learn'}; "
                            "try ReLU, BatchNorm, residual connections or He initialization")
    return warnings


def _names(names: list[str], most: int = 6) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
