"""The Trainer: runs the optimizers of an objective over a compiled graph and reports through plain callbacks.

It knows nothing of Qt: the GUI runs it on a QThread and turns its callbacks into signals; the CLI
prints them. Control (stop, pause, resume) is thread-safe. The hot loop keeps the data on the device,
records each batch's losses on the device, and synchronizes only when it reports (a few times a second).
"""
from __future__ import annotations

import copy
import math
import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .block_stats import BlockStatistics
from .data import Splits
from .data.augment import AUGMENTATIONS, augment
from .errors import NetbuilderError
from .objective import AUTO_LOSSES, Objective, auto_loss_value, predicted_classes, score

LOSSES = ("auto", *AUTO_LOSSES)
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "exponential", "cosine", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_SEED = 2**32 - 1


class TrainingError(NetbuilderError):
    """A configuration, checkpoint or device that cannot be used; the message says why."""


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 100
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # for momentum, nesterov and rmsprop
    beta1: float = 0.9  # Adam and AdamW: decay of the running mean of gradients (GANs use 0.5)
    weight_decay: float = 0.0  # L2
    l1: float = 0.0  # L1 penalty on all weights
    loss: str = "auto"  # for a graph without loss blocks
    schedule: str = "none"
    step_size: int = 5  # step schedule: epochs between decays
    gamma: float = 0.5  # step / exponential decay factor; plateau reduction factor
    grad_clip: float = 0.0  # max gradient norm; 0: off
    early_stopping: int = 0  # epochs without a better validation loss before stopping; 0: off
    augment: list[str] = field(default_factory=list)
    seed: int = 0
    device: str = "auto"
    bf16: bool = False  # bfloat16 autocast (CUDA with bf16 support)
    fp16: bool = False  # float16 autocast with loss scaling (CUDA)
    threads: int = 0  # CPU threads for torch while training; 0: torch's default (all cores)
    report_interval: float = 0.1  # seconds between batch reports
    statistics: int = 0  # per-block statistics (activations, gradients, updates): observe a step every N batches; 0: off

    def check(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise TrainingError(message)

        for name in ("epochs", "batch_size", "step_size", "early_stopping", "seed", "threads", "statistics"):
            value = getattr(self, name)
            need(isinstance(value, int) and not isinstance(value, bool),
                 f"{name.replace('_', ' ')} must be a whole number, got {str(value)[:40]}")
        need(1 <= self.epochs <= 100_000, f"epochs must be 1..100000, got {self.epochs}")
        need(1 <= self.batch_size <= 1_000_000, f"batch size must be 1..1000000, got {self.batch_size}")
        need(self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        need(self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}")
        need(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}")
        need(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}")
        words = {"lr": "learning rate"}
        for name in ("lr", "momentum", "beta1", "weight_decay", "l1", "grad_clip", "gamma", "report_interval"):
            value = getattr(self, name)
            need(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
                 f"{words.get(name, name.replace('_', ' '))} must be a finite number, got {str(value)[:40]}")
        need(0 < self.lr <= 100, f"learning rate must be in (0, 100], got {self.lr}")
        for name in ("momentum", "weight_decay", "l1", "grad_clip"):
            value = getattr(self, name)
            need(value >= 0, f"{name.replace('_', ' ')} must be >= 0, got {value}")
        need(self.momentum < 1 or self.optimizer not in ("momentum", "nesterov", "rmsprop"),
             f"momentum must be below 1, got {self.momentum}")
        need(0 <= self.beta1 < 1, f"beta1 must be in [0, 1), got {self.beta1}")
        need(0 < self.gamma <= 1, f"gamma (the decay factor) must be in (0, 1], got {self.gamma}")
        need(self.step_size >= 1 and self.early_stopping >= 0, "step size must be >= 1, early stopping >= 0")
        need(0 <= self.seed <= MAX_SEED, f"seed must be 0..{MAX_SEED}, got {self.seed}")
        need(0 <= self.threads <= 1024, f"threads must be 0..1024, got {self.threads}")
        need(0 <= self.statistics <= 1_000_000, f"statistics must be 0 (off) or every N batches, got {self.statistics}")
        need(not (self.bf16 and self.fp16), "choose bf16 or fp16, not both")
        unknown = [a for a in self.augment if a not in AUGMENTATIONS]
        need(not unknown, f"unknown augmentation {', '.join(map(str, unknown))[:80]}; use {', '.join(AUGMENTATIONS)}")

    def to_dict(self) -> dict:
        return asdict(self)


# options that may change when a run is resumed from its checkpoint (the rest must be as the run had them)
RESUMABLE = ("epochs", "lr", "early_stopping", "device", "threads", "report_interval", "statistics")


@dataclass
class BatchReport:
    epoch: int
    batch: int  # 1-based, within the epoch
    batches: int
    losses: list[float]  # every batch's loss (the objective) since the previous report
    samples_per_s: float
    eta_s: float
    progress: float  # 0..1 over the whole run


@dataclass
class EpochReport:
    epoch: int
    epochs: int
    train_loss: float
    train_metric: float | None
    val_loss: float | None
    val_metric: float | None
    lr: float
    seconds: float
    samples_per_s: float
    losses: dict[str, float] = field(default_factory=dict)  # per loss block, on the training split
    val_losses: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    status: str  # finished, stopped, early_stopped, diverged
    message: str
    history: list[dict]
    batch_losses: list[float]
    test_loss: float | None = None
    test_metric: float | None = None
    metric_name: str | None = "accuracy"
    test_predictions: torch.Tensor | None = None  # per test sample (or pixel): class index, or output values
    test_targets: torch.Tensor | None = None  # what the predictions are compared with
    test_losses: dict[str, float] = field(default_factory=dict)


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
        "adam": lambda: torch.optim.Adam(params, lr=c.lr, betas=(c.beta1, 0.999), weight_decay=c.weight_decay),
        "adamw": lambda: torch.optim.AdamW(params, lr=c.lr, betas=(c.beta1, 0.999), weight_decay=c.weight_decay),
    }
    return kinds[c.optimizer]()


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    c, lr = config, torch.optim.lr_scheduler
    return {
        "none": lambda: None,
        "step": lambda: lr.StepLR(optimizer, step_size=c.step_size, gamma=c.gamma),
        "exponential": lambda: lr.ExponentialLR(optimizer, gamma=c.gamma),
        "cosine": lambda: lr.CosineAnnealingLR(optimizer, T_max=c.epochs),
        "plateau": lambda: lr.ReduceLROnPlateau(optimizer, factor=c.gamma, patience=max(1, c.step_size // 2)),
    }[c.schedule]()


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


def check_precision(config: TrainConfig, device: torch.device) -> None:
    """bf16 and fp16 run where they can, or are refused: never silently ignored."""
    if config.bf16 and not (device.type == "cuda" and torch.cuda.is_bf16_supported()):
        raise TrainingError(f"bf16 needs a CUDA GPU that supports bfloat16; this run is on {device.type}: "
                            "leave bf16 off")
    if config.fp16 and device.type != "cuda":
        raise TrainingError(f"fp16 needs a CUDA GPU; this run is on {device.type}: leave fp16 off")


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


def choose_auto_loss(config: TrainConfig, splits: Splits, output_size: int | None) -> str:
    """The loss of a graph without loss blocks: cross-entropy for classes (BCE-with-logits for one output and
    two classes), MSE for regression; or the one asked for, when it can work."""
    train = splits.train
    if config.loss != "auto":
        if config.loss in ("cross_entropy", "bce_with_logits") and not train.is_classification:
            raise TrainingError(f"{config.loss} needs class labels; {train.name} is a regression dataset")
        if config.loss == "bce_with_logits" and (train.num_classes != 2 or output_size != 1):
            raise TrainingError(f"bce_with_logits needs two classes and one output; {train.name} has "
                                f"{train.num_classes} classes and the graph {output_size} outputs")
        return config.loss
    if not train.is_classification:
        return "mse"
    return "bce_with_logits" if train.num_classes == 2 and output_size == 1 else "cross_entropy"


class Trainer:
    def __init__(self, model: torch.nn.Module, data: Splits, config: TrainConfig, *,
                 objective: Objective | None = None,
                 on_batch: Callable[[BatchReport], None] | None = None,
                 on_epoch: Callable[[EpochReport], None] | None = None,
                 on_log: Callable[[str], None] | None = None) -> None:
        config.check()
        self.config, self.data = config, data
        self.on_batch, self.on_epoch = on_batch or (lambda r: None), on_epoch or (lambda r: None)
        self.on_log = on_log or (lambda s: None)
        self.device = pick_device(config.device)
        check_precision(config, self.device)
        self.model = model.to(self.device)
        if objective is None:  # a compiled graph without loss blocks, trained on the samples and labels
            objective = Objective([], [("x", "x")], members={"all": [n for n, _ in model.named_children()]})
        self.objective = objective
        if not objective.has_terms:
            objective.auto_loss = choose_auto_loss(config, data, self._output_size())
            objective.metric = "accuracy" if data.train.is_classification else "mse"
        self.loss_name = objective.auto_loss or "objective"
        self.metric_name = objective.metric
        self.terms = {t.name: t for t in objective.terms}
        present = dict(self.model.named_children())  # blocks only inference uses are not in a training model
        objective.frozen = [name for name in objective.frozen if name in present]
        objective.members = {group: [name for name in names if name in present]
                             for group, names in objective.members.items()}
        for name in objective.frozen:
            for p in self.model.get_submodule(name).parameters():
                p.requires_grad_(False)
        self.optimizers = {group: make_optimizer(self._parameters(group), config) for group in objective.steps}
        self.optimizer = next(iter(self.optimizers.values()))
        self.schedulers = {group: make_scheduler(opt, config) for group, opt in self.optimizers.items()}
        self.scaler = torch.amp.GradScaler("cuda") if config.fp16 else None
        self.history: list[dict] = []
        self.batch_losses: list[float] = []
        self.start_epoch = 1
        self.early = {"best": math.inf, "waited": 0, "state": None}  # early stopping, kept in checkpoints
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._tensors = {part: {name: t.to(self.device) for name, t in ds.fields.items()}
                         for part, ds in (("train", data.train), ("val", data.val), ("test", data.test))
                         if ds is not None}
        # per-block statistics (block_stats.py), and work other threads ask of this one (request)
        self.statistics = BlockStatistics(self.model, config.statistics) if config.statistics else None
        self._requests: list[tuple[Callable[[], object], Future]] = []
        self._requests_lock = threading.Lock()
        self._requests_closed = False
        self._wake = threading.Event()

    def _parameters(self, group: str) -> list[torch.nn.Parameter]:
        seen, params = set(), []
        for name in self.objective.members.get(group, []):
            for p in self.model.get_submodule(name).parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def _output_size(self) -> int | None:
        with torch.no_grad():
            was_training = self.model.training
            self.model.eval()
            out = self.model(self.data.train.x[:1].to(self.device))
            self.model.train(was_training)
        return int(out.shape[-1]) if isinstance(out, torch.Tensor) and out.dim() > 1 else None

    def _train_mode(self) -> None:
        """Training mode, except frozen blocks: their BatchNorm statistics stay as they are."""
        self.model.train()
        for name in self.objective.frozen:
            self.model.get_submodule(name).eval()

    # ----- control (any thread)

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        self._wake.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    def request(self, work: Callable[[], object]) -> Future:
        """Have work() run on the training thread, between two batches (at once while paused), and get its
        result (or its exception) in a Future: the editor probes a paused run's model this way, without
        blocking and without two threads using the model at once. Work asked after the run has ended fails
        with TrainingError; work left when it ends is done then."""
        future: Future = Future()
        with self._requests_lock:
            if self._requests_closed:
                future.set_exception(TrainingError("the training run has ended"))
                return future
            self._requests.append((work, future))
        self._wake.set()
        return future

    def _serve_requests(self) -> None:
        while True:
            with self._requests_lock:
                if not self._requests:
                    return
                work, future = self._requests.pop(0)
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as e:  # noqa: BLE001 - the asker gets it, as the Future's exception
                    future.set_exception(e)

    def _wait_paused(self) -> None:
        """While paused: do what is asked (requests) until resumed or stopped."""
        self._serve_requests()
        while not self._running.is_set():
            self._wake.wait()
            self._wake.clear()
            self._serve_requests()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # ----- the objective on a batch

    def _autocast(self):
        dtype = torch.bfloat16 if self.config.bf16 else torch.float16
        return torch.autocast(self.device.type, dtype=dtype, enabled=self.config.bf16 or self.config.fp16)

    def _forward(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict, object]:
        """(loss per term, the terms' inputs, the outputs) for a batch of fields."""
        out = self.model(*(batch[f] for _, f in self.objective.feeds))
        if self.objective.has_terms:
            return out["losses"], out["terms"], None
        loss = auto_loss_value(self.objective.auto_loss, out, batch["y"])
        return {"loss": loss}, {"loss": (out, batch["y"])}, out

    def _weighted(self, values: dict[str, torch.Tensor], group: str | None = None) -> torch.Tensor:
        if not self.objective.has_terms:
            return values["loss"]
        return sum(self.terms[n].weight * v for n, v in values.items()
                   if group is None or self.terms[n].trains == group)

    def _score(self, terms: dict) -> tuple[torch.Tensor, int] | None:
        if self.metric_name is None:
            return None
        if not self.objective.has_terms:
            if self.metric_name == "mse":
                out, y = terms["loss"]
                return ((out.float() - y) ** 2).mean(dim=-1).sum(), len(y)
            return score(None, terms["loss"], self.objective.auto_loss)
        name = self.objective.metric_term
        return score(self.terms[name], terms[name])

    # ----- running

    def evaluate(self, part: str) -> tuple[float, float | None, torch.Tensor, dict[str, float]]:
        """Mean objective, metric, predictions and per-term losses over a split, in eval mode."""
        tensors = self._tensors[part]
        n = len(next(iter(tensors.values())))
        self.model.eval()
        totals: dict[str, float] = {}
        metric_sum, metric_count, predictions, targets = 0.0, 0, [], []
        step = max(self.config.batch_size, 256)
        with torch.no_grad(), self._autocast():
            for start in range(0, n, step):
                batch = {k: v[start:start + step] for k, v in tensors.items()}
                size = len(next(iter(batch.values())))
                values, terms, out = self._forward(batch)
                for name, value in values.items():
                    totals[name] = totals.get(name, 0.0) + float(value) * size
                scored = self._score(terms)
                if scored is not None:
                    metric_sum += float(scored[0])
                    metric_count += scored[1]
                pred, target = self._prediction(terms)
                if pred is not None:
                    predictions.append(pred.cpu())
                    targets.append(target.cpu())
        self._train_mode()
        per_term = {name: total / max(n, 1) for name, total in totals.items()}
        loss = per_term["loss"] if not self.objective.has_terms else sum(
            self.terms[k].weight * v for k, v in per_term.items())
        metric = metric_sum / metric_count if metric_count else None
        self.last_targets = torch.cat(targets) if targets else None
        return loss, metric, torch.cat(predictions) if predictions else torch.empty(0), per_term

    def _prediction(self, terms: dict) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """What each test sample is predicted to be: a class (classification, per pixel for segmentation),
        or the output values (regression)."""
        if not self.objective.has_terms:
            out, y = terms["loss"]
            if not self.data.train.is_classification:
                return out.float(), y
            return predicted_classes(None, out, self.objective.auto_loss), y
        name = self.objective.metric_term
        term = self.terms.get(name)
        if term is None or term.type not in ("CrossEntropyLoss", "BCEWithLogitsLoss"):
            return None, None
        pred, target = terms[name][:2]
        return predicted_classes(term, pred), target.long()

    def fit(self, resume_from: str | Path | None = None, checkpoint: str | Path | None = None) -> TrainResult:
        """Train for the configured epochs (continuing a checkpoint's run when given), saving a checkpoint
        after each epoch when `checkpoint` is a path."""
        from .checkpoint import load_checkpoint

        if resume_from is not None:
            load_checkpoint(self, resume_from)
        threads = torch.get_num_threads()
        if self.config.threads and self.config.threads != threads:
            torch.set_num_threads(self.config.threads)
        try:
            return self._train(checkpoint)
        finally:
            with self._requests_lock:
                self._requests_closed = True
            self._serve_requests()
            if torch.get_num_threads() != threads:  # setting it rebuilds torch's thread pool: only when needed
                torch.set_num_threads(threads)

    def _train(self, checkpoint: str | Path | None) -> TrainResult:
        from .checkpoint import save_checkpoint

        c = self.config
        n_train = len(self.data.train)
        self._progress = [0, (c.epochs - self.start_epoch + 1) * math.ceil(n_train / c.batch_size)]
        good_state = copy.deepcopy(self.model.state_dict())
        status, message = "finished", f"trained {c.epochs} epochs"
        self._train_mode()
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
            stop_early = self._early_stopping(report, good_state)
            if checkpoint is not None:
                save_checkpoint(self, checkpoint, epoch)
            if stop_early:
                self.model.load_state_dict(self.early["state"])
                status = "early_stopped"
                message = (f"stopped early after epoch {epoch}: the validation loss has not improved for "
                           f"{self.early['waited']} epochs; the best weights (validation loss "
                           f"{self.early['best']:.4g}) are kept")
                break
        result = TrainResult(status, message, self.history, self.batch_losses, metric_name=self.metric_name)
        if status != "stopped":
            result.test_loss, result.test_metric, result.test_predictions, result.test_losses = self.evaluate("test")
            result.test_targets = self.last_targets
        self.on_log(message)
        return result

    def _early_stopping(self, report: EpochReport, state: dict) -> bool:
        if not self.config.early_stopping or report.val_loss is None:
            return False
        if report.val_loss < self.early["best"]:
            self.early.update(best=report.val_loss, waited=0, state=state)
            return False
        self.early["waited"] += 1
        return self.early["waited"] >= self.config.early_stopping

    def _batches(self, epoch: int):
        """The epoch's batches of fields, in a seeded order that is the same whether a run is resumed or not."""
        tensors = self._tensors["train"]
        n, bs = len(self.data.train), self.config.batch_size
        torch.manual_seed(self.config.seed * 100_003 + epoch)
        order = torch.randperm(n).to(self.device)
        for b in range(math.ceil(n / bs)):
            index = order[b * bs:(b + 1) * bs]
            batch = {k: v[index] for k, v in tensors.items()}
            if self.config.augment:
                for name in ("x", "x2"):
                    if name in batch:
                        batch[name] = augment(batch[name], self.config.augment)
            yield batch

    def _step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict]:
        """One optimizer step per group, in turn (a GAN's discriminator, then its generator)."""
        c = self.config
        objective_value, values, terms = None, {}, {}
        for group, optimizer in self.optimizers.items():
            with self._autocast():
                step_values, step_terms, _ = self._forward(batch)
                loss = self._weighted(step_values, group if len(self.optimizers) > 1 else None)
                if c.l1:
                    loss = loss + c.l1 * sum(p.abs().sum() for p in self._parameters(group))
            optimizer.zero_grad(set_to_none=True)
            self.model.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(optimizer)
            else:
                loss.backward()
            if c.grad_clip:
                torch.nn.utils.clip_grad_norm_(self._parameters(group), c.grad_clip)
            if self.scaler is not None:
                self.scaler.step(optimizer)
                self.scaler.update()
            else:
                optimizer.step()
            for name, value in step_values.items():
                if len(self.optimizers) == 1 or self.terms[name].trains == group:
                    values[name] = value.detach()
            terms = step_terms
            objective_value = loss.detach() if objective_value is None else objective_value + loss.detach()
        return objective_value, values, terms

    def _train_epoch(self, epoch: int) -> str | None:
        """One pass over the training split. None when it completes; "stopped"; or, for a loss that is
        not finite, the sentence that says where."""
        c = self.config
        n, bs = len(self.data.train), c.batch_size
        batches = math.ceil(n / bs)
        losses = torch.zeros(batches, device=self.device)
        term_sums = {name: torch.zeros((), device=self.device) for name in (self.terms or {"loss": None})}
        metric = [torch.zeros((), device=self.device), 0]
        reported, last_report, self._epoch_start = 0, time.perf_counter(), time.perf_counter()
        for b, batch in enumerate(self._batches(epoch)):
            if not self._running.is_set() or self._requests:
                paused_at = time.perf_counter()
                self._wait_paused()
                self._epoch_start += time.perf_counter() - paused_at
            if self._stop.is_set():
                self.batch_losses.extend(losses[reported:b].tolist())
                return "stopped"
            observed = self.statistics is not None and self.statistics.wants(b)
            if observed:
                self.statistics.begin(self.scaler.get_scale() if self.scaler is not None else 1.0)
            try:
                loss, values, terms = self._step(batch)
            finally:
                if observed:
                    self.statistics.end()
            losses[b] = loss
            size = len(next(iter(batch.values())))
            for name, value in values.items():
                term_sums[name] += value * size
            scored = self._score({k: tuple(t.detach() for t in v) for k, v in terms.items()})
            if scored is not None:
                metric[0] += scored[0]
                metric[1] += scored[1]
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
        self._epoch_terms = {name: float(total) / n for name, total in term_sums.items()}
        self._epoch_metric = float(metric[0]) / metric[1] if metric[1] else None
        return None

    def _end_epoch(self, epoch: int) -> EpochReport:
        """Validation, the learning-rate schedule, and the epoch's report."""
        seconds = time.perf_counter() - self._epoch_start
        n = len(self.data.train)
        val_loss = val_metric = None
        val_terms: dict[str, float] = {}
        if "val" in self._tensors:
            val_loss, val_metric, _, val_terms = self.evaluate("val")
        train_loss = float(self._epoch_losses.mean())
        lr_now = self.optimizer.param_groups[0]["lr"]
        for scheduler in self.schedulers.values():
            if scheduler is None:
                continue
            if self.config.schedule == "plateau":
                scheduler.step(val_loss if val_loss is not None else train_loss)
            else:
                scheduler.step()
        if self.statistics is not None:
            self.statistics.end_epoch(epoch)
        report = EpochReport(epoch, self.config.epochs, train_loss, self._epoch_metric, val_loss, val_metric,
                             lr_now, seconds, n / max(seconds, 1e-9),
                             self._epoch_terms if self.objective.has_terms else {},
                             val_terms if self.objective.has_terms else {})
        self.history.append(asdict(report))
        self.on_epoch(report)
        return report
