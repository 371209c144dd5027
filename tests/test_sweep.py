"""Sweeps (core/training/sweep, `netbuilder sweep`): real Optuna studies, real training on small generated data, real
files. Every trial is a run of the store; the best one is applied to a new graph; a bad parameter is refused before
anything starts; a value that breaks the graph or diverges fails its trial only; the pruner stops a clearly bad trial
early; K worker processes share the study."""
import itertools
import json
import os
import shutil

import pytest

from netbuilder.cli import main
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.runs import RunStore
from netbuilder.core.training.sweep import (
    Sweep,
    SweepDefinition,
    SweepError,
    SweepStudy,
    apply_trial,
    parse_param,
)
from tests.conftest import EXAMPLES

XOR = ["--data", "xor:n=200", "--epochs", "3"]


@pytest.fixture
def xor(tmp_path):
    path = tmp_path / "xor.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", path)
    return path


def conv_graph(path):
    """A small convnet for the 8x8 digits: Input 1x8x8 -> conv1 -> Flatten -> fc -> Output."""
    graph = Graph()
    blocks = [graph.add_node("Input", {"shape": [1, 8, 8]}, name="x"),
              graph.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3}, name="conv1"),
              graph.add_node("ReLU", {}, name="relu1"), graph.add_node("Flatten", {}, name="flat"),
              graph.add_node("Linear", {"out_features": 10}, name="fc"), graph.add_node("Output", {}, name="out")]
    for a, b in itertools.pairwise(blocks):
        graph.connect(a.id, b.id)
    graph.set_recipe({"data": "digits", "epochs": 1, "batch_size": 64})
    graph.save(path)
    return path


