"""The Trainer: runs the optimizers of an objective over a compiled graph and reports through plain callbacks.

It knows nothing of Qt: the GUI runs it on a QThread and turns its callbacks into signals; the CLI
prints them. Control (stop, pause, resume) is thread-safe. The hot loop keeps the data on the device,
records each batch's losses on the device, and synchronizes only when it reports (a few times a second).
"""
from __future__ import annotations

import copy
import functools
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from ..data import Splits
from .augmenting import RunAugmentation
from .block_stats import BlockStatistics
from .compile_switch import CompileSwitch
from .config import (
    BatchReport,
    EpochReport,
    TrainConfig,
    TrainResult,
    choose_auto_loss,
    make_optimizer,
    make_scheduler,
    pick_device,
)
from .control import RunControl
from .objective import Objective, auto_loss_value, predicted_classes, score
from .tuning import Precision, Probe, check_precision, choose_layout


class Trainer(RunControl):
    """Trains a model on splits of a dataset as a TrainConfig says. `probe`: what tuning learns of the machine (its
    CPU's flags, the timer of its trial steps: tuning.py); None: the machine itself."""

    def __init__(self, model: torch.nn.Module, data: Splits, config: TrainConfig, *,
                 objective: Objective | None = None,
                 on_batch: Callable[[BatchReport], None] | None = None,
                 on_epoch: Callable[[EpochReport], None] | None = None,
                 on_log: Callable[[str], None] | None = None, world=None, probe: Probe | None = None) -> None:
        super().__init__()
        config.check()
        self.config, self.data = config, data
        self.on_batch, self.on_epoch = on_batch or (lambda r: None), on_epoch or (lambda r: None)
        self.on_log = on_log or (lambda s: None)
        self.world = world  # a distributed.World in a multi-process run (core/distributed.py), else None
        self.device = world.device if world is not None else pick_device(config.device)
        check_precision(config, self.device, (probe or Probe()).cpuinfo)
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
        self.augmenting = None  # the run's augmentation (augmenting.py); it may give the model clean targets
        if config.augment:
            self.augmenting = RunAugmentation(config.augment, self.model, objective.feeds, objective.has_terms, data,
                                              self.device, config.seed, world.rank if world is not None else 0)
            self.model = self.augmenting.model
        self.loss_weights = {t.name: t.weight for t in objective.terms}  # reported, so parts can be weighed
        present = dict(self.model.named_children())  # blocks only inference uses are not in a training model
        objective.frozen = [name for name in objective.frozen if name in present]
        objective.members = {group: [name for name in names if name in present]
                             for group, names in objective.members.items()}
        for name in objective.frozen:
            for p in self.model.get_submodule(name).parameters():
                p.requires_grad_(False)
        self._group_params: dict[str, list[torch.nn.Parameter]] = {}
        self.tuning = choose_layout(self.model, self.device, config)  # channels_last where it gains, in words
        self.precision = Precision(self, probe)  # float32, bf16 or fp16 autocast: asked for, or measured (tuning.py)
        self._ddp = None  # the model wrapped in DistributedDataParallel, in a multi-process run
        if world is not None:
            from torch.nn.parallel import DistributedDataParallel

            self._ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=len(objective.steps) > 1)  # a group's loss leaves other groups' weights out
        self._share = 1.0  # this process's part of the global batch x processes (its loss's weight)
        self.optimizers = {group: make_optimizer(self._parameters(group), config) for group in objective.steps}
        self.optimizer = next(iter(self.optimizers.values()))
        self.schedulers = {group: make_scheduler(opt, config) for group, opt in self.optimizers.items()}
        self.scaler = torch.amp.GradScaler("cuda") if self.precision.scaled else None
        self.history: list[dict] = []
        self.batch_losses: list[float] = []
        self.start_epoch = 1
        self.early = {"best": math.inf, "waited": 0, "state": None}  # early stopping, kept in checkpoints
        used = {field for _, field in objective.feeds} | (set() if objective.has_terms else {"y"})
        from ..data.stream import BatchLoader, is_lazy

        self._tensors = {part: {name: t if is_lazy(t) else t.to(self.device) for name, t in ds.fields.items()
                                if name in used}
                         for part, ds in (("train", data.train), ("val", data.val), ("test", data.test))
                         if ds is not None}
        # splits whose samples stay on disk: read a batch at a time by DataLoader worker processes (data/stream.py),
        # started on the first pass that needs them and stopped when fit ends (or, outside fit, when the pass ends):
        # a trainer kept after its run (the editor keeps the last) holds no processes
        self._lazy_parts = {part for part, fields in self._tensors.items() if any(is_lazy(t) for t in fields.values())}
        self._loaders: dict[str, BatchLoader] = {}
        self._fitting = False
        self.notes: list[str] = []  # what the run decided on its own (compiling, ...), as on_log heard it
        self.compiling = CompileSwitch(self)  # background torch.compile and the switch to it (compile_switch.py)
        # per-block statistics (block_stats.py), and work other threads ask of this one (request)
        self.statistics = BlockStatistics(self.model, config.statistics) if config.statistics else None
        self._observing = False  # a step the statistics observe runs eagerly (hooks do not fire in compiled code)

    def _parameters(self, group: str) -> list[torch.nn.Parameter]:
        """The trainable parameters a group's optimizer steps (each once, though blocks share them)."""
        if group not in self._group_params:
            seen, params = set(), []
            for name in self.objective.members.get(group, []):
                for p in self.model.get_submodule(name).parameters():
                    if p.requires_grad and id(p) not in seen:
                        seen.add(id(p))
                        params.append(p)
            self._group_params[group] = params
        return self._group_params[group]

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

    # ----- the objective on a batch

    def _autocast(self):
        """The autocast context of the run's precision (of the step being timed, during the precision trial)."""
        return self.precision.autocast()

    def _forward(self, batch: dict[str, torch.Tensor], training: bool = False) -> tuple[dict[str, torch.Tensor], dict, object]:
        """(loss per term, the terms' inputs, the outputs) for a batch of fields. A training step of a full batch
        runs the compiled model once the run has switched to it."""
        args = tuple(batch[f] for _, f in self.objective.feeds)
        if self.augmenting is not None:
            args += self.augmenting.extra_args(batch)
        compiled = (training and self.compiling.compiled is not None and not self._observing
                    and len(args[0]) == self.config.batch_size)
        out = (self._ddp if training and self._ddp is not None else self.compiling.compiled if compiled
               else self.model)(*args)
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
        if part in self._lazy_parts:
            batches = self._streamed(part, [torch.arange(s, min(s + step, n)) for s in range(0, n, step)])
        else:
            batches = ({k: v[start:start + step] for k, v in tensors.items()} for start in range(0, n, step))
        with torch.no_grad(), self._autocast():
            for batch in batches:
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

    def _streamed(self, part: str, positions: list[torch.Tensor]):
        """The batches of a split read from disk by its loader's worker processes (started here when not running)."""
        from ..data.stream import BatchLoader

        if part not in self._loaders:
            self._loaders[part] = BatchLoader(self._tensors[part], self.device)
        try:
            yield from self._loaders[part].batches(positions)
        finally:
            if not self._fitting:
                self._loaders.pop(part, None)  # its worker processes stop with it

    def fit(self, resume_from: str | Path | None = None, checkpoint: str | Path | None = None) -> TrainResult:
        """Train for the configured epochs (continuing a checkpoint's run when given), saving a checkpoint
        after each epoch when `checkpoint` is a path."""
        from .checkpoint import load_checkpoint

        if resume_from is not None:
            load_checkpoint(self, resume_from)
        threads = torch.get_num_threads()
        if self.config.threads and self.config.threads != threads:
            torch.set_num_threads(self.config.threads)
        self._fitting = True
        try:
            return self._train(checkpoint)
        finally:
            self._fitting = False
            self._loaders.clear()  # their worker processes stop
            self._close_requests()
            if torch.get_num_threads() != threads:  # setting it rebuilds torch's thread pool: only when needed
                torch.set_num_threads(threads)

    def _train(self, checkpoint: str | Path | None) -> TrainResult:
        from .checkpoint import save_checkpoint

        c = self.config
        n_train = len(self.data.train)
        self._progress = [0, (c.epochs - self.start_epoch + 1) * math.ceil(n_train / c.batch_size)]
        good_state = copy.deepcopy(self.model.state_dict())
        status, message = "finished", f"trained {c.epochs} epochs"
        self._run_start = time.perf_counter()
        self.precision.plan()
        chosen = [*self.tuning, *filter(None, [self.precision.describe()])]
        tuned = f"tuned for {self.device.type}: {'; '.join(chosen)} (tune off: as written, in float32)"
        if chosen and tuned not in self.notes:
            self._note(tuned)
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
            if checkpoint is not None and (self.world is None or self.world.is_main):
                save_checkpoint(self, checkpoint, epoch)
            if stop_early:
                self.model.load_state_dict(self.early["state"])
                status = "early_stopped"
                message = (f"stopped early after epoch {epoch}: the validation loss has not improved for "
                           f"{self.early['waited']} epochs; the best weights (validation loss "
                           f"{self.early['best']:.4g}) are kept")
                break
        result = TrainResult(status, message, self.history, self.batch_losses, metric_name=self.metric_name,
                             loss_weights=self.loss_weights)
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

    def _batch_count(self) -> int:
        """Batches an epoch has (global batches, in a multi-process run: batch size x processes samples each; a last
        one too small to give every process a sample is left out)."""
        n, bs = len(self.data.train), self.config.batch_size
        if self.world is None:
            return math.ceil(n / bs)
        size = bs * self.world.size
        return n // size + (1 if n % size >= self.world.size else 0)

    def _batches(self, epoch: int):
        """The epoch's batches of fields, in a seeded order that is the same whether a run is resumed or not; in a
        multi-process run, this process's shard of each global batch."""
        tensors = self._tensors["train"]
        n, bs = len(self.data.train), self.config.batch_size
        torch.manual_seed(self.config.seed * 100_003 + epoch)
        order = torch.randperm(n).to(self.device)
        step = bs * (self.world.size if self.world is not None else 1)
        indices, shares = [], []
        for b in range(self._batch_count()):
            index = order[b * step:(b + 1) * step]
            if self.world is not None:
                shard = self.world.shard(index, len(index))
                shares.append(len(shard) * self.world.size / len(index))
                index = shard
            indices.append(index)
        if "train" in self._lazy_parts:  # read from disk by worker processes, in the same order
            batches = self._streamed("train", [index.cpu() for index in indices])
        else:
            batches = ({k: v[index] for k, v in tensors.items()} for index in indices)
        for b, batch in enumerate(batches):
            if shares:
                self._share = shares[b]
            if self.augmenting is not None:
                batch = self.augmenting(batch, epoch)
            yield batch

    def _step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict]:
        """One optimizer step per group, in turn (a GAN's discriminator, then its generator)."""
        c = self.config
        objective_value, values, terms = None, {}, {}
        for group, optimizer in self.optimizers.items():
            with self._autocast():
                step_values, step_terms, _ = self._forward(batch, training=True)
                loss = self._weighted(step_values, group if len(self.optimizers) > 1 else None)
                if c.l1:
                    loss = loss + c.l1 * sum(p.abs().sum() for p in self._parameters(group))
            optimizer.zero_grad(set_to_none=True)
            self.model.zero_grad(set_to_none=True)
            # several processes: DDP averages the gradients; weighting each loss by its share of the global batch
            # makes the average the gradient of the global batch's mean loss, even where shards differ in size
            scaled = loss * self._share if self._share != 1.0 else loss
            if self.scaler is not None:
                self.scaler.scale(scaled).backward()
                self.scaler.unscale_(optimizer)
            else:
                scaled.backward()
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
        batches = self._batch_count()
        losses = torch.zeros(batches, device=self.device)
        shares = torch.ones(batches, device=self.device)  # each batch's share of the global batch (several processes)
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
            if not self.compiling.settled:
                self.compiling.between_batches(epoch, b, batch)
            observed = self.statistics is not None and self.statistics.wants(b)
            if observed:
                self.statistics.begin(self.scaler.get_scale() if self.scaler is not None else 1.0)
                self._observing = True
            try:
                loss, values, terms = self._step(batch) if self.precision.settled else \
                    self.precision.step(b, batch, functools.partial(self._step, batch))
            finally:
                if observed:
                    self._observing = False
                    self.statistics.end()
            losses[b] = loss
            shares[b] = self._share
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
                if bad is not None and self.world is None:  # several processes decide together, after the epoch
                    self.batch_losses.extend(chunk[:bad])
                    return f"the loss became {chunk[bad]} at epoch {epoch}, batch {reported + bad + 1}"
                self.batch_losses.extend(chunk)
                reported, last_report = b + 1, now
                rate = min(n, (b + 1) * bs * (self.world.size if self.world else 1)) / max(now - self._epoch_start, 1e-9)
                done, total = self._progress
                self.on_batch(BatchReport(epoch, b + 1, batches, chunk, rate, (total - done) * bs / max(rate, 1e-9),
                                          done / max(total, 1)))
        if self.world is not None:
            losses, problem = self._gather_epoch(epoch, losses, shares, term_sums, metric)
            if problem is not None:
                return problem
        self._epoch_losses = losses
        self._epoch_terms = {name: float(total) / n for name, total in term_sums.items()}
        self._epoch_metric = float(metric[0]) / metric[1] if metric[1] else None
        return None

    def _gather_epoch(self, epoch: int, losses, shares, term_sums: dict, metric: list):
        """Several processes: the epoch's figures over every process's shard (each batch's loss over its global
        batch, the loss blocks' and the metric's sums), and whether a loss was not finite (decided together)."""
        world = self.world
        global_losses = world.all_sum(losses * shares / world.size)
        for total in term_sums.values():
            world.all_sum(total)
        sums = world.all_sum(torch.stack([metric[0].float(), torch.tensor(float(metric[1]), device=self.device)]))
        metric[0], metric[1] = sums[0], int(sums[1])
        values = global_losses.tolist()
        self.batch_losses[len(self.batch_losses) - len(values):] = values  # the curves show the global batches
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is not None:
            del self.batch_losses[len(self.batch_losses) - len(values) + bad:]
            return global_losses, f"the loss became {values[bad]} at epoch {epoch}, batch {bad + 1}"
        return global_losses, None

    def _note(self, text: str) -> None:
        self.notes.append(text)
        self.on_log(text)

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
                             val_terms if self.objective.has_terms else {}, self.loss_weights)
        self.history.append(asdict(report))
        self.on_epoch(report)
        return report
