"""A sweep's study read back: its trials as rows (number, state, values, figure, per-epoch curve, run), the best,
the counts, each parameter's importance, and the lines the command prints. Reads any study our sweeps made, from
any storage, whether it still runs or not.

A trial's state as a person reads it: complete, pruned, failed (its own reason), running, waiting (queued, e.g. a
killed trial's values to try again), killed (its process ended without finishing it) or interrupted (stopped from
outside); killed and interrupted trials are tried again and do not count as done.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from .definition import SweepDefinition
from .space import SweepError
from .storage import open_storage, redact

COUNTED = ("complete", "pruned", "failed")  # what a sweep's budget of trials counts


@dataclass
class TrialRow:
    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None  # the figure (complete), or the last reported one (pruned)
    curve: list[tuple[int, float]] = field(default_factory=list)  # (epoch, the figure reported for it)
    run: int | None = None  # its run's number in the store of the machine that trained it
    run_folder: str | None = None
    message: str = ""
    seconds: float | None = None
    host: str | None = None
    session: str | None = None
    started: float | None = None  # seconds since the epoch

    @property
    def counted(self) -> bool:
        return self.state in COUNTED

    def to_dict(self) -> dict:
        row = asdict(self)
        row["curve"] = [[epoch, value] for epoch, value in self.curve]
        return row


def trial_row(trial) -> TrialRow | None:
    """A FrozenTrial as a row; None for a trial that only kept a slot (`surplus`)."""
    from optuna.trial import TrialState

    attrs = trial.user_attrs
    if attrs.get("surplus"):
        return None
    state = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.RUNNING: "running",
             TrialState.WAITING: "waiting", TrialState.FAIL: "failed"}[trial.state]
    message = str(attrs.get("failure") or "")
    if state == "failed" and not attrs.get("failure"):
        state = "interrupted" if attrs.get("interrupted") else "killed"
        message = str(attrs.get("interrupted") or attrs.get("killed") or "its process ended without finishing it")
    curve = sorted((int(step), float(v)) for step, v in trial.intermediate_values.items()
                   if isinstance(v, (int, float)) and math.isfinite(v))
    value = trial.value if state == "complete" else (curve[-1][1] if state == "pruned" and curve else None)
    start, end = trial.datetime_start, trial.datetime_complete
    seconds = (end - start).total_seconds() if start and end else (
        time.time() - start.timestamp() if start and state == "running" else None)
    process = attrs.get("process") if isinstance(attrs.get("process"), dict) else {}
    run = attrs.get("run") if isinstance(attrs.get("run"), dict) else {}
    return TrialRow(trial.number, state, dict(trial.params), value, curve, run.get("number"), run.get("folder"),
                    message, seconds, process.get("host"), process.get("session"),
                    start.timestamp() if start else None)


class SweepStudy:
    """One study as our sweeps keep it: the definition and settings it was made with (its user attributes), its
    trials as rows."""

    def __init__(self, study) -> None:
        self.study = study

    @classmethod
    def load(cls, storage: str, name: str | None = None) -> SweepStudy:
        """The study `name` in `storage` (a URL); without a name, the one started last (SweepError
        when there is none, or no such study)."""
        import optuna

        backend = open_storage(storage)
        summaries = optuna.study.get_all_study_summaries(backend, include_best_trial=False)
        names = [s.study_name for s in summaries]
        if not names:
            raise SweepError(f"{redact(storage)} holds no studies: run a sweep first")
        if name is None:
            def latest(summary) -> float:
                return summary.datetime_start.timestamp() if summary.datetime_start else 0.0

            name = max(summaries, key=latest).study_name
        if name not in names:
            listed = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
            raise SweepError(f"no study {name!r} in {redact(storage)} (studies there: {listed})")
        return cls(optuna.load_study(study_name=name, storage=backend))

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def direction(self) -> str:
        return "maximize" if self.study.direction.name == "MAXIMIZE" else "minimize"

    @property
    def definition(self) -> SweepDefinition | None:
        raw = self.study.user_attrs.get("definition")
        return SweepDefinition.from_dict(raw) if raw is not None else None

    @property
    def settings(self) -> dict[str, Any]:
        settings = self.study.user_attrs.get("settings")
        return dict(settings) if isinstance(settings, dict) else {}

    @property
    def metric(self) -> str:
        definition = self.definition
        return definition.metric if definition is not None else "value"

    def rows(self) -> list[TrialRow]:
        rows = (trial_row(t) for t in self.study.get_trials(deepcopy=False))
        return [row for row in rows if row is not None]

    def best(self, rows: list[TrialRow] | None = None) -> TrialRow | None:
        """The complete trial with the best figure (the earliest among equals), or None."""
        done = [r for r in (rows if rows is not None else self.rows()) if r.state == "complete" and r.value is not None]
        if not done:
            return None
        sign = -1 if self.direction == "maximize" else 1
        return min(done, key=lambda r: (sign * r.value, r.number))

    def counts(self, rows: list[TrialRow] | None = None) -> dict[str, int]:
        counts = dict.fromkeys(("complete", "pruned", "failed", "running", "waiting", "killed", "interrupted"), 0)
        for row in rows if rows is not None else self.rows():
            counts[row.state] += 1
        return counts

    def importances(self) -> dict[str, float]:
        """Each swept parameter's importance for the figure (Optuna's default evaluator over the complete trials),
        summing to 1; SweepError saying why there are none yet."""
        import optuna

        done = [t for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        if len(done) < 2:
            raise SweepError(f"importance needs two complete trials or more; this study has {len(done)}")
        try:
            with warnings.catch_warnings():  # a few trials alike: Optuna warns that the importances are equal
                warnings.simplefilter("ignore", UserWarning)
                return dict(optuna.importance.get_param_importances(self.study))
        except (RuntimeError, ValueError) as e:
            raise SweepError(f"no importance yet: {e}") from None

    def trial_settings(self, row: TrialRow) -> dict[str, Any]:
        """Everything a trial trained with: the study's settings and its swept settings."""
        from .apply import setting_value

        return {**self.settings, **{k: setting_value(k, v) for k, v in row.params.items() if "." not in k}}

    def to_dict(self) -> dict:
        rows = self.rows()
        best = self.best(rows)
        definition = self.definition
        return {"study": self.name, "metric": self.metric, "direction": self.direction,
                "definition": definition.to_dict() if definition else None, "settings": self.settings,
                "counts": self.counts(rows), "best": best.to_dict() if best else None,
                "trials": [row.to_dict() for row in rows]}


