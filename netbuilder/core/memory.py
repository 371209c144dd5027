"""Will it fit? What a graph needs in memory, before anything is allocated.

    plan = estimate(graph, batch_size=64, training=True, optimizer="adam")   # traced on the meta device
    check_fits(graph, batch_size=64, training=True, optimizer="adam")       # MemoryGuardError if it cannot
    plan, available, largest = plan_training(graph, 64, TrainConfig(), "cpu")  # and the largest batch that fits

Training is measured by running two training steps of the network, as the Trainer runs them (forward,
gradients set to none, backward, optimizer step), on torch's meta device: tensors there have shapes but no
memory, and a dispatch mode adds up the bytes of every tensor alive after each operation. That gives the
weights, their gradients, the optimizer's state and the peak of what a step holds besides (the activations
saved for the backward pass, gradients on their way through, the optimizer's temporaries); two batch sizes
give the bytes each sample adds, and so the largest batch that fits. Where the meta device cannot run a network,
or for inference (export, import), the figures come from shape inference: the weights (parameters and buffers,
as float32) and the widest step's activations; that estimate errs low rather than high. Export and import hold
more copies of the weights (the exported bytes, onnxruntime's session): `weight_copies` says how many. The
machine's available memory is read from /proc/meminfo (MemAvailable), else from os.sysconf, a GPU's from torch;
where none says, nothing is refused.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import NetbuilderError

FLOAT_BYTES = 4
HEADROOM = 0.9  # of the available memory, what a plan may use: the process itself, Python, torch need some


class MemoryGuardError(NetbuilderError):
    """What was asked for cannot fit in this machine's memory; the message gives both figures."""


