"""The memory plan of a training run: measured on the meta device, with the largest batch that fits.

    plan, available, largest = plan_training(graph, 64, TrainConfig(), "cpu")
    check_training_fits(graph, 64, TrainConfig(), what="training")   # MemoryGuardError if it cannot

Training is measured by running two training steps of the network, as the Trainer runs them (forward,
gradients set to none, backward, optimizer step), on torch's meta device: tensors there have shapes but no
memory, and a dispatch mode adds up the bytes of every tensor alive after each operation. That gives the
weights, their gradients, the optimizer's state and the peak of what a step holds besides (the activations
saved for the backward pass, gradients on their way through, the optimizer's temporaries); two batch sizes
give the bytes each sample adds, and so the largest batch that fits. Where the meta device cannot run a network,
the figures are estimated from the shapes (core/checks/memory.py).
"""
from __future__ import annotations

from ..base.system import available_bytes, format_bytes, holder
from ..checks.memory import FLOAT_BYTES, HEADROOM, MemoryPlan, check_fits, estimate

OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "sgd": 0}  # tensors per weight; the others keep one (momentum, ...)


def training_plan(graph, batch_size: int, config, *, report=None, device=None) -> MemoryPlan:
    """Training `graph` with batches of `batch_size` and `config`'s optimizer (a TrainConfig, or an optimizer's
    name): measured on the meta device, else estimated from the shapes."""
    name = config if isinstance(config, str) else config.optimizer
    return (trace_training(graph, batch_size, config, report=report, device=device)
            or estimate(graph, batch_size, training=True, optimizer_slots=OPTIMIZER_SLOTS.get(name, 1), report=report))


def check_training_fits(graph, batch_size: int, config, *, what: str = "training", report=None,
                        available: int | None = None, device=None) -> MemoryPlan:
    """The training plan, or MemoryGuardError when it needs more than the machine (or `device`) has available."""
    plan = training_plan(graph, batch_size, config, report=report, device=device)
    return check_fits(graph, batch_size, what=what, training=True, available=available, device=device, plan=plan)


def plan_training(graph, batch_size: int, config=None, device: str = "cpu", *, report=None,
                  data_bytes: int = 0):
    """(plan, available bytes or None, the largest batch that fits or None) for training `graph` with batches of
    `batch_size` on `device` (a TrainConfig gives the optimizer; `data_bytes`: the dataset, when it is held on that
    device). What `netbuilder plan` prints and the training panel shows before Start."""
    from dataclasses import replace

    from .config import TrainConfig

    config = config or TrainConfig()
    plan = training_plan(graph, batch_size, config, report=report, device=device)
    if data_bytes:
        plan = replace(plan, data=int(data_bytes))
    available = available_bytes(device)
    return plan, available, plan.largest_batch(available)


def plan_lines(plan: MemoryPlan, available: int | None, largest: int | None, device: str = "cpu",
               optimizer: str | None = None) -> list[str]:
    """The plan in lines a person reads: the total, each part, and what the device has."""
    how = "measured on the meta device" if plan.measured else "estimated from the shapes"
    rows = [("weights", plan.weights, ""), ("gradients", plan.gradients, ""),
            ("optimizer state", plan.optimizer, f"({optimizer})" if optimizer else ""),
            ("activations", plan.activations,
             f"(batch of {plan.batch_size:,}" + (f"; {format_bytes(plan.per_sample)} a sample)" if plan.per_sample
                                                 else ")"))]
    if plan.data:
        rows.append(("dataset", plan.data, f"(held on {device})"))
    lines = [f"training with batches of {plan.batch_size:,} on {device} needs about {format_bytes(plan.total)} "
             f"({how}):"]
    lines += [f"  {name:<16} {format_bytes(size):>10}  {note}".rstrip() for name, size, note in rows]
    where = holder(device)
    if available is None:
        lines.append(f"{where} no figure for its free memory")
    else:
        fits = "fits" if plan.total <= HEADROOM * available else "does NOT fit"
        most = f"; batches of up to {largest:,} fit" if largest is not None else ""
        lines.append(f"{where} {format_bytes(available)} of memory available: this {fits}{most}")
    return lines


