"""Background compilation: training starts at once, eagerly, while torch.compile builds a faster model.

A copy of the model (with weights of its own, so that compiling never touches the run's) is compiled on a
daemon thread and warmed up on one batch, forward and backward: torch.compile does its work on the first call.
The compiled function computes with whatever weights it is given (torch.func.functional_call), so once it is
ready the trainer hands it the run's own parameters and buffers, checks on a batch that it gives the eager
model's outputs, and switches to it between two batches: the weights and the optimizers' state stay what they
are, and checkpoints, state_dict keys and evaluation (which stays eager) do not change.

    job = BackgroundCompile(model, example_args, autocast=trainer_autocast, device=device)
    job.start()
    ...between two batches...
    if job.finished:
        forward = job.take(model, args_of_this_batch)   # None when it failed or disagreed: job.problem says why

A compiled run differs from an eager one by rounding only (fused kernels add in another order), and the batch at
which it switches depends on how long compiling took: runs that must repeat bit for bit turn compiling off.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import shutil
import threading
import time
import types
from typing import Callable

import torch

# roughly how much faster a compiled training step is, and how long compiling takes: the `auto` setting starts a
# compile only when the run's remaining eager time is worth it, then times both models and keeps the faster. On a
# 2-core AMD EPYC (bench/bench_train.py) inductor trained the lecture's convnet 1.0-1.2x faster than eager NCHW and
# slower than eager channels_last; GPUs gain more. Compiling took 12-16 s there with empty caches, 3-6 s with warm.
EXPECTED_SPEEDUP = {"cpu": 1.2, "cuda": 1.5}
COMPILE_SECONDS = {"cpu": (6.0, 0.5), "cuda": (20.0, 0.5)}  # (fixed, per fx node of the model's forward)
STOCHASTIC = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d, torch.nn.AlphaDropout)


def unsupported_reason(device: torch.device) -> str | None:
    """Why torch.compile cannot compile for this device here, in a few words; None when it can."""
    if device.type not in ("cpu", "cuda"):
        return f"torch.compile does not train on {device.type} yet"
    if os.environ.get("TORCHDYNAMO_DISABLE") in ("1", "true", "True"):
        return "TORCHDYNAMO_DISABLE is set"
    try:
        import torch._dynamo  # noqa: F401
        import torch._inductor.config as inductor
    except Exception as e:  # noqa: BLE001 - a torch without a working compiler: say so, train eagerly
        return f"torch.compile is not available ({type(e).__name__})"
    if device.type == "cpu":
        compiler = inductor.cpp.cxx[1] if isinstance(inductor.cpp.cxx, tuple) else inductor.cpp.cxx
        if not compiler or shutil.which(str(compiler)) is None:
            return f"no C++ compiler ({compiler or 'g++'}) on this machine"
    else:
        try:
            import triton  # noqa: F401
        except ImportError:
            return "Triton is not installed"
    return None


def expected_compile_seconds(model: torch.nn.Module, device: torch.device) -> float:
    """A guess of how long compiling takes (before any cache helps): more for a bigger forward."""
    fixed, per_node = COMPILE_SECONDS.get(device.type, COMPILE_SECONDS["cpu"])
    graph = getattr(model, "graph", None)
    nodes = len(graph.nodes) if graph is not None else sum(1 for _ in model.modules())
    return fixed + per_node * nodes


def worth_compiling(remaining_eager_s: float, model: torch.nn.Module, device: torch.device) -> bool:
    """Whether compiling pays for itself in this run: the time the compiled model saves on what is left must
    exceed twice what compiling is expected to take (while it compiles, the training thread shares the machine)."""
    speedup = EXPECTED_SPEEDUP.get(device.type, 1.3)
    compile_s = expected_compile_seconds(model, device)
    from ..base.system import cpu_count

    cores = cpu_count()
    cost = compile_s * (1.0 if device.type == "cpu" and cores <= 2 else 0.5)
    saved = max(remaining_eager_s - compile_s, 0.0) * (1 - 1 / speedup)
    return saved > 2 * cost


_RUNNING: set[threading.Thread] = set()  # compile threads not yet finished (see finish)


def finish(timeout: float | None = None) -> bool:
    """Wait for compiles still running (a run stopped early leaves its compile going: it cannot be interrupted).
    A process must not exit while torch.compile runs on another thread: torch aborts. True when none is left."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for thread in list(_RUNNING):
        thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
    return not any(thread.is_alive() for thread in _RUNNING)


def live_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers by name: what the compiled function computes with."""
    return {**dict(model.named_parameters(remove_duplicate=False)), **dict(model.named_buffers(remove_duplicate=False))}


def _detached_copies(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of a module's parameters and buffers (parameters stay parameters; tensors shared under two names stay
    one tensor)."""
    copies: dict[int, torch.Tensor] = {}
    for tensor in state.values():
        if id(tensor) not in copies:
            copy = tensor.detach().clone()
            copies[id(tensor)] = (torch.nn.Parameter(copy, requires_grad=tensor.requires_grad)
                                  if isinstance(tensor, torch.nn.Parameter) else copy)
    return {name: copies[id(tensor)] for name, tensor in state.items()}


def _leaves(value) -> list[torch.Tensor]:
    from torch.utils._pytree import tree_leaves

    return [leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor)]