def listed_runs(graph_path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["runs", str(graph_path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_six_trials_over_a_log_lr_and_a_block_parameter_are_six_runs_and_apply_best_writes_the_best(xor, tmp_path,
                                                                                                    capsys):
    code = main(["sweep", str(xor), "--param", "lr=1e-3:0.5:log", "--param", "fc1.out_features=2,4,8", "--trials",
                 "6", "--sampler-seed", "3", "--json", *XOR])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    table = json.loads(captured.out)
    lines = [line for line in captured.err.splitlines() if line.startswith("trial ")]
    assert len(lines) == 6 and all(" complete  run " in line for line in lines)
    trials = table["trials"]
    assert [t["number"] for t in trials] == list(range(6)) and {t["state"] for t in trials} == {"complete"}
    values = [t["value"] for t in trials]
    assert table["best"]["value"] == min(values) < max(values)
    assert table["direction"] == "minimize" and table["metric"] == "val_loss"
    for t in trials:
        assert 1e-3 <= t["params"]["lr"] <= 0.5 and t["params"]["fc1.out_features"] in (2, 4, 8)
        assert len(t["curve"]) == 3  # a validation loss reported each epoch

    runs = listed_runs(xor, capsys)
    assert len(runs) == 6 and {r["status"] for r in runs} == {"finished"}
    by_trial = {r["sweep"]["trial"]: r for r in runs}
    assert sorted(by_trial) == list(range(6))
    for t in trials:
        run = by_trial[t["number"]]
        assert run["id"] == t["run"] and run["sweep"]["study"] == table["study"]
        assert run["sweep"]["params"] == t["params"] and run["settings"]["lr"] == t["params"]["lr"]
        assert run["final"]["val_loss"] == pytest.approx(t["value"])  # the figure is the run's own
        snapshot = Graph.load(run["path"] + "/graph.json")
        assert snapshot.find("fc1").params["out_features"] == t["params"]["fc1.out_features"]

    best = table["best"]
    out = tmp_path / "best.json"
    assert main(["sweep", str(xor), "--apply-best", "-o", str(out)]) == 0
    applied = Graph.load(out)
    assert applied.find("fc1").params["out_features"] == best["params"]["fc1.out_features"]
    assert applied.recipe["lr"] == best["params"]["lr"] and applied.recipe["data"] == "xor:n=200"
    assert applied.recipe["epochs"] == 3
    assert Graph.load(xor).find("fc1").params["out_features"] == 4  # GRAPH itself is as it was
    capsys.readouterr()
    before = out.read_bytes()
    assert main(["sweep", str(xor), "--apply-best", "-o", str(out)]) == 1
    assert "--force" in capsys.readouterr().err and out.read_bytes() == before

    # the same command again continues the same study: it has its 6 trials, so none is added
    assert main(["sweep", str(xor), "--param", "lr=1e-3:0.5:log", "--param", "fc1.out_features=2,4,8", "--trials",
                 "6", *XOR]) == 0
    assert "continuing: 6 of 6 trials done before" in capsys.readouterr().err
    assert len(listed_runs(xor, capsys)) == 6


@pytest.mark.parametrize("param, words", [
    ("fc9.out_features=2,4", "no block named 'fc9'"),
    ("fc1.kernel_size=3,5", "fc1 (Linear) has no parameter 'kernel_size'"),
    ("learning_rate=1e-3:1e-1:log", "'learning_rate' is neither a training setting nor a block's parameter"),
    ("fc1.out_features=0,4", "fc1.out_features=0"),
    ("optimizer=adam,adamm", "'adamm' is not one of"),
])
def test_a_parameter_that_does_not_exist_or_a_value_never_taken_is_refused_before_anything_starts(xor, capsys, param,
                                                                                                    words):
    assert main(["sweep", str(xor), "--param", "lr=1e-3:1e-1:log", "--param", param, *XOR]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("netbuilder: error: ") and words in err
    assert not RunStore.beside(xor).path.exists()  # no study, no run


def test_a_value_that_breaks_the_graph_or_diverges_fails_that_trial_only(tmp_path, capsys):
    digits = conv_graph(tmp_path / "conv.json")
    assert main(["sweep", str(digits), "--param", "conv1.kernel_size=3,9", "--sampler", "grid", "--trials", "5"]) == 0
    out = capsys.readouterr().out
    assert "study conv1.kernel_size-" in out and "2 trials (1 complete, 1 failed)" in out  # a grid of two
    runs = {r["sweep"]["params"]["conv1.kernel_size"]: r for r in listed_runs(digits, capsys)}
    assert runs[3]["status"] == "finished"
    assert runs[9]["status"] == "failed" and "the 9x9 kernel is larger than its 8x8 input" in runs[9]["message"]
    study = SweepStudy.load(f"sqlite:///{RunStore.beside(digits).path / 'sweeps.db'}")
    failed = next(row for row in study.rows() if row.params["conv1.kernel_size"] == 9)
    assert failed.state == "failed" and "larger than its 8x8 input" in failed.message and failed.run == runs[9]["id"]

    regression = tmp_path / "reg.json"
    shutil.copy(EXAMPLES / "mlp_regression.json", regression)
    assert main(["sweep", str(regression), "--param", "lr=0.001,50", "--sampler", "grid", "--epochs", "2", "--set",
                 "optimizer=sgd"]) == 0
    out = capsys.readouterr().out
    diverged = next(line for line in out.splitlines() if line.startswith("trial ") and "lr=50" in line)
    assert "failed: diverged: the loss became inf" in diverged
    assert "best: trial" in out and "lr=0.001" in out.split("best: trial")[1]
    statuses = {r["sweep"]["params"]["lr"]: r["status"] for r in listed_runs(regression, capsys)}
    assert statuses == {0.001: "finished", 50: "diverged"}


def test_the_median_pruner_stops_a_clearly_bad_trial_early(xor):
    graph = Graph.load(xor)
    definition = SweepDefinition([parse_param("lr=1e-6:0.3:log")], trials=4, prune=True)
    settings = {"data": "xor:n=400:noise=0:margin=0.2", "epochs": 5, "batch_size": 20}
    sweep = Sweep(graph, definition, settings, graph_path=xor)
    study = sweep.open().study
    # three good trials to compare with (the pruner judges none before three are complete), then one that cannot
    # learn; a fourth good trial after it could be pruned by its own seed's noise, so the sweep ends there
    for lr in (0.1, 0.1, 0.1, 1e-6):
        study.enqueue_trial({"lr": lr})
    rows = sweep.run().rows()
    assert [row.state for row in rows] == ["complete", "complete", "complete", "pruned"]
    pruned = rows[3]
    assert pruned.params["lr"] == pytest.approx(1e-6) and len(pruned.curve) < 5
    run = RunStore.beside(xor).run(pruned.run)
    assert run.status == "pruned" and len(run.epochs) == len(pruned.curve) < 5
    assert "worse than the median" in run.message
    assert all(len(RunStore.beside(xor).run(row.run).epochs) == 5 for row in rows if row.state == "complete")


def test_apply_trial_sets_block_parameters_and_the_recipe_on_a_copy(xor):
    graph = Graph.load(xor)
    new, recipe = apply_trial(graph, {"fc1.out_features": 16, "lr": 0.01, "augment": "none"},
                              {"data": "xor:n=200", "epochs": 3, "compile": "off"})
    assert new.find("fc1").params["out_features"] == 16 and graph.find("fc1").params["out_features"] == 4
    assert recipe == {"data": "xor:n=200", "epochs": 3, "batch_size": 50, "lr": 0.01} == new.recipe
    with pytest.raises(SweepError, match="no block named 'conv1'"):
        apply_trial(graph, {"conv1.out_channels": 8})


def test_worker_processes_share_the_study_each_with_its_share_of_the_cores(xor, capsys):
    code = main(["sweep", str(xor), "--param", "lr=1e-3:0.5:log", "--trials", "3", "--workers", "2", "--json",
                 "--data", "xor:n=300", "--epochs", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    trials = json.loads(captured.out)["trials"]
    assert [t["state"] for t in trials] == ["complete"] * 3
    runs = listed_runs(xor, capsys)
    assert sorted(r["sweep"]["trial"] for r in runs) == [0, 1, 2]
    from netbuilder.core.training.sweep import cores

    assert {r["settings"]["threads"] for r in runs} == {max(1, cores() // 2)}
    study = SweepStudy.load(f"sqlite:///{RunStore.beside(xor).path / 'sweeps.db'}")
    pids = {t.user_attrs["process"]["pid"] for t in study.study.get_trials()}
    assert pids and os.getpid() not in pids  # trained in worker processes, not in this one


def test_an_sqlite_study_is_written_through_a_write_ahead_log(tmp_path):
    """Each epoch's report is a commit: in WAL mode with synchronous=NORMAL a commit does not wait for the disk."""
    import sqlite3

    from netbuilder.core.training.sweep.storage import open_storage

    database = tmp_path / "sweeps.db"
    storage = open_storage(f"sqlite:///{database}")
    with storage.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL (FULL is 2)
    storage.engine.dispose()
    with sqlite3.connect(database) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # kept in the file, for every process


def test_a_trials_figures_wait_for_the_study_only_when_no_pruner_judges_them(tmp_path):
    """Each report is a transaction of Optuna's: without a pruner a short trial's figures go to the study together
    (at most a second late, all of them when it ends); with one, each goes before the pruner reads it."""
    import optuna

    from netbuilder.core.training.sweep.storage import open_storage
    from netbuilder.core.training.sweep.trial import REPORT_SECONDS, _Reports

    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'sweeps.db'}"), study_name="s")

    def stored(trial) -> dict:
        return next(t for t in study.get_trials() if t.number == trial.number).intermediate_values

    quick = study.ask()
    reports = _Reports(quick, at_once=False)
    reports.add(0.5, 1)
    reports.add(0.4, 2)
    assert stored(quick) == {}
    reports.flush()
    assert stored(quick) == {1: 0.5, 2: 0.4}
    reports.add(0.3, 3)
    reports.last -= REPORT_SECONDS  # a second later: the next figure takes those waiting with it
    reports.add(0.2, 4)
    assert stored(quick) == {1: 0.5, 2: 0.4, 3: 0.3, 4: 0.2}

    judged = study.ask()
    _Reports(judged, at_once=True).add(0.5, 1)
    assert stored(judged) == {1: 0.5}


def test_a_sweep_opens_its_study_storage_once_in_its_process(xor):
    """open(), the trials and the study read back share one storage: each opening of an SQLite storage costs tens
    of milliseconds (its schema checked, WAL set up)."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    definition = SweepDefinition([parse_param("lr=1e-3:0.1:log")], trials=2, sampler="random", seed=1)
    sweep = Sweep(Graph.load(xor), definition, {"data": "xor:n=200", "epochs": 1}, graph_path=xor)
    sweep.open()
    pools: list[object] = []

    def connected(dbapi_connection, record) -> None:
        pools.append(dbapi_connection)

    event.listen(Pool, "first_connect", connected)  # a storage's engine connects first when it is opened
    try:
        rows = sweep.run().rows()
    finally:
        event.remove(Pool, "first_connect", connected)
    assert [row.state for row in rows] == ["complete", "complete"]
    assert pools == []


def test_settling_a_sweep_process_collects_its_garbage_and_freezes_the_rest():
    """`netbuilder sweep` and each worker settle their heap before the trials, so that the collector's full passes
    do not walk torch's objects between trials; garbage made before is collected, not frozen for good."""
    import subprocess
    import sys

    code = ("import gc, weakref\n"
            "from netbuilder.core.training.sweep import settle_heap\n"
            "class Node: pass\n"
            "node = Node(); node.loop = node; gone = weakref.ref(node); del node\n"
            "gc.disable(); before = gc.get_freeze_count()\n"
            "settle_heap()\n"
            "print(gone() is None, before, gc.get_freeze_count() > 10000)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["True", "0", "True"]