def format_bytes(n: float) -> str:
    """1536 -> "1.5 KB"; 42947912000000 -> "42,948 GB"."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:,.0f} {unit}" if value >= 1000 else f"{value:.3g} {unit}"
    return f"{int(n)} bytes"


def available_bytes(device=None) -> int | None:
    """Memory this process can still take without swapping: MemAvailable from /proc/meminfo, else the free
    physical pages from os.sysconf; on a GPU ("cuda", "cuda:1", "mps"), what torch says is free there (and what
    its cache holds unused). None when nothing says."""
    kind = str(device or "cpu").split(":")[0]
    if kind == "cuda":
        return _cuda_free(device)
    if kind == "mps":
        try:
            import torch

            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except Exception:  # noqa: BLE001 - no figure: nothing is refused
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cuda_free(device) -> int | None:
    try:
        import torch

        index = torch.device(device).index if torch.device(device).index is not None else torch.cuda.current_device()
        free, _ = torch.cuda.mem_get_info(index)
        return int(free + torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index))
    except Exception:  # noqa: BLE001 - no GPU, or a driver that does not say: nothing is refused
        return None


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes a run needs, by what holds them."""

    weights: int
    gradients: int
    optimizer: int
    activations: int  # a step's peak besides weights, gradients and optimizer state (activations, temporaries)
    batch_size: int
    per_sample: int = 0  # how many more bytes each more sample in a batch takes (measured plans)
    measured: bool = False  # traced on the meta device (else estimated from the shapes)
    data: int = 0  # the dataset, where it is held in the same memory (in-memory training on that device)

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.data

    def largest_batch(self, available: int | None, headroom: float = HEADROOM) -> int | None:
        """The largest batch whose plan fits in `available` bytes (0: not even one sample); None when unknown."""
        if available is None or self.per_sample <= 0:
            return None
        fixed = self.total - self.per_sample * self.batch_size  # what does not grow with the batch
        return max(int((headroom * available - fixed) // self.per_sample), 0)

    def describe(self) -> str:
        parts = [f"weights {format_bytes(self.weights)}"]
        if self.gradients:
            parts.append(f"gradients {format_bytes(self.gradients)}")
        if self.optimizer:
            parts.append(f"optimizer state {format_bytes(self.optimizer)}")
        parts.append(f"activations {format_bytes(self.activations)} for a batch of {self.batch_size:,}")
        if self.data:
            parts.append(f"the dataset {format_bytes(self.data)}")
        return f"about {format_bytes(self.total)} ({', '.join(parts)})"


def estimate(graph, batch_size: int, *, training: bool = False, optimizer_slots: int = 0,
             weight_copies: int = 1, report=None, optimizer=None, device=None) -> MemoryPlan:
    """What running `graph` on a batch needs. `report` (a ShapeReport) saves inferring the shapes again; blocks
    whose shapes failed count for nothing (compiling refuses them anyway). Training with an `optimizer` (its
    name, or a TrainConfig) is measured on the meta device (see trace_training)."""
    from .shapes import infer_shapes

    report = report or infer_shapes(graph)
    if training and optimizer is not None:
        plan = trace_training(graph, batch_size, optimizer, report=report, device=device)
        if plan is not None:
            return plan
    params = report.total_params
    outputs = [_numel(info.output) * _dtype_bytes(info.dtype) for info in report.nodes.values()
               if info.output is not None]
    widest = max(outputs, default=0)
    if training:
        activations = sum(outputs) + 2 * widest  # every output kept for backward, plus a step's gradients
    else:
        activations = 2 * widest  # a step's input and output at once
    weights = params * FLOAT_BYTES
    return MemoryPlan(weights=weights * max(weight_copies, 1), gradients=weights if training else 0,
                      optimizer=weights * optimizer_slots if training else 0,
                      activations=activations * max(batch_size, 1), batch_size=max(batch_size, 1))


def check_fits(graph, batch_size: int, *, what: str = "this", training: bool = False, optimizer_slots: int = 0,
               weight_copies: int = 1, report=None, available: int | None = None, optimizer=None,
               device=None) -> MemoryPlan:
    """The plan, or MemoryGuardError when it needs more than the machine (or the `device`: "cpu", "cuda", ...)
    has available (`available`, in bytes, stands in for the machine's figure). `what` names the work in the
    message: "export", "training"."""
    plan = estimate(graph, batch_size, training=training, optimizer_slots=optimizer_slots,
                    weight_copies=weight_copies, report=report, optimizer=optimizer, device=device)
    available = available if available is not None else available_bytes(device)
    if available is not None and plan.total > HEADROOM * available:
        hint = ""
        if training and plan.activations > plan.weights + plan.gradients + plan.optimizer:
            largest = plan.largest_batch(available)
            hint = f" (batches of up to {largest:,} fit)" if largest else " (try a smaller batch)"
        where = "this machine has" if device in (None, "cpu") else f"{device} has"
        raise MemoryGuardError(f"{what} needs {plan.describe()}; {where} {format_bytes(available)} "
                               f"of memory available{hint}")
    return plan


def plan_training(graph, batch_size: int, config=None, device: str = "cpu", *, report=None,
                  data_bytes: int = 0):
    """(plan, available bytes or None, the largest batch that fits or None) for training `graph` with batches of
    `batch_size` on `device` (a TrainConfig gives the optimizer; `data_bytes`: the dataset, when it is held on that
    device). What `netbuilder plan` prints and the training panel shows before Start."""
    from dataclasses import replace

    from .train import TrainConfig

    config = config or TrainConfig()
    plan = estimate(graph, batch_size, training=True, optimizer=config, report=report,
                    optimizer_slots=OPTIMIZER_SLOTS.get(config.optimizer, 1), device=device)
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
    where = "this machine has" if device.split(":")[0] == "cpu" else f"{device} has"
    if available is None:
        lines.append(f"{where} no figure for its free memory")
    else:
        fits = "fits" if plan.total <= HEADROOM * available else "does NOT fit"
        most = f"; batches of up to {largest:,} fit" if largest is not None else ""
        lines.append(f"{where} {format_bytes(available)} of memory available: this {fits}{most}")
    return lines


OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "sgd": 0}  # tensors per weight; the others keep one (momentum, ...)


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
    from .shapes import infer_shapes

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

    from .compile import compile_graph, loss_blocks
    from .objective import build_objective
    from .shapes import infer_shapes
    from .train import TrainConfig, make_optimizer

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


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _dtype_bytes(dtype: str | None) -> int:
    return {"float64": 8, "int64": 8, "float16": 2, "bfloat16": 2, "bool": 1, "uint8": 1, "int8": 1}.get(
        dtype or "float32", FLOAT_BYTES)
