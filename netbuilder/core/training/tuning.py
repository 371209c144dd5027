"""Tuning a run for its device (TrainConfig.tune): the memory layout, and mixed precision chosen by measurement.

Layout: channels_last memory for networks with 2-D convolutions on CPUs with oneDNN and on CUDA GPUs (the same
numbers, another order in memory: the lecture's convnet trains ~1.4x faster on a 2-core AMD EPYC).

Precision: where the device has fast reduced-precision math (a CPU whose cores have AMX or AVX-512 BF16, a CUDA
GPU with bfloat16; float16 with a gradient scaler on a GPU without it), the first steps of the run alternate
between float32 and the reduced precision, a warm-up step each and then three timed steps each (their fastest
counts: other work on the machine only adds time), and the loss of two batches is computed both ways. The reduced
precision is kept only when its steps were at least KEEP_REDUCED_AT times faster AND the losses agree to
LOSS_TOLERANCE; else the run goes on in float32. Runs too short for this to pay stay in float32. The run's
notes say which and why, with both speeds. Autocast only changes how the forward computes: weights, optimizer
state, checkpoints and exports stay float32. The choice is kept in checkpoints, so a resumed run continues in
the precision it had.

    precision = Precision(trainer, Probe())   # Probe(cpuinfo=TEXT, timer=FUNCTION): what the machine says
    with precision.autocast(): ...            # the precision of the step being run
    loss = precision.step(b, batch, lambda: trainer._step(batch))
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .background_compile import unchanged
from .config import TrainConfig, TrainingError

KEEP_REDUCED_AT = 1.05  # a reduced precision is kept when its steps are at least this much faster than float32's
LOSS_TOLERANCE = 0.02  # ... and the mean loss over the compared batches is within 2% of float32's
LOSS_FLOOR = 1e-3  # (or within this much, for losses near zero)
WARM_STEPS, TIMED_STEPS, COMPARED_BATCHES = 1, 3, 2  # per precision: untimed, timed; batches computed both ways
TRIAL_STEPS = 2 * (WARM_STEPS + TIMED_STEPS)
MIN_RUN_STEPS = 3 * TRIAL_STEPS  # shorter runs stay in float32: measuring would cost more than it could save
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
WORDS = {"float32": "float32", "bf16": "bf16 autocast", "fp16": "fp16 autocast (with gradient scaling)"}


# ----- what the machine has


def native_bf16(cpuinfo: str | None = None) -> str | None:
    """The native bfloat16 instructions of this CPU's cores, in words ("AMX", "AVX-512 BF16", "Arm BF16"), or
    None. `cpuinfo`: the text of /proc/cpuinfo (read on Linux when not given); elsewhere torch's own CPU
    detection answers (AMX and AVX-512 BF16 on x86; None where it cannot tell)."""
    if cpuinfo is None and sys.platform.startswith("linux"):
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = None
    if cpuinfo is not None:
        flags: set[str] = set()
        for line in cpuinfo.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() in ("flags", "features"):  # x86; aarch64
                flags.update(value.split())
        return "AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags else \
            "Arm BF16" if "bf16" in flags else None
    cpu = getattr(torch, "cpu", None)
    if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "AMX"
    if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "AVX-512 BF16"
    return None


def reduced_candidate(device: torch.device, cpuinfo: str | None = None) -> tuple[str | None, str]:
    """The reduced precision worth measuring on this device ("bf16", "fp16" or None) and why, in words."""
    if device.type == "cuda":
        if _cuda_native_bf16():
            return "bf16", "this GPU has bfloat16"
        return "fp16", "this GPU has no native bfloat16"
    if device.type == "cpu":
        found = native_bf16(cpuinfo)
        if found:
            return "bf16", f"this CPU has {found}"
        return None, "this CPU has no native bfloat16 (AMX or AVX-512 BF16)"
    return None, f"mixed precision is not tried on {device.type}"


def _cuda_native_bf16() -> bool:
    """bfloat16 in the GPU's own math (Ampere and later), not emulated (torch counts emulation as support)."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a torch without the argument counts only native support
        return torch.cuda.is_bf16_supported()


