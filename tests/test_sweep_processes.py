"""Sweeps across processes, as `python -m netbuilder.cli sweep` runs them: two processes given one SQLite storage and
study name share the study (disjoint trials, one budget); a sweep killed mid-trial (SIGKILL) continues where it
stopped when run again, the killed trial marked killed, not counted, and its values tried again."""
import os
import shutil
import signal
import subprocess
import sys
import time

from netbuilder.cli import main
from netbuilder.core.training.runs import RunStore
from netbuilder.core.training.sweep import SweepStudy
from tests.conftest import EXAMPLES, ROOT


def sweep_process(graph, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "netbuilder.cli", "sweep", str(graph), *args], cwd=graph.parent,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_sharing_one_sqlite_storage_and_study_run_disjoint_trials_of_it(tmp_path):
    graph = tmp_path / "xor.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", graph)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ["--param", "lr=1e-3:0.5:log", "--param", "fc1.out_features=2,4,8", "--trials", "6", "--storage", storage,
            "--study", "shared", "--data", "xor:n=600", "--epochs", "4"]
    first, second = sweep_process(graph, *args), sweep_process(graph, *args)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    ran = [{int(line.split(":")[0].split()[1]) for line in out.splitlines() if line.startswith("trial ")}
           for out, _ in outputs]
    assert ran[0] and ran[1] and not ran[0] & ran[1]  # each ran trials, none the same
    assert ran[0] | ran[1] == set(range(6))  # together the study's six
    study = SweepStudy.load(storage, "shared")
    rows = study.rows()
    assert [row.number for row in rows] == list(range(6)) and {row.state for row in rows} == {"complete"}
    assert len({row.session for row in rows}) == 2
    runs = RunStore.beside(graph).runs()  # both wrote their trials into the network's one store
    assert sorted(run.sweep["trial"] for run in runs) == list(range(6))
    assert {run.sweep["study"] for run in runs} == {"shared"} and len({run.number for run in runs}) == 6


def test_a_sweep_killed_mid_trial_continues_where_it_stopped(tmp_path, capsys):
    graph = tmp_path / "xor.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", graph)
    args = ["--param", "lr=1e-3:0.5:log", "--trials", "3", "--sampler-seed", "0", "--data", "xor:n=600",
            "--epochs", "4"]
    process = sweep_process(graph, *args)
    store = RunStore.beside(graph)
    deadline = time.time() + 300
    while len(store.runs()) < 2 and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)  # trial 0 has ended and trial 1 has begun
    process.send_signal(signal.SIGKILL)
    process.communicate()
    runs = store.runs()
    assert len(runs) == 2 and runs[0].status == "finished" and runs[1].status == "killed"
    killed_lr = runs[1].sweep["params"]["lr"]

    assert main(["sweep", str(graph), *args]) == 0
    err = capsys.readouterr().err
    assert "continuing: 1 of 3 trials done before" in err
    assert "trial 1 was killed (its process ended without finishing it): its values are tried again" in err
    study = SweepStudy.load(f"sqlite:///{store.path / 'sweeps.db'}")
    rows = study.rows()
    assert [row.state for row in rows] == ["complete", "killed", "complete", "complete"]
    assert rows[0].run == runs[0].number  # the first process's trial is kept as it was
    assert rows[2].params["lr"] == killed_lr  # the killed trial's values, tried again first
    assert sum(row.counted for row in rows) == 3
    assert [run.status for run in store.runs()] == ["finished", "killed", "finished", "finished"]
