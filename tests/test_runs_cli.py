"""`netbuilder train` keeps every run in the store beside its graph; `netbuilder runs` lists, compares and annotates
them; `--run ID` picks a run's weights for export, inspect and check, and resumes a run; a run killed with SIGKILL
is listed as killed and the others are intact. Real training on tiny data, real files."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.build.weights import fit_state, read_state
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES, ROOT

TRAIN = ["--data", "xor:n=200", "--epochs", "2", "--statistics", "0"]


@pytest.fixture
def graph_path(tmp_path):
    path = tmp_path / "xor.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", path)
    return path


def runs_json(graph_path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["runs", str(graph_path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def folder_digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_two_trainings_make_two_runs_listed_with_their_figures_and_export_run_uses_the_first(graph_path, tmp_path,
                                                                                              capsys):
    assert main(["train", str(graph_path), *TRAIN, "--lr", "0.05"]) == 0
    first_line = capsys.readouterr().out.splitlines()[-1]
    assert first_line.startswith("run 1 finished: trained 2 epochs; test accuracy ")
    assert main(["train", str(graph_path), *TRAIN, "--lr", "0.5", "--seed", "3", "--name", "fast"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("run 2 finished:")
    listed = runs_json(graph_path, capsys)
    assert [(r["id"], r["status"], r["name"]) for r in listed] == [(1, "finished", ""), (2, "finished", "fast")]
    for r in listed:
        assert {"id", "status", "started", "seconds", "settings", "test", "path", "note", "starred",
                "headline"} <= set(r)
        metrics = json.loads((tmp_path / "xor.runs" / r["folder"] / "metrics.json").read_text())
        assert r["test"] == metrics["test"] and r["headline"]["label"] == "accuracy"
        assert r["headline"]["value"] == metrics["test"]["accuracy"] and r["seconds"] > 0
        assert {"checkpoint.pt", "curves.json", "graph.json", "metrics.json", "run.json", "weights.pt"} <= set(
            os.listdir(r["path"]))
    assert listed[0]["settings"]["lr"] == 0.05 and listed[1]["settings"]["seed"] == 3
    assert main(["runs", str(graph_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["run", "name", "status", "started"] and "fast" in table[2]

    # export --run 1: the first run's weights, not the second's (nor fresh ones)
    import onnxruntime

    assert main(["export", str(graph_path), "--run", "1", "-o", str(tmp_path / "first.onnx")]) == 0
    graph = Graph.load(graph_path)
    x = torch.tensor([[0.3, -1.2], [2.0, 0.5], [-0.7, 0.9]])
    session = onnxruntime.InferenceSession(str(tmp_path / "first.onnx"), providers=["CPUExecutionProvider"])
    exported = session.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        expected = [fit_state(graph, read_state(tmp_path / "xor.runs" / r["folder"] / "weights.pt")).eval()(x).numpy()
                    for r in listed]
    np.testing.assert_allclose(exported, expected[0], atol=1e-5)
    assert np.abs(exported - expected[1]).max() > 1e-3
    assert main(["export", str(graph_path), "--run", "last", "-o", str(tmp_path / "last.py")]) == 0
    assert read_state(tmp_path / "last.pt").keys() and torch.equal(
        read_state(tmp_path / "last.pt")["fc1.weight"],
        read_state(tmp_path / "xor.runs" / listed[1]["folder"] / "weights.pt")["fc1.weight"])


def test_compare_rename_note_star_delete_and_restore(graph_path, tmp_path, capsys):
    assert main(["train", str(graph_path), *TRAIN, "--lr", "0.05"]) == 0
    wider = Graph.load(graph_path)
    wider.set_param(wider.find("fc1").id, "out_features", 6)
    wider.save(graph_path)
    assert main(["train", str(graph_path), *TRAIN, "--lr", "0.1", "--optimizer", "sgd"]) == 0
    capsys.readouterr()
    assert main(["runs", str(graph_path), "--compare", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "settings that differ:" in out and "~ fc1 (Linear): out_features 4 -> 6" in out
    lines = out.splitlines()
    assert next(line for line in lines if line.strip().startswith("lr")).split() == ["lr", "0.05", "0.1"]
    assert next(line for line in lines if line.strip().startswith("optimizer")).split() == ["optimizer", "adam", "sgd"]
    assert any(line.strip().startswith("accuracy") for line in lines)
    assert main(["runs", str(graph_path), "--compare", "1", "last", "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert {s["key"] for s in compared["settings"] if s["differs"]} == {"lr", "optimizer"}
    assert compared["graphs"][1]["changed"][0]["params"] == {"out_features": [4, 6]}

    assert main(["runs", str(graph_path), "--rename", "1", "baseline"]) == 0
    assert main(["runs", str(graph_path), "--note", "1", "the lecture's settings"]) == 0
    assert main(["runs", str(graph_path), "--star", "2"]) == 0
    assert main(["runs", str(graph_path), "--delete", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "run 1 (001-adam-lr0.05) moved to the trash (--restore 1 " \
                                                       "brings it back)"
    assert [r["id"] for r in runs_json(graph_path, capsys)] == [2]
    assert main(["runs", str(graph_path), "--restore", "1"]) == 0
    listed = runs_json(graph_path, capsys)
    assert [(r["id"], r["name"], r["note"], r["starred"]) for r in listed] == [
        (1, "baseline", "the lecture's settings", False), (2, "", "", True)]
    assert main(["runs", str(graph_path), "--compare", "1", "7"]) == 1
    assert "no run 7 (it has runs 1..2)" in capsys.readouterr().err


def test_a_corrupt_run_json_shows_its_problem_and_the_other_runs_list_fine(graph_path, tmp_path, capsys):
    for _ in range(2):
        assert main(["train", str(graph_path), *TRAIN]) == 0
    first = next((tmp_path / "xor.runs").glob("001-*"))
    (first / "run.json").write_text('{"format": "netbuilder.run", "version": 1, "status": "fin')
    listed = runs_json(graph_path, capsys)
    assert listed[0]["status"] == "unknown" and listed[0]["problem"].startswith("run.json is damaged")
    assert listed[1]["status"] == "finished" and listed[1]["problem"] is None and listed[1]["test"]["accuracy"] >= 0
    assert main(["runs", str(graph_path)]) == 0
    out = capsys.readouterr().out
    assert "problem: run.json is damaged" in out and "finished" in out


def test_train_run_resumes_a_run_from_its_checkpoint_as_a_new_run(graph_path, tmp_path, capsys):
    assert main(["train", str(graph_path), *TRAIN, "--lr", "0.05"]) == 0
    before = folder_digest(next((tmp_path / "xor.runs").glob("001-*")))
    assert main(["train", str(graph_path), "--run", "1", "--epochs", "4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("run 2 finished: trained 4 epochs")
    first, resumed = runs_json(graph_path, capsys)
    assert resumed["resumed_from"] == 1 and resumed["settings"]["lr"] == 0.05
    assert resumed["settings"]["data"] == "xor:n=200" and resumed["epochs"] == 4
    curves = json.loads((tmp_path / "xor.runs" / resumed["folder"] / "curves.json").read_text())
    first_curves = json.loads((tmp_path / "xor.runs" / first["folder"] / "curves.json").read_text())
    assert [e["train_loss"] for e in curves["epochs"][:2]] == [e["train_loss"] for e in first_curves["epochs"]]
    assert folder_digest(next((tmp_path / "xor.runs").glob("001-*"))) == before, "the earlier run stays as it was"
    assert main(["train", str(graph_path), "--run", "1", "--epochs", "3", "--optimizer", "sgd"]) == 1
    assert "the run was trained with optimizer 'adam', not 'sgd'" in capsys.readouterr().err


def test_inspect_and_check_use_a_runs_weights(graph_path, tmp_path, capsys):
    assert main(["train", str(graph_path), *TRAIN]) == 0
    capsys.readouterr()
    assert main(["inspect", str(graph_path), "--run", "1", "--block", "fc1", "-o", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out  # the run's weights, and a sample of the run's own dataset (xor:n=200)
    assert "of xor" in out and "run 1's weights" in out and (tmp_path / "f.png").stat().st_size > 0
    assert main(["check", str(graph_path), "--run", "last"]) == 0
    assert "run 1's weights fit the graph (finished, 2 epochs, accuracy" in capsys.readouterr().out
    changed = Graph.load(graph_path)
    changed.set_param(changed.find("fc1").id, "out_features", 5)
    changed.save(graph_path)
    assert main(["check", str(graph_path), "--run", "1"]) == 1
    assert "run 1's weights: the weights do not fit the graph: fc1.weight has shape 4x2" in capsys.readouterr().out
    assert main(["export", str(graph_path), "--run", "1", "--weights", "w.pt", "-o", str(tmp_path / "m.onnx")]) == 1
    assert "give --weights W.pt or --run ID, not both" in capsys.readouterr().err


def test_a_run_killed_with_sigkill_is_listed_as_killed_and_the_others_are_intact(graph_path, tmp_path, capsys):
    assert main(["train", str(graph_path), *TRAIN]) == 0
    intact = folder_digest(next((tmp_path / "xor.runs").glob("001-*")))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    long = subprocess.Popen([sys.executable, "-m", "netbuilder.cli", "train", str(graph_path), "--data", "xor:n=20000",
                             "--epochs", "500", "--statistics", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    said = [long.stderr.readline() for _ in range(3)]
    assert f"run 2: {tmp_path / 'xor.runs' / '002-adam-lr0.05'}\n" in said  # said before training starts
    deadline = time.monotonic() + 120
    run_json = lambda: next((tmp_path / "xor.runs").glob("002-*")) / "run.json"  # noqa: E731
    while time.monotonic() < deadline and not (run_json().parent / "curves.json").exists():
        time.sleep(0.05)
    assert json.loads(run_json().read_text())["status"] == "running" and long.poll() is None
    long.send_signal(signal.SIGKILL)
    long.wait(timeout=60)
    listed = runs_json(graph_path, capsys)
    assert [(r["id"], r["status"]) for r in listed] == [(1, "finished"), (2, "killed")]
    assert "ended without finishing it" in listed[1]["message"] and listed[1]["problem"] is None
    assert folder_digest(next((tmp_path / "xor.runs").glob("001-*"))) == intact
    assert main(["export", str(graph_path), "--run", "2", "-o", str(tmp_path / "k.onnx")]) == 1
    assert "run 2 (killed) has no weights.pt" in capsys.readouterr().err


def test_a_shipped_example_keeps_its_runs_in_the_users_data_folder_not_beside_it(tmp_path, monkeypatch, capsys):
    """The examples folder is the program's (inside the installed package, or the checkout's examples/): training
    an example by its shipped path puts the run where the editor keeps that example's runs."""
    monkeypatch.setenv("NETBUILDER_HOME", str(tmp_path / "home"))
    example = EXAMPLES / "mlp_xor.json"
    assert main(["train", str(example), "--epochs", "1"]) == 0
    assert not (EXAMPLES / "mlp_xor.runs").exists()
    store = tmp_path / "home" / "unsaved" / "example-mlp_xor.runs"
    assert [p.name[:3] for p in store.iterdir() if p.name[:3].isdigit()] == ["001"]
    capsys.readouterr()
    assert main(["runs", str(example), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [run["id"] for run in listed] == [1] and listed[0]["path"].startswith(str(store))