def check_precision(config: TrainConfig, device: torch.device, cpuinfo: str | None = None) -> None:
    """bf16 and fp16 run where they can, or are refused by name: never silently ignored."""
    if config.bf16:
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise TrainingError("bf16 needs a GPU that supports bfloat16; this one does not: use fp16, or leave bf16 "
                                "off")
        if device.type == "cpu" and native_bf16(cpuinfo) is None:
            raise TrainingError("bf16 on the CPU needs cores with native bfloat16 (AMX or AVX-512 BF16); this CPU has "
                                "neither: leave bf16 off (tuning keeps float32 here)")
        if device.type not in ("cpu", "cuda"):
            raise TrainingError(f"bf16 runs on CPUs with native bfloat16 and CUDA GPUs; this run is on {device.type}: "
                                "leave bf16 off")
    if config.fp16 and device.type != "cuda":
        raise TrainingError(f"fp16 needs a CUDA GPU; this run is on {device.type}: leave fp16 off")


def choose_layout(model: torch.nn.Module, device: torch.device, config: TrainConfig) -> list[str]:
    """channels_last memory for networks with 2-D convolutions where the device gains from it (CPUs with oneDNN,
    CUDA GPUs); what was chosen, in words."""
    if config.tune == "off":
        return []
    convolutions = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    fast_layout = device.type == "cuda" or (device.type == "cpu" and torch.backends.mkldnn.is_available())
    if convolutions and fast_layout:
        model.to(memory_format=torch.channels_last)
        return ["channels_last memory format"]
    return []


# ----- timing a step


def wall_clock(device: torch.device) -> Callable[[str, Callable[[], object]], tuple[object, float]]:
    """The timer of trial steps: runs a step, returns (its result, the seconds it took, the device's work included)."""
    def timer(precision: str, step: Callable[[], object]):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return result, time.perf_counter() - start

    return timer


@dataclass
class Probe:
    """What tuning learns of the machine, and how: the CPU's /proc/cpuinfo text (None: read it) and the timer of a
    trial step, `timer(precision, step) -> (step's result, seconds)` (None: the wall clock)."""

    cpuinfo: str | None = None
    timer: Callable[[str, Callable[[], object]], tuple[object, float]] | None = None


# ----- the precision of a run


