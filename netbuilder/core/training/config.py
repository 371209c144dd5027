"""A training run's settings (TrainConfig), checked; the reports a run gives as it goes and when it ends; and
what the settings name: optimizers, schedules, devices, the automatic loss. No loop here (core/training/trainer.py).
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from ..base.errors import NetbuilderError
from ..data import Splits
from ..data.augment import AugmentError, canonical
from .objective import AUTO_LOSSES

LOSSES = ("auto", *AUTO_LOSSES)
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "exponential", "cosine", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
COMPILE_MODES = ("auto", "always", "off")  # background torch.compile: when it pays for itself, always, never
TRIAL_STEPS, TRIAL_SECONDS = 5, 0.5  # each model is timed over at least this many steps and seconds
KEEP_COMPILED_AT = 1.03  # the compiled model is kept when it trains at least this much faster than the eager one
TUNE_MODES = ("auto", "off")  # channels_last and mixed precision where the device gains from them, or as written
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
    augment: list = field(default_factory=list)  # ["flip", "rotate=15", ...] (core/data/augment; check() writes it so)
    seed: int = 0
    device: str = "auto"
    bf16: bool = False  # bfloat16 autocast (CUDA GPUs with bf16, CPUs whose cores have AMX or AVX-512 BF16)
    fp16: bool = False  # float16 autocast with loss scaling (CUDA)
    threads: int = 0  # CPU threads for torch while training; 0: torch's default (all cores)
    compile: str = "auto"  # background torch.compile (core/background_compile.py): auto (when it pays), always, off
    tune: str = "auto"  # auto: channels_last for convolutions; bf16 (or fp16) autocast where measured faster (tuning.py)
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
        need(self.compile in COMPILE_MODES, f"compile must be one of {', '.join(COMPILE_MODES)}")
        need(self.tune in TUNE_MODES, f"tune must be one of {', '.join(TUNE_MODES)}")
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
        try:
            self.augment = canonical(self.augment)  # the form the run's settings record, the same however written
        except AugmentError as e:
            raise TrainingError(f"augment: {e}") from None

    def to_dict(self) -> dict:
        return asdict(self)


# options that may change when a run is resumed from its checkpoint (the rest must be as the run had them)
RESUMABLE = ("epochs", "lr", "early_stopping", "device", "threads", "report_interval", "compile", "tune",
             "statistics")


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
    losses: dict[str, float] = field(default_factory=dict)  # per loss block, on the training split (raw)
    val_losses: dict[str, float] = field(default_factory=dict)
    loss_weights: dict[str, float] = field(default_factory=dict)  # per loss block: its weight in the objective

    def weighted_losses(self) -> dict[str, float]:
        """Each loss block's part of the objective (weight x loss): the parts sum to train_loss."""
        return weighted_parts(self.losses, self.loss_weights)


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
    test_losses: dict[str, float] = field(default_factory=dict)  # per loss block, raw
    loss_weights: dict[str, float] = field(default_factory=dict)

    def weighted_test_losses(self) -> dict[str, float]:
        """Each loss block's part of the test objective (weight x loss): the parts sum to test_loss."""
        return weighted_parts(self.test_losses, self.loss_weights)


def weighted_parts(losses: dict[str, float], weights: dict[str, float]) -> dict[str, float]:
    """{loss block: weight x its loss}, the parts of the objective as they count in it."""
    return {name: weights.get(name, 1.0) * value for name, value in losses.items()}


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
        if config.loss in ("mse", "l1") and train.is_classification and output_size != train.num_classes:
            raise TrainingError(f"{config.loss} on class labels compares each output with its class's one-hot "
                                f"value: {train.name} has {train.num_classes} classes and the graph {output_size} "
                                f"output{'s' if output_size != 1 else ''}; use auto, or one output per class")
        if config.loss == "cross_entropy" and output_size is not None and output_size < (train.num_classes or 0):
            hint = "; use bce_with_logits (or auto)" if output_size == 1 and train.num_classes == 2 else ""
            raise TrainingError(f"cross_entropy needs one output per class; {train.name} has {train.num_classes} "
                                f"classes and the graph {output_size} output{'s' if output_size != 1 else ''}{hint}")
        return config.loss
    if not train.is_classification:
        return "mse"
    return "bce_with_logits" if train.num_classes == 2 and output_size == 1 else "cross_entropy"