class BackgroundCompile:
    """torch.compile of a copy of `model` on a thread of its own, warmed up on `example` (the forward's arguments
    for one full batch). `autocast` makes the context training runs in (the compiled graph is made for it)."""

    def __init__(self, model: torch.nn.Module, example: tuple[torch.Tensor, ...], *,
                 autocast: Callable[[], object] | None = None, device: torch.device | None = None) -> None:
        self.shadow = copy.deepcopy(model)  # on the training thread, between two steps: consistent weights
        self.example = tuple(t.detach().clone() for t in example)
        self.batch_size = len(example[0]) if example else 0
        self.autocast = autocast or (lambda: torch.autocast("cpu", enabled=False))
        self.device = device or torch.device("cpu")
        self.stochastic = any(isinstance(m, STOCHASTIC) for m in model.modules())
        self.problem: str | None = None  # why it failed, in a few words
        self.seconds: float | None = None  # how long compiling took
        self._function = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netbuilder-compile", daemon=True)

    def start(self) -> None:
        self._started = time.perf_counter()
        _RUNNING.add(self._thread)
        self._thread.start()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def _run(self) -> None:
        try:
            with _quiet_torch_logs():
                self._compile()
        except Exception as e:  # noqa: BLE001 - any failure of the compiler means: train eagerly
            self.problem = _short(e)
        finally:
            self.seconds = time.perf_counter() - self._started
            self.example = ()
            self._done.set()
            _RUNNING.discard(self._thread)

    def _compile(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        shadow = self.shadow

        def template(state, *args):
            return torch.func.functional_call(shadow, state, args, tie_weights=False, strict=True)

        # a code object of its own: torch.compile keeps its compiled versions (and counts recompilations, up to a
        # limit past which it silently runs eagerly) per code object, and every run compiles a new copy
        forward = types.FunctionType(template.__code__.replace(), template.__globals__, "forward",
                                     template.__defaults__, template.__closure__)
        # random blocks (dropout) draw from torch's own generator, as eager ones do, so that the check
        # before switching can compare the two on the same draws
        options = {"fallback_random": True} if self.stochastic else None
        function = torch.compile(forward, dynamic=False, options=options)
        # warmed up on tensors that are not the copy's own, as the run's will not be: torch.compile guards on
        # whether the tensors given alias the module's, and would compile again, on the training thread, at the switch
        state = _detached_copies(live_state(shadow))
        with self.autocast():
            out = function(state, *self.example)
            outputs = [t for t in _leaves(out) if t.requires_grad]
        params = [t for t in state.values() if isinstance(t, torch.nn.Parameter) and t.requires_grad]
        if outputs and params:  # compile the backward too (torch.compile builds it on the first backward);
            # autograd.grad leaves every .grad as it is
            total = sum(t.float().sum() for t in outputs)
            torch.autograd.grad(total, params, allow_unused=True)
        self._function = function

    def take(self, model: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> Callable | None:
        """The compiled forward over `model`'s live parameters and buffers, after checking on `args` that it gives
        what `model` gives (same random draws, buffers such as BatchNorm's statistics left as they were). None
        when compiling failed or the check disagrees; `problem` says why."""
        if self._function is None:
            return None
        state = live_state(model)
        function = self._function

        def compiled_forward(*call_args):
            return function(state, *call_args)

        try:
            with unchanged(model, self.device), self.autocast():
                expected = _leaves(model(*args))
            with unchanged(model, self.device), self.autocast():
                got = _leaves(compiled_forward(*args))
        except Exception as e:  # noqa: BLE001 - a compiled model that cannot run this batch is not used
            self.problem = _short(e)
            return None
        mismatch = _mismatch(expected, got, loose=self.autocast_is_reduced())
        if mismatch:
            self.problem = mismatch
            return None
        return compiled_forward

    def autocast_is_reduced(self) -> bool:
        with self.autocast():
            return torch.is_autocast_enabled(self.device.type)


@contextlib.contextmanager
def _quiet_torch_logs():
    """torch's compiler logs its failures at length; the run says it in one note instead."""
    loggers = [logging.getLogger(name) for name in ("torch._dynamo", "torch._inductor", "torch.fx",
                                                      "torch._functorch", "torch._subclasses")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class unchanged:
    """Run a forward that leaves no trace: torch's random state and the model's buffers are put back."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.model, self.device = model, device

    def __enter__(self):
        self.rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        self.buffers = [(b, b.detach().clone()) for b in self.model.buffers()]
        return self

    def __exit__(self, *exc) -> None:
        torch.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state(self.cuda_rng, self.device)
        with torch.no_grad():
            for buffer, saved in self.buffers:
                buffer.copy_(saved)


def _mismatch(expected: list[torch.Tensor], got: list[torch.Tensor], loose: bool) -> str | None:
    """Why two forwards' outputs differ beyond rounding, or None."""
    if len(expected) != len(got):
        return f"the compiled model returns {len(got)} tensors, the model {len(expected)}"
    rtol = 2e-2 if loose else 1e-3
    for a, b in zip(expected, got):
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"the compiled model returns {tuple(b.shape)} {b.dtype}, the model {tuple(a.shape)} {a.dtype}"
        a, b = a.detach().float(), b.detach().float()
        scale = float(a.abs().max()) if a.numel() else 0.0
        if not math.isfinite(scale):
            continue  # the eager step will stop the run and say where
        diff = float((a - b).abs().max()) if a.numel() else 0.0
        if not diff <= rtol * max(scale, 1.0):
            return f"the compiled model's outputs differ from the model's by {diff:.2g} (of {scale:.2g})"
    return None


def _short(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
