"""Checkpoints: everything a run needs to continue exactly where it stopped.

Weights, each group's optimizer and schedule, the epoch, the curves, early stopping's best loss, best
weights and patience, and the settings. A resumed run may change only what cannot make it differ from
the run it continues (more epochs, a new learning rate, the device, ...): other settings that differ are
refused by name. Files are written atomically and read with weights_only=True.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..build.weights import WeightsError, apply_state, atomic_torch_save, read_tensors
from .config import RESUMABLE, TrainingError

if TYPE_CHECKING:  # the trainer imports this module; it is only named here
    from .trainer import Trainer

CHECKPOINT_FORMAT = "netbuilder.checkpoint"


def save_checkpoint(trainer: Trainer, path: str | Path, epoch: int) -> None:
    """Weights, optimizers, schedules, epoch, curves, early stopping and settings: all a resumed run needs."""
    early = trainer.early
    state = {
        "format": CHECKPOINT_FORMAT, "epoch": epoch,
        "model": _cpu(trainer.model.state_dict()),
        "optimizers": {group: opt.state_dict() for group, opt in trainer.optimizers.items()},
        "schedulers": {group: s.state_dict() for group, s in trainer.schedulers.items() if s is not None},
        "early_stopping": {"best": early["best"], "waited": early["waited"],
                           "state": _cpu(early["state"]) if early["state"] is not None else None},
        "history": trainer.history, "batch_losses": trainer.batch_losses, "config": trainer.config.to_dict(),
        "processes": trainer.world.size if trainer.world is not None else 1,
        "block_statistics": trainer.statistics.epochs if trainer.statistics is not None else [],
        # the precision the run trains in (tuning.py: measured, or asked for), and fp16's gradient scaler
        "precision": trainer.precision.mode if trainer.precision.settled else None,
        "scaler": trainer.scaler.state_dict() if trainer.scaler is not None else None,
    }
    atomic_torch_save(state, path)


def read_checkpoint(path: str | Path) -> dict:
    """A checkpoint's contents, checked to be one (TrainingError otherwise)."""
    try:
        state = read_tensors(path)
    except WeightsError as e:
        raise TrainingError(str(e)) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not a netbuilder checkpoint")
    return state


def checkpoint_config(path: str | Path) -> dict:
    """The settings a checkpoint's run was trained with (to continue it with the same ones)."""
    config = read_checkpoint(path).get("config")
    if not isinstance(config, dict):
        raise TrainingError(f"{path}: the checkpoint holds no settings")
    return config


def load_checkpoint(trainer: Trainer, path: str | Path) -> None:
    state = read_checkpoint(path)
    saved = state.get("config") if isinstance(state.get("config"), dict) else {}
    now = trainer.config.to_dict()
    changed = [key for key in now if key in saved and saved[key] != now[key] and key not in RESUMABLE]
    if changed:
        key = changed[0]
        raise TrainingError(f"{path}: the run was trained with {key} {saved[key]!r:.60}, not {now[key]!r:.60}; "
                            f"resume with the same {key} (only {', '.join(RESUMABLE)} may change), or start a new run")
    processes = trainer.world.size if trainer.world is not None else 1
    if int(state.get("processes", 1)) != processes:
        were = int(state.get("processes", 1))
        raise TrainingError(f"{path}: the run was trained by {were} process{'es' if were > 1 else ''} (global batches of "
                            f"{were} x {trainer.config.batch_size}), this one has {processes}: resume it with "
                            f"--nproc-per-node (x --nnodes) giving {were} processes")
    try:
        apply_state(trainer.model, state["model"], str(path))
        optimizers = state["optimizers"]
        if set(optimizers) != set(trainer.optimizers):
            raise TrainingError(f"{path}: the checkpoint trains {', '.join(optimizers)}; this graph trains "
                                f"{', '.join(trainer.optimizers)}")
        for group, optimizer in trainer.optimizers.items():
            optimizer.load_state_dict(optimizers[group])
            for param_group in optimizer.param_groups:  # a new learning rate applies (and is recorded)
                if saved.get("lr") != trainer.config.lr:
                    param_group["lr"] = trainer.config.lr
                    param_group["initial_lr"] = trainer.config.lr
        for group, scheduler in trainer.schedulers.items():
            if scheduler is not None and group in state["schedulers"]:
                scheduler.load_state_dict(state["schedulers"][group])
                if saved.get("lr") != trainer.config.lr and hasattr(scheduler, "base_lrs"):
                    scheduler.base_lrs = [trainer.config.lr] * len(scheduler.base_lrs)
        early = state["early_stopping"]
        trainer.early = {"best": float(early["best"]), "waited": int(early["waited"]), "state": early["state"]}
        trainer.history = list(state["history"])
        trainer.batch_losses = list(state["batch_losses"])
        if trainer.statistics is not None:
            trainer.statistics.epochs = list(state.get("block_statistics", []))
        trainer.start_epoch = int(state["epoch"]) + 1
        trainer.precision.resume(state.get("precision"))
        if trainer.scaler is not None and state.get("scaler"):
            trainer.scaler.load_state_dict(state["scaler"])
    except TrainingError:
        raise
    except WeightsError as e:
        raise TrainingError(str(e)) from None
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise TrainingError(f"{path}: the checkpoint does not fit this graph and settings ({e})") from None
    if trainer.early["state"] is not None:
        trainer.early["state"] = {k: v.to(trainer.device) for k, v in trainer.early["state"].items()}
    if trainer.start_epoch > trainer.config.epochs:
        raise TrainingError(f"{path}: the checkpoint already has {trainer.start_epoch - 1} epochs; "
                            f"ask for more than {trainer.config.epochs}")


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu().clone() for k, v in state.items()}
