"""Background compilation during a run, and the switch to it (TrainConfig.compile).

auto: start compiling once the first batches say how long the run will take and compiling pays for itself; when
it is ready, time the eager model for a moment, switch, time the compiled one and keep whichever trains faster.
always: start at once and switch as soon as the compiled model is ready (checked to give the eager model's outputs
on a batch). The compiling itself runs on its own thread (background_compile.py); this decides when and whether.
"""
from __future__ import annotations

import time

import torch

from . import background_compile as bc
from .config import KEEP_COMPILED_AT, TRIAL_SECONDS, TRIAL_STEPS


class CompileSwitch:
    """What a Trainer decided and holds about compiling: the job while one runs, the compiled forward once
    switched to (training steps of full batches only), whether anything is left to decide, and the outcome."""

    def __init__(self, run) -> None:
        self.run = run
        self.job = None  # a BackgroundCompile while one runs
        self.compiled = None  # the compiled forward, once switched to
        self.settled = run.config.compile == "off"  # nothing more to decide about compiling
        self.trial = None  # timing the eager, then the compiled model, once compiling is done
        self.where = None  # (epoch, batch) where the compiled model was switched to for its trial
        self.outcome: str | None = None  # "compiled" or "eager" once decided

    def between_batches(self, epoch: int, b: int, batch: dict[str, torch.Tensor]) -> None:
        """Background compilation (config.compile): start it when it pays for itself (auto: once the first
        batches say how long the run will take; always: at once). Once it is ready, `always` switches to it (checked
        to give the eager model's outputs on this batch); `auto` first times the eager model for a moment, switches,
        times the compiled one and keeps whichever trains faster: a compiled model no faster on this device is
        dropped."""
        run = self.run
        args = tuple(batch[f] for _, f in run.objective.feeds)
        if len(args[0]) != run.config.batch_size:
            return  # compiled for full batches only: a short last batch neither starts nor checks it
        if not run.precision.settled:
            return  # compiled under the run's autocast: once the precision is chosen (tuning.py)
        job = self.job
        if job is None:
            done, total = run._progress
            if run.config.compile == "auto":
                elapsed = time.perf_counter() - run._run_start
                if done < 3 or elapsed < 0.5:
                    return  # too early to tell how long the run takes
                self.settled = not bc.worth_compiling((total - done) * elapsed / done, run.model, run.device)
                if self.settled:
                    return
            reason = bc.unsupported_reason(run.device) or self._obstacle()
            if reason is not None:
                self.settled = True
                if run.config.compile == "always":
                    run._note(f"not compiling: {reason}; training eagerly")
                return
            self.job = bc.BackgroundCompile(run.model, args, autocast=run._autocast, device=run.device)
            self.job.start()
            run._note(f"compiling the model in the background (torch.compile) from epoch {epoch}, batch {b + 1}; "
                      "training goes on meanwhile")
            return
        if not job.finished:
            return
        if run.config.compile == "always":  # use it as soon as it is ready and right, without timing it
            compiled = job.take(run.model, args)
            self._settle(job, compiled, f"switched to the compiled model at epoch {epoch}, batch {b + 1} "
                         f"(compiling took {job.seconds:.1f} s)" if compiled is not None else
                         f"the compiled model is not used ({job.problem}); training goes on eagerly")
            return
        trial, now = self.trial, time.perf_counter()
        if trial is None or trial["epoch"] != epoch:  # (re)start timing: an epoch's end (validation) is not a step
            if run.device.type == "cuda":
                torch.cuda.synchronize(run.device)
            phase = "eager" if trial is None or trial["phase"] == "eager" else "compiled"
            self.trial = {"phase": phase, "epoch": epoch, "start": time.perf_counter(), "steps": 0,
                                   "eager": trial["eager"] if trial else None}
            if trial is None and job.problem is not None:
                self._settle(job, None, f"the compiled model is not used ({job.problem}); "
                                                "training goes on eagerly")
            return
        trial["steps"] += 1
        if trial["steps"] < TRIAL_STEPS or now - trial["start"] < TRIAL_SECONDS:
            return
        if run.device.type == "cuda":
            torch.cuda.synchronize(run.device)
        rate = trial["steps"] / (time.perf_counter() - trial["start"])
        if trial["phase"] == "eager":
            compiled = job.take(run.model, args)
            if compiled is None:
                self._settle(job, None, f"the compiled model is not used ({job.problem}); training goes on "
                                                "eagerly")
                return
            self.compiled = compiled
            self.trial = {"phase": "compiled", "epoch": epoch, "start": time.perf_counter(), "steps": -1,
                                   "eager": rate}  # -1: the first compiled step is not timed
            self.where = (epoch, b + 1)
            return
        eager = trial["eager"]
        if rate >= eager * KEEP_COMPILED_AT:
            where = self.where
            self._settle(job, self.compiled, f"switched to the compiled model at epoch {where[0]}, batch "
                         f"{where[1]} (compiling took {job.seconds:.1f} s; {rate / eager:.2f}x the eager "
                         "model's speed)")
        else:
            self._settle(job, None, f"the compiled model trained no faster on {run.device.type} "
                         f"({rate / eager:.2f}x the eager model's speed); training goes on eagerly")

    def _settle(self, job, compiled, note: str) -> None:
        self.compiled, self.settled, self.job, self.trial = compiled, True, None, None
        self.outcome = "compiled" if compiled is not None else "eager"
        self.run._note(note)

    def _obstacle(self) -> str | None:
        """What in this run keeps torch.compile from being used, or None."""
        if self.run.world is not None:
            return "a multi-process run trains its DistributedDataParallel model eagerly"
        return None
