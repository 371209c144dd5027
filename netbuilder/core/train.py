"""The Trainer: runs an optimizer over a compiled graph and reports through plain callbacks.

It knows nothing of Qt: the GUI runs it on a QThread and turns its callbacks into signals; the CLI
prints them. Control (stop, pause, resume) is thread-safe. The hot loop keeps the data on the device,
records each batch's loss on the device, and synchronizes only when it reports (a few times a second).
"""
from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .data import Dataset, Splits
from .data.augment import AUGMENTATIONS, augment
from .errors import NetbuilderError
from .weights import WeightsError, apply_state, atomic_torch_save, read_tensors

LOSSES = ("auto", "cross_entropy", "mse", "l1", "bce_with_logits")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "exponential", "cosine", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
CHECKPOINT_FORMAT = "netbuilder.checkpoint"


class TrainingError(NetbuilderError):
    """A configuration, checkpoint or device that cannot be used; the message says why."""


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 100
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # for momentum, nesterov and rmsprop
    weight_decay: float = 0.0  # L2
    l1: float = 0.0  # L1 penalty on all weights
    loss: str = "auto"
    schedule: str = "none"
    step_size: int = 5  # step schedule: epochs between decays
    gamma: float = 0.5  # step / exponential decay factor; plateau reduction factor
    grad_clip: float = 0.0  # max gradient norm; 0: off
    early_stopping: int = 0  # epochs without a better validation loss before stopping; 0: off
    augment: list[str] = field(default_factory=list)
    seed: int = 0
    device: str = "auto"
    bf16: bool = False  # bfloat16 autocast, on CUDA only
    threads: int = 0  # CPU threads for torch while training; 0: torch's default (all cores)
    report_interval: float = 0.1  # seconds between batch reports

    def check(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise TrainingError(message)

        need(1 <= self.epochs <= 100_000, f"epochs must be 1..100000, got {self.epochs}")
        need(1 <= self.batch_size <= 1_000_000, f"batch size must be 1..1000000, got {self.batch_size}")
        need(self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        need(self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}")
        need(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}")
        need(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}")
        need(math.isfinite(self.lr) and 0 < self.lr <= 100, f"learning rate must be in (0, 100], got {self.lr}")
        for name in ("momentum", "weight_decay", "l1", "grad_clip"):
            value = getattr(self, name)
            need(math.isfinite(value) and value >= 0, f"{name.replace('_', ' ')} must be >= 0, got {value}")
        need(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        need(self.step_size >= 1 and self.early_stopping >= 0, "step size must be >= 1, early stopping >= 0")
        need(0 <= self.threads <= 1024, f"threads must be 0..1024, got {self.threads}")
        unknown = [a for a in self.augment if a not in AUGMENTATIONS]
        need(not unknown, f"unknown augmentation {', '.join(unknown)}; use {', '.join(AUGMENTATIONS)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BatchReport:
    epoch: int
    batch: int  # 1-based, within the epoch
    batches: int
    losses: list[float]  # every batch's loss since the previous report
    samples_per_s: float
    eta_s: float
    progress: float  # 0..1 over the whole run


@dataclass
class EpochReport:
    epoch: int
    epochs: int
    train_loss: float
    train_metric: float
    val_loss: float | None
    val_metric: float | None
    lr: float
    seconds: float
    samples_per_s: float


@dataclass
class TrainResult:
    status: str  # finished, stopped, early_stopped, diverged
    message: str
    history: list[dict]
    batch_losses: list[float]
    test_loss: float | None = None
    test_metric: float | None = None
    metric_name: str = "accuracy"
    test_predictions: torch.Tensor | None = None  # per test sample: class index, or the output values


def warm_up() -> None:
    """Train a tiny network for a step with every optimizer: torch's first backward pass and first optimizer
    step import and set up much (holding the GIL). Background threads call this so a run starts smoothly."""
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    x, y = torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 0, 1])
    for name in OPTIMIZERS:
        optimizer = make_optimizer(model.parameters(), TrainConfig(optimizer=name))
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        F.cross_entropy(model(x), y).item()
    copy.deepcopy(model.state_dict())


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer a config names, over `params` (an iterable of tensors or of param groups)."""
    c = config
    kinds = {
        "sgd": lambda: torch.optim.SGD(params, lr=c.lr, weight_decay=c.weight_decay),
        "momentum": lambda: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
        "nesterov": lambda: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum or 0.9, nesterov=True,
                                            weight_decay=c.weight_decay),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=c.lr, weight_decay=c.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
        "adam": lambda: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
        "adamw": lambda: torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),
    }
    return kinds[c.optimizer]()


def available_devices() -> list[str]:
    """The devices this machine can train on, best first after "auto": cuda, mps, then cpu."""
    found = ["auto"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def pick_device(name: str) -> torch.device:
    """auto: CUDA, else Apple MPS, else the CPU. A device that is asked for but absent is an error."""
    available = available_devices()
    if name == "auto":
        return torch.device(available[1])
    if name not in available:
        raise TrainingError(f"device {name} is not available on this machine (use auto or cpu)")
    return torch.device(name)


class Trainer:
    def __init__(self, model: torch.nn.Module, data: Splits, config: TrainConfig, *,
                 on_batch: Callable[[BatchReport], None] | None = None,
                 on_epoch: Callable[[EpochReport], None] | None = None,
                 on_log: Callable[[str], None] | None = None) -> None:
        config.check()
        self.config, self.data = config, data
        self.on_batch, self.on_epoch = on_batch or (lambda r: None), on_epoch or (lambda r: None)
        self.on_log = on_log or (lambda s: None)
        self.device = pick_device(config.device)
        self.model = model.to(self.device)
        self.loss_name = self._choose_loss(data.train, model)
        self.metric_name = "accuracy" if data.train.is_classification else "mse"
        self.optimizer = make_optimizer(self.model.parameters(), config)
        self.scheduler = self._make_scheduler()
        self.history: list[dict] = []
        self.batch_losses: list[float] = []
        self.start_epoch = 1
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._tensors = {part: self._to_device(ds) for part, ds in
                         (("train", data.train), ("val", data.val), ("test", data.test)) if ds is not None}

    # ----- control (any thread)

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # ----- set-up

    def _choose_loss(self, train: Dataset, model: torch.nn.Module) -> str:
        if self.config.loss != "auto":
            if self.config.loss in ("cross_entropy", "bce_with_logits") and not train.is_classification:
                raise TrainingError(f"{self.config.loss} needs class labels; {train.name} is a regression dataset")
            return self.config.loss
        if not train.is_classification:
            return "mse"
        return "bce_with_logits" if train.num_classes == 2 and self._output_size(train) == 1 else "cross_entropy"

    def _output_size(self, train: Dataset) -> int:
        with torch.no_grad():
            was_training = self.model.training
            self.model.eval()
            out = self.model(train.x[:1].to(self.device))
            self.model.train(was_training)
        return int(out.shape[-1])

    def _make_scheduler(self):
        c, opt, lr = self.config, self.optimizer, torch.optim.lr_scheduler
        return {
            "none": lambda: None,
            "step": lambda: lr.StepLR(opt, step_size=c.step_size, gamma=c.gamma),
            "exponential": lambda: lr.ExponentialLR(opt, gamma=c.gamma),
            "cosine": lambda: lr.CosineAnnealingLR(opt, T_max=c.epochs),
            "plateau": lambda: lr.ReduceLROnPlateau(opt, factor=c.gamma, patience=max(1, c.step_size // 2)),
        }[c.schedule]()

    def _to_device(self, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        """Move a split to the device once (these datasets fit; a copy per batch would cost more)."""
        return data.x.to(self.device), data.y.to(self.device)

    # ----- loss and metric

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        name = self.loss_name
        if name == "cross_entropy":
            return F.cross_entropy(out, y)
        if name == "bce_with_logits":
            return F.binary_cross_entropy_with_logits(out.reshape(-1), y.float())
        target = F.one_hot(y, out.shape[-1]).to(out.dtype) if y.dtype == torch.int64 else y
        return F.mse_loss(out, target) if name == "mse" else F.l1_loss(out, target)

    def _metric_sum(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Correct predictions (classification) or summed squared error per sample (regression)."""
        if y.dtype != torch.int64:
            return ((out.float() - y) ** 2).mean(dim=-1).sum()
        predicted = (out.reshape(-1) > 0).long() if self.loss_name == "bce_with_logits" else out.argmax(dim=-1)
        return (predicted == y).sum()

    def _predict(self, out: torch.Tensor) -> torch.Tensor:
        if not self.data.train.is_classification:
            return out.float()
        return (out.reshape(-1) > 0).long() if self.loss_name == "bce_with_logits" else out.argmax(dim=-1)

    def _autocast(self):
        enabled = self.config.bf16 and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    # ----- running

    def evaluate(self, part: str) -> tuple[float, float, torch.Tensor]:
        """Mean loss, metric and predictions over a split, in eval mode."""
        x, y = self._tensors[part]
        self.model.eval()
        total_loss, total_metric, predictions = 0.0, 0.0, []
        with torch.no_grad(), self._autocast():
            for start in range(0, len(x), max(self.config.batch_size, 256)):
                out = self.model(x[start:start + max(self.config.batch_size, 256)])
                yb = y[start:start + len(out)]
                total_loss += float(self._loss(out, yb)) * len(out)
                total_metric += float(self._metric_sum(out, yb))
                predictions.append(self._predict(out).cpu())
        self.model.train()
        n = max(len(x), 1)
        return total_loss / n, total_metric / n, torch.cat(predictions) if predictions else torch.empty(0)

    def fit(self, resume_from: str | Path | None = None, checkpoint: str | Path | None = None) -> TrainResult:
        """Train for the configured epochs (continuing a checkpoint's run when given), saving a checkpoint
        after each epoch when `checkpoint` is a path."""
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        threads = torch.get_num_threads()
        if self.config.threads and self.config.threads != threads:
            torch.set_num_threads(self.config.threads)
        try:
            return self._train(checkpoint)
        finally:
            if torch.get_num_threads() != threads:  # setting it rebuilds torch's thread pool: only when needed
                torch.set_num_threads(threads)

    def _train(self, checkpoint: str | Path | None) -> TrainResult:
        c = self.config
        self._progress = [0, (c.epochs - self.start_epoch + 1) * math.ceil(len(self.data.train) / c.batch_size)]
        good_state = copy.deepcopy(self.model.state_dict())
        best_val, best_state, waited = math.inf, good_state, 0
        status, message = "finished", f"trained {c.epochs} epochs"
        self.model.train()
        for epoch in range(self.start_epoch, c.epochs + 1):
            outcome = self._train_epoch(epoch)
            if outcome == "stopped":
                status, message = "stopped", f"stopped by the user during epoch {epoch}"
                break
            if outcome is not None:  # a non-finite loss
                self.model.load_state_dict(good_state)
                kept = f"the end of epoch {epoch - 1}" if epoch > self.start_epoch else "the start of the run"
                status, message = "diverged", (f"{outcome}; training stopped and the weights from {kept} are kept "
                                               "(try a smaller learning rate)")
                break
            report = self._end_epoch(epoch)
            good_state = copy.deepcopy(self.model.state_dict())
            if checkpoint is not None:
                self.save_checkpoint(checkpoint, epoch)
            if c.early_stopping and report.val_loss is not None:
                if report.val_loss < best_val:
                    best_val, best_state, waited = report.val_loss, good_state, 0
                else:
                    waited += 1
                    if waited >= c.early_stopping:
                        self.model.load_state_dict(best_state)
                        status = "early_stopped"
                        message = (f"stopped early after epoch {epoch}: the validation loss has not improved for "
                                   f"{waited} epochs; the best weights (validation loss {best_val:.4g}) are kept")
                        break
        result = TrainResult(status, message, self.history, self.batch_losses, metric_name=self.metric_name)
        if status != "stopped":
            result.test_loss, result.test_metric, result.test_predictions = self.evaluate("test")
        self.on_log(message)
        return result

    def _train_epoch(self, epoch: int) -> str | None:
        """One pass over the training split. None when it completes; "stopped"; or, for a loss that is
        not finite, the sentence that says where."""
        c = self.config
        x, y = self._tensors["train"]
        n, bs = len(x), c.batch_size
        batches = math.ceil(n / bs)
        torch.manual_seed(c.seed * 100_003 + epoch)  # the same order whether a run is resumed or not
        order = torch.randperm(n).to(self.device)
        losses = torch.zeros(batches, device=self.device)
        self._metric_total = torch.zeros((), device=self.device)
        reported, last_report, self._epoch_start = 0, time.perf_counter(), time.perf_counter()
        for b in range(batches):
            if not self._running.is_set():
                paused_at = time.perf_counter()
                self._running.wait()
                self._epoch_start += time.perf_counter() - paused_at
            if self._stop.is_set():
                self.batch_losses.extend(losses[reported:b].tolist())
                return "stopped"
            index = order[b * bs:(b + 1) * bs]
            xb, yb = x[index], y[index]
            if c.augment:
                xb = augment(xb, c.augment)
            with self._autocast():
                out = self.model(xb)
                loss = self._loss(out, yb)
                if c.l1:
                    loss = loss + c.l1 * sum(p.abs().sum() for p in self.model.parameters())
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if c.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
            self.optimizer.step()
            losses[b] = loss.detach()
            self._metric_total += self._metric_sum(out.detach(), yb)
            self._progress[0] += 1
            now = time.perf_counter()
            if now - last_report >= c.report_interval or b == batches - 1:
                chunk = losses[reported:b + 1].tolist()  # the one synchronization with the device
                bad = next((i for i, v in enumerate(chunk) if not math.isfinite(v)), None)
                if bad is not None:
                    self.batch_losses.extend(chunk[:bad])
                    return f"the loss became {chunk[bad]} at epoch {epoch}, batch {reported + bad + 1}"
                self.batch_losses.extend(chunk)
                reported, last_report = b + 1, now
                rate = min(n, (b + 1) * bs) / max(now - self._epoch_start, 1e-9)
                done, total = self._progress
                self.on_batch(BatchReport(epoch, b + 1, batches, chunk, rate, (total - done) * bs / max(rate, 1e-9),
                                          done / max(total, 1)))
        self._epoch_losses = losses
        return None

    def _end_epoch(self, epoch: int) -> EpochReport:
        """Validation, the learning-rate schedule, and the epoch's report."""
        c = self.config
        seconds = time.perf_counter() - self._epoch_start
        n = len(self.data.train)
        val_loss = val_metric = None
        if "val" in self._tensors:
            val_loss, val_metric, _ = self.evaluate("val")
        train_loss = float(self._epoch_losses.mean())
        lr_now = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None:
            if c.schedule == "plateau":
                self.scheduler.step(val_loss if val_loss is not None else train_loss)
            else:
                self.scheduler.step()
        report = EpochReport(epoch, c.epochs, train_loss, float(self._metric_total) / n, val_loss, val_metric,
                             lr_now, seconds, n / max(seconds, 1e-9))
        self.history.append(asdict(report))
        self.on_epoch(report)
        return report

    # ----- checkpoints

    def save_checkpoint(self, path: str | Path, epoch: int) -> None:
        """Weights, optimizer, schedule, epoch and curves: all a resumed run needs."""
        state = {
            "format": CHECKPOINT_FORMAT, "epoch": epoch,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "history": self.history, "batch_losses": self.batch_losses, "config": self.config.to_dict(),
        }
        atomic_torch_save(state, path)

    def load_checkpoint(self, path: str | Path) -> None:
        try:
            state = read_tensors(path)
        except WeightsError as e:
            raise TrainingError(str(e)) from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"{path}: not a netbuilder checkpoint")
        try:
            apply_state(self.model, state["model"], str(path))
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state["scheduler"]:
                self.scheduler.load_state_dict(state["scheduler"])
            self.history = list(state["history"])
            self.batch_losses = list(state["batch_losses"])
            self.start_epoch = int(state["epoch"]) + 1
        except WeightsError as e:
            raise TrainingError(str(e)) from None
        except (KeyError, ValueError, TypeError) as e:
            raise TrainingError(f"{path}: the checkpoint does not fit this graph and settings ({e})") from None
        if self.start_epoch > self.config.epochs:
            raise TrainingError(f"{path}: the checkpoint already has {self.start_epoch - 1} epochs; "
                                f"ask for more than {self.config.epochs}")