class Precision:
    """The precision a Trainer's steps run in: settled at once (bf16 or fp16 asked for, tune off, nothing to try)
    or by a trial over the first steps of the run (see the module's docstring)."""

    def __init__(self, run, probe: Probe | None = None) -> None:
        probe = probe or Probe()
        self.run = run
        self.timer = probe.timer or wall_clock(run.device)
        config = run.config
        self.candidate: str | None = None
        self.reason = ""  # why no reduced precision is tried, in words
        if config.bf16 or config.fp16:
            self.mode = "bf16" if config.bf16 else "fp16"
        else:
            self.mode = "float32"
            if config.tune != "off":
                self.candidate, self.reason = reduced_candidate(run.device, probe.cpuinfo)
        self.settled = self.candidate is None
        self.current = self.mode  # the precision of the step being run (during the trial, the one being timed)
        self.trial: dict | None = None
        self.speeds: dict[str, float] = {}  # samples/s per precision, once measured

    @property
    def scaled(self) -> bool:
        """Whether steps need a gradient scaler (fp16, or a trial of it)."""
        return self.mode == "fp16" or self.candidate == "fp16"

    def autocast(self, precision: str | None = None):
        dtype = DTYPES.get(precision or self.current)
        if dtype is None:
            return torch.autocast(self.run.device.type, enabled=False)
        return torch.autocast(self.run.device.type, dtype=dtype)

    def describe(self) -> str:
        """What the run will try, for its first note ("" when it runs as asked or as written: no reduced precision on
        this device, or a run too short to measure it)."""
        if self.candidate is not None:
            return "" if self.settled else \
                f"{WORDS[self.candidate]} or float32, measured on the first batches ({self.reason})"
        return ""

    def resume(self, saved: str | None) -> None:
        """A resumed run continues in the precision its checkpoint was trained in, where this device has it."""
        if self.settled or saved not in ("float32", self.candidate):
            return
        self._settle(saved, f"resumed in {WORDS[saved]}, as the run was tuned" if saved != "float32" else None)

    # ----- the trial

    def step(self, b: int, batch: dict[str, torch.Tensor], run_step: Callable[[], object]):
        """Run one training step (run_step), as part of the trial while one runs (or starts here)."""
        if self.trial is None and not self._start(b, batch):
            return run_step()
        trial = self.trial
        i = trial["step"]
        precision = trial["order"][i]
        if WARM_STEPS * 2 <= i < WARM_STEPS * 2 + COMPARED_BATCHES:
            self._compare(batch)
        self.current = precision
        try:
            result, seconds = self.timer(precision, run_step)
        finally:
            self.current = self.mode
        if i >= WARM_STEPS * 2:
            trial["seconds"][precision].append(seconds)
        trial["step"] += 1
        if trial["step"] == len(trial["order"]):
            self._decide()
        return result

    def plan(self) -> None:
        """Before the first batch: a run (or its epochs) too short for the trial to pay stays in float32, quietly (it
        runs as written; `reason` says why)."""
        run = self.run
        if self.settled:
            return
        total, epoch = run._progress[1], run._batch_count()
        if total < MIN_RUN_STEPS or epoch <= TRIAL_STEPS + 1:
            self.reason = (f"{'a run' if total < MIN_RUN_STEPS else 'epochs'} of {min(total, epoch)} batches "
                           f"{'is' if total < MIN_RUN_STEPS else 'are'} too short to measure {WORDS[self.candidate]} "
                           "against float32")
            self._settle("float32", None)

    def _start(self, b: int, batch: dict[str, torch.Tensor]) -> bool:
        """Start the trial at this step: full batches, all in one epoch (else it starts with the next epoch)."""
        run = self.run
        first = next(iter(batch.values()))
        if b + TRIAL_STEPS >= run._batch_count() or len(first) != run.config.batch_size:
            return False  # the trial runs on full batches of one epoch: it starts with the next epoch
        order = ["float32", self.candidate] * WARM_STEPS
        for k in range(TIMED_STEPS):  # ABBA: a drift in the machine's speed hits both alike
            order += [self.candidate, "float32"] if k % 2 == 0 else ["float32", self.candidate]
        self.trial = {"order": order, "step": 0, "seconds": {"float32": [], self.candidate: []},
                      "losses": {"float32": [], self.candidate: []}, "size": len(first)}
        return True

    def _compare(self, batch: dict[str, torch.Tensor]) -> None:
        """The loss of this batch in both precisions, with the same weights and random draws (dropout), leaving
        no trace (the random state and BatchNorm's statistics are put back)."""
        run = self.run
        with torch.no_grad():
            for precision in self.trial["losses"]:
                with unchanged(run.model, run.device), self.autocast(precision):
                    values, _, _ = run._forward(batch)
                    self.trial["losses"][precision].append(float(run._weighted(values)))

    def _decide(self) -> None:
        trial, run, candidate = self.trial, self.run, self.candidate
        size = trial["size"]
        # the fastest of each precision's timed steps: other work on the machine only ever adds time (as timeit)
        self.speeds = {p: size / max(min(s), 1e-12) for p, s in trial["seconds"].items()}
        speedup = self.speeds[candidate] / self.speeds["float32"]
        reference = sum(trial["losses"]["float32"]) / len(trial["losses"]["float32"])
        reduced = sum(trial["losses"][candidate]) / len(trial["losses"][candidate])
        difference = abs(reduced - reference)
        agrees = math.isfinite(reduced) and difference <= LOSS_TOLERANCE * abs(reference) + LOSS_FLOOR
        relative = difference / max(abs(reference), 1e-12)
        keep = agrees and speedup >= KEEP_REDUCED_AT
        if run.world is not None:  # every process trains in the precision the first one measured
            flag = torch.tensor([1.0 if keep and run.world.is_main else 0.0], device=run.device)
            keep = float(run.world.all_sum(flag)[0]) > 0.5
        rates = (f"{WORDS[candidate]} ran {self.speeds[candidate]:,.0f} samples/s, float32 "
                 f"{self.speeds['float32']:,.0f} ({speedup:.2f}x)")
        count = len(trial["losses"]["float32"])
        agreement = f"the loss over {count} batches differed by {relative * 100:.2g}% (tolerance {LOSS_TOLERANCE:.0%})"
        if keep:
            note = (f"mixed precision: training in {WORDS[candidate]}: {rates}, and {agreement}; weights, optimizer "
                    "state, checkpoints and exports stay float32")
        elif not agrees:
            note = f"mixed precision: staying in float32: with {WORDS[candidate]} {agreement}, though {rates}"
        else:
            note = (f"mixed precision: staying in float32: {rates}: it is kept only from {KEEP_REDUCED_AT:.2f}x "
                    f"({agreement})")
        self.trial = None
        self._settle(candidate if keep else "float32", note)

    def _settle(self, precision: str, note: str | None) -> None:
        self.mode = self.current = precision
        self.settled, self.trial = True, None
        if precision != "fp16":
            self.run.scaler = None
        if note:
            self.run._note(note)