def trace_training(graph, batch_size: int, optimizer="adam", *, report=None, device=None) -> MemoryPlan | None:
    """The memory of training steps measured on the meta device at `batch_size` and at a second batch size (for
    the bytes per sample); `optimizer` is a name or a TrainConfig; on the CPU, recurrent layers add what oneDNN
    keeps beyond what the meta device shows (see _recurrent_extra). None when the meta device cannot run this
    network (the caller then estimates from shapes)."""
    try:
        import torch  # noqa: F401

        first = _trace_step(graph, batch_size, optimizer, report)
        other_size = batch_size // 2 if batch_size >= 4 else batch_size * 2
        second = _trace_step(graph, other_size, optimizer, report)
        extra = _recurrent_extra(graph, report) if str(device or "cpu").split(":")[0] == "cpu" else 0
    except Exception:  # noqa: BLE001 - a layer without meta kernels, a batch of 1 and BatchNorm: estimate instead
        return None
    weights, gradients, state, peak = first
    per_sample = max((peak - second[3]) // (batch_size - other_size), 0) if batch_size != other_size else 0
    return MemoryPlan(weights=weights, gradients=gradients, optimizer=state, activations=peak + extra * batch_size,
                      batch_size=max(batch_size, 1), per_sample=int(per_sample + extra), measured=True)


RECURRENT_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _recurrent_extra(graph, report) -> int:
    """Bytes per sample that the graph's recurrent layers take on the CPU beyond what the meta device shows. There
    torch runs them with oneDNN, which keeps a workspace for the backward pass (measured: a step of the layer alone,
    on real tensors, at two small batches, against the same on the meta device) and uses scratch gates that it
    frees before returning (one float per gate, hidden unit, step, layer and direction)."""
    import torch

    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        return 0
    from ..checks.shapes import infer_shapes

    report = report or infer_shapes(graph)
    extra = 0
    for node in graph.nodes:
        if node.type not in RECURRENT_GATES or node.shares is not None or report.nodes[node.id].error:
            continue
        steps, features = report.nodes[node.id].inputs[0]
        p = node.params
        layer = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[node.type]
        per_sample = {}
        for device in ("meta", "cpu"):
            with torch.device(device):
                module = layer(features, p["hidden_size"], num_layers=p["num_layers"], batch_first=True,
                               bidirectional=p["bidirectional"])
            peaks = []
            for batch in (2, 4):
                x = torch.zeros(batch, steps, features, device=device)
                live = _LiveBytes({_key(t) for t in (*module.parameters(), x)})
                with live:
                    out = module(x)[0]
                    out.sum().backward()
                    del out
                module.zero_grad(set_to_none=True)
                peaks.append(live.peak)
            per_sample[device] = (peaks[1] - peaks[0]) / 2
        directions = 2 if p["bidirectional"] else 1
        scratch = RECURRENT_GATES[node.type] * p["hidden_size"] * steps * p["num_layers"] * directions * FLOAT_BYTES
        extra += max(int(per_sample["cpu"] - per_sample["meta"]), 0) + scratch
    return extra


def _trace_step(graph, batch_size: int, optimizer, report) -> tuple[int, int, int, int]:
    """(weights, gradients, optimizer state, the step's peak besides those three), in bytes, of the second of two
    training steps run as the Trainer runs them, on the meta device."""
    import torch

    from ..build.compile import compile_graph, loss_blocks
    from ..checks.shapes import infer_shapes
    from .config import TrainConfig, make_optimizer
    from .objective import build_objective

    report = report or infer_shapes(graph)
    with torch.device("meta"):
        model = compile_graph(graph, report, mode="train")
    objective = build_objective(graph, report)
    for name in objective.frozen:
        if hasattr(model, name):
            model.get_submodule(name).requires_grad_(False)
            model.get_submodule(name).eval()
    model.train()
    for name in objective.frozen:
        if hasattr(model, name):
            model.get_submodule(name).eval()
    inputs = _meta_inputs(graph, objective, batch_size, bool(loss_blocks(graph)))
    config = optimizer if isinstance(optimizer, TrainConfig) else TrainConfig(optimizer=str(optimizer))
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(trainable, config) if trainable else None
    known = {_key(t) for t in (*model.parameters(), *model.buffers(), *inputs)}
    weights = sum(_nbytes(t) for t in {_key(t): t for t in (*model.parameters(), *model.buffers())}.values())
    live = _LiveBytes(known)
    with live:
        for step in range(2):
            if step == 1:
                live.peak = live.now
            out = model(*inputs)
            total = _scalar(out)
            if opt is not None:
                opt.zero_grad(set_to_none=True)
            if total is not None and total.requires_grad:
                total.backward()
            if opt is not None:
                opt.step()
            del out, total
    gradients = sum(_nbytes(p) for p in trainable)
    state = sum(_nbytes(t) for s in (opt.state.values() if opt is not None else ()) for t in s.values()
                if isinstance(t, torch.Tensor) and t.device.type == "meta")
    return weights, gradients, state, max(live.peak - gradients - state, 0)


def _meta_inputs(graph, objective, batch_size: int, with_losses: bool) -> list:
    import torch

    dtypes = {"float32": torch.float32, "int64": torch.int64}
    names = [name for name, _ in objective.feeds] if with_losses else \
        [n.name for n in graph.nodes if n.type == "Input"][:1]
    inputs = []
    for name in names:
        p = graph.find(name).params
        inputs.append(torch.zeros((batch_size, *p["shape"]), dtype=dtypes.get(p.get("dtype"), torch.float32),
                                  device="meta"))
    return inputs


def _scalar(out):
    """What a step differentiates: the sum of the losses (loss blocks), or of the outputs (the automatic loss, whose
    own memory is a few values a sample)."""
    from torch.utils._pytree import tree_leaves

    if isinstance(out, dict) and "losses" in out:
        out = out["losses"]
    leaves = [t for t in tree_leaves(out) if hasattr(t, "requires_grad") and t.is_floating_point()]
    return sum(t.float().sum() for t in leaves) if leaves else None


def _key(tensor) -> int:
    return tensor.untyped_storage()._cdata


def _nbytes(tensor) -> int:
    return tensor.untyped_storage().nbytes()


def _live_bytes_mode():
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class LiveBytes(TorchDispatchMode):
        """Adds up the storages every operation makes (not those of `known` tensors: weights, inputs) while they
        live; `peak` is the most at once."""

        def __init__(self, known: set[int]) -> None:
            super().__init__()
            self.known, self.live, self.now, self.peak = known, {}, 0, 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self._sweep()
            for leaf in tree_leaves(out):
                if hasattr(leaf, "untyped_storage"):
                    storage = leaf.untyped_storage()
                    key = storage._cdata
                    if key not in self.known and key not in self.live:
                        self.live[key] = (StorageWeakRef(storage), storage.nbytes())
                        self.now += storage.nbytes()
            self.peak = max(self.peak, self.now)
            return out

        def _sweep(self) -> None:
            for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
                self.now -= self.live.pop(key)[1]

    return LiveBytes


def _LiveBytes(known: set[int]):
    return _live_bytes_mode()(known)