# ----- as the command prints them

def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{name}={value_text(value)}" for name, value in params.items())


def row_line(row: TrialRow, metric: str) -> str:
    """`trial 3: lr=0.0123 fc1.out_features=8  val_loss 0.2345  complete  run 7` (a failure: its reason)."""
    figure = f"{metric} {value_text(row.value)}" if row.value is not None else f"{metric} -"
    if row.state == "pruned" and row.curve:
        figure += f" (epoch {row.curve[-1][0]})"
    where = f"  run {row.run}" if row.run is not None else ""
    why = f": {row.message}" if row.state in ("failed", "killed", "interrupted") and row.message else ""
    return f"trial {row.number}: {params_text(row.params)}  {figure}  {row.state}{why}{where}"


def summary_lines(sweep: SweepStudy, rows: list[TrialRow] | None = None) -> list[str]:
    """The counts and the best trial with the settings it trained with."""
    rows = rows if rows is not None else sweep.rows()
    counts = sweep.counts(rows)
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    lines = [f"study {sweep.name}: {len(rows)} trials ({shown or 'none yet'})"]
    best = sweep.best(rows)
    if best is None:
        lines.append("no trial has completed: nothing to apply")
        return lines
    run = f", run {best.run}" if best.run is not None else ""
    lines.append(f"best: trial {best.number}, {sweep.metric} {value_text(best.value)} "
                 f"({'higher' if sweep.direction == 'maximize' else 'lower'} is better){run}")
    lines.append(f"  its values: {params_text(best.params)}")
    from ..config import TrainConfig

    defaults = TrainConfig().to_dict()
    settings = {**defaults, **sweep.trial_settings(best)}
    swept = {name for name in best.params if "." not in name}
    keys = ["data", "epochs", "batch_size", "optimizer", "lr"] + [
        k for k in ("momentum", "beta1", "weight_decay", "l1", "schedule", "step_size", "gamma", "grad_clip",
                    "early_stopping", "augment", "seed", "loss") if k in swept or settings.get(k) != defaults.get(k)]
    shown = [f"{k} {'+'.join(settings[k]) or 'none' if k == 'augment' else value_text(settings[k])}"
             for k in keys if k in settings]
    lines.append(f"  it trained with: {', '.join(shown)}")
    return lines
