"""Sweeps: many runs of one network, each with other values of its training settings or block parameters, chosen
by an Optuna study (TPE by default; random or grid) to optimise one figure, the poor ones stopped early by a median
pruner, in this process, in worker processes, or on several machines sharing the study's storage.

    params = [parse_param("lr=1e-4:1e-1:log"), parse_param("conv1.out_channels=16,32,64")]      (space.py)
    definition = SweepDefinition(params, metric="val_loss", trials=20, prune=True)           (definition.py)
    sweep = Sweep(graph, definition, settings, graph_path="net.json")   # refuses bad input before anything starts
    study = sweep.run(workers=2, on_trial=print)                        # every trial is a run in net.runs/ (study.py,
                                                                        #   loop.py, trial.py, workers.py)
    best = study.best()                                                 # rows, counts, importance (table.py)
    new_graph, recipe = apply_trial(graph, best.params, study.trial_settings(best))     (apply.py)

The study (its definition and settings, every trial's values, per-epoch figures, state and run) lives in an
Optuna storage: `NAME.runs/sweeps.db` by default (storage.py). Training-room code: no Qt, no exchange or inside.
"""
from .apply import apply_trial, recipe_with, setting_value, with_values
from .definition import METRICS, SAMPLERS, SweepDefinition
from .loop import settle_heap
from .space import SETTINGS, SweepError, SweepParam, check_params, parse_param, parse_values
from .storage import STORAGE_FILE, default_storage, open_storage, redact
from .study import Sweep, SweepJob, cores, study_names, time_left
from .table import SweepStudy, TrialRow, params_text, row_line, summary_lines, value_text

__all__ = [
    "METRICS", "SAMPLERS", "SETTINGS", "STORAGE_FILE", "Sweep", "SweepDefinition", "SweepError", "SweepJob",
    "SweepParam", "SweepStudy", "TrialRow", "apply_trial", "check_params", "cores", "default_storage", "open_storage",
    "params_text", "parse_param", "parse_values", "recipe_with", "redact", "row_line", "setting_value",
    "settle_heap", "study_names", "summary_lines", "time_left", "value_text", "with_values",
]
