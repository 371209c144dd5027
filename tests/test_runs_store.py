"""The run store on disk (core/training/runs): numbering that never repeats, atomic creation, a damaged or killed
run read as such while the others list, trash and restore, annotations kept while a run writes, the store of an
unsaved network moved beside its document, the headline figure per kind of network, and graph differences."""
import json
import os
import signal
import subprocess
import sys

import pytest

from netbuilder.core.model.graph import Graph
from netbuilder.core.training.runs import RunError, RunStore, compare_runs, graph_diff, headline, store_path
from netbuilder.core.training.runs.recorder import RunRecorder
from tests.conftest import EXAMPLES, ROOT

SETTINGS = {"optimizer": "adam", "lr": 0.05, "epochs": 2, "data": "xor"}


@pytest.fixture
def graph():
    return Graph.load(EXAMPLES / "mlp_xor.json")


def test_the_store_sits_beside_its_document(tmp_path):
    assert store_path(tmp_path / "net.json") == tmp_path / "net.runs"
    assert RunStore.beside(tmp_path / "my.net.json").path == tmp_path / "my.net.runs"


def test_runs_are_numbered_in_order_and_a_number_is_never_given_twice(tmp_path, graph):
    store = RunStore.beside(tmp_path / "net.json")
    first = store.create(graph, SETTINGS)
    second = store.create(graph, {**SETTINGS, "lr": 0.1}, label="Second try!")
    assert (first.folder, second.folder) == ("001-adam-lr0.05", "002-second-try")
    assert first.status == "running" and json.loads(first.graph_file.read_text()) == graph.to_dict()
    for run in (first, second):
        store.update(run, status="stopped")
    store.delete(2)
    store.empty_trash()
    store.delete(1)
    assert store.runs() == [] and [r.number for r in store.trashed()] == [1]
    assert store.create(graph, SETTINGS).number == 3, "numbers of deleted runs are not given again"
    assert store.restore(1).folder == "001-adam-lr0.05"
    assert [r.number for r in store.runs()] == [1, 3]
    assert not [p for p in store.path.iterdir() if p.name.startswith(".new-")]


def test_a_run_is_found_by_number_folder_or_last_and_a_missing_one_is_named(tmp_path, graph):
    store = RunStore.beside(tmp_path / "net.json")
    for _ in range(3):
        store.create(graph, SETTINGS)
    assert store.run(2).number == store.run("2").number == store.run("002-adam-lr0.05").number == 2
    assert store.run("last").number == 3
    with pytest.raises(RunError, match=r"no run 9 \(it has runs 1\.\.3\)"):
        store.run(9)


def test_a_half_made_run_of_a_killed_creator_is_cleared_and_never_listed(tmp_path, graph):
    store = RunStore.beside(tmp_path / "net.json")
    store.path.mkdir()
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = store.path / f".new-{child.stdout.strip()}-abcd"  # the pid of a process that has ended
    abandoned.mkdir()
    (abandoned / "graph.json").write_text("{")
    assert store.runs() == []
    store.create(graph, SETTINGS)
    assert not abandoned.exists() and [r.number for r in store.runs()] == [1]


def test_a_damaged_run_shows_its_problem_and_the_others_list_intact(tmp_path, graph):
    store = RunStore.beside(tmp_path / "net.json")
    runs = [store.create(graph, SETTINGS) for _ in range(3)]
    for run in runs:
        store.update(run, status="finished")
    (runs[1].path / "run.json").write_text('{"format": "netbuilder.run", "version": 1, "sta')
    (runs[2].path / "metrics.json").write_text("[1, 2]")
    listed = store.runs()
    assert [r.status for r in listed] == ["finished", "unknown", "finished"]
    assert listed[1].problem.startswith("run.json is damaged (not valid JSON: line 1")
    assert "metrics.json is damaged (not a JSON object)" in listed[2].problem
    assert "weights.pt is missing" in listed[0].problem
    with pytest.raises(RunError, match="run 2: run.json is damaged"):
        store.rename(2, "x")
    json.dumps([r.to_dict() for r in listed])  # every run still has its plain-JSON form


def test_a_run_whose_process_was_killed_is_read_as_killed(tmp_path, graph):
    """A real process makes a run and is killed with SIGKILL while it is `running`."""
    code = ("import sys, time\nfrom netbuilder.core.model.graph import Graph\n"
            "from netbuilder.core.training.runs import RunStore\n"
            f"RunStore.beside(sys.argv[1]).create(Graph.load({str(EXAMPLES / 'mlp_xor.json')!r}), {SETTINGS!r})\n"
            "print('made', flush=True)\ntime.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "net.json")], stdout=subprocess.PIPE,
                             text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout.readline().strip() == "made"
    store = RunStore.beside(tmp_path / "net.json")
    assert store.run(1).status == "running"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    run = store.run(1)
    assert run.status == "killed" and f"its process ({child.pid}) ended" in run.message
    assert json.loads((run.path / "run.json").read_text())["status"] == "running", "reading changes nothing"
    with pytest.raises(RunError, match="run 1 .killed. has no weights.pt"):
        run.weights_for_use()


def test_a_running_run_cannot_be_deleted_and_its_note_survives_the_recorder(tmp_path, graph):
    store = RunStore.beside(tmp_path / "net.json")
    run = store.create(graph, SETTINGS)
    with pytest.raises(RunError, match="still training"):
        store.delete(run)
    recorder = RunRecorder(run, tensorboard=False)
    store.set_note(run, "lr from the paper")
    store.set_starred(run, True)
    store.rename(run, "  baseline   run ")
    recorder.end("failed", "the dataset went away")
    again = store.run(1)
    assert (again.status, again.message, again.note, again.starred, again.name) == (
        "failed", "the dataset went away", "lr from the paper", True, "baseline run")
    with pytest.raises(RunError, match="a run ends as one of"):
        RunRecorder(store.create(graph, SETTINGS), tensorboard=False).end("exploded", "")


def test_the_runs_of_an_unsaved_network_move_beside_it_when_it_is_saved(tmp_path, graph, monkeypatch):
    monkeypatch.setenv("NETBUILDER_HOME", str(tmp_path / "home"))
    unsaved = RunStore.unsaved("20250101-120000-abc123")
    assert unsaved.path == tmp_path / "home" / "unsaved" / "20250101-120000-abc123.runs"
    for run in (unsaved.create(graph, SETTINGS), unsaved.create(graph, SETTINGS)):
        RunRecorder(run, tensorboard=False).end("stopped", "stopped by the user")
    moved = unsaved.move_to(tmp_path / "doc.json")
    assert moved.path == tmp_path / "doc.runs" and not unsaved.path.exists()
    assert [r.folder for r in moved.runs()] == ["001-adam-lr0.05", "002-adam-lr0.05"]
    other = RunStore.unsaved("20250101-120001-abc124")  # saved over a document that has runs: numbered after them
    RunRecorder(other.create(graph, SETTINGS, label="new"), tensorboard=False).end("stopped", "")
    other.move_to(tmp_path / "doc.json")
    assert [r.folder for r in moved.runs()] == ["001-adam-lr0.05", "002-adam-lr0.05", "003-new"]
    with pytest.raises(RunError, match="not a document id"):
        RunStore.unsaved("../escape")


def test_the_headline_figure_follows_the_kind_of_network():
    def doc(name):
        return json.loads((EXAMPLES / f"{name}.json").read_text())

    cases = {
        "mlp_xor": ({"metric": "accuracy", "loss": "bce_with_logits", "test": {"loss": 0.1, "accuracy": 0.975}},
                    "accuracy 97.5%"),
        "mlp_regression": ({"metric": "mse", "loss": "mse", "test": {"loss": 0.49, "mse": 0.49}}, "RMSE 0.7"),
        "fcn_shapes": ({"metric": "accuracy", "loss": "objective", "test": {"accuracy": 0.99, "mean_iou": 0.917}},
                       "mean IoU 0.917"),
        "autoencoder": ({"metric": "mse", "loss": "objective", "test": {"loss": 0.0012, "mse": 0.0012}},
                        "reconstruction MSE 0.0012"),
        "vae": ({"metric": None, "loss": "objective", "test": {"loss": 118.4}}, "ELBO loss 118.4"),
        "siamese_mnist": ({"metric": "accuracy", "loss": "objective", "test": {"accuracy": 0.95}},
                          "same/different accuracy 95.0%"),
        "seq2seq_reverse": ({"metric": "accuracy", "loss": "objective", "test": {"accuracy": 0.999}},
                            "tokens right 99.9%"),
    }
    for name, (metrics, text) in cases.items():
        assert headline(metrics, doc(name)).text == text, name
    gan = {"metric": None, "loss": "objective", "objective": "objective: d + g; groups stepped in turn: d, g",
           "test": {"loss": 1.3}}
    assert headline(gan, doc("gan_ring")) is None
    assert headline({"metric": "accuracy", "test": {"loss": None, "accuracy": None}}) is None  # stopped


def test_the_graph_difference_names_added_removed_rewired_and_changed_blocks(chain):
    old, ids = chain(("Input", {"shape": [4]}), ("Linear", {"out_features": 8}), ("ReLU", {}),
                     ("Linear", {"out_features": 2}), ("Output", {}))
    new = Graph.from_dict(old.to_dict())
    new.set_param(ids[1], "out_features", 16)
    new.remove_node(ids[2])  # relu removed: the second Linear now reads the first directly
    new.connect(ids[1], ids[3])
    tanh = new.add_node("Tanh", name="act")
    new.disconnect(ids[4], new.node(ids[4]).input_ports()[0])
    new.connect(ids[3], tanh.id)
    new.connect(tanh.id, ids[4])
    new.rename(ids[3], "head")
    diff = graph_diff(old, new)
    names = {n.id: n.name for n in old.nodes}
    assert [(b.name, b.type) for b in diff.added] == [("act", "Tanh")]
    assert [(b.id, b.type) for b in diff.removed] == [(ids[2], "ReLU")]
    changed = {c.id: c for c in diff.changed}
    assert changed[ids[1]].params == {"out_features": (8, 16)} and not changed[ids[1]].rewired
    head = changed[ids[3]]
    assert head.kinds == ["renamed", "rewired"] and head.inputs == {"in": (names[ids[2]], names[ids[1]])}
    assert changed[ids[4]].inputs == {"in": (names[ids[3]], "act")}
    assert diff.marks() == {tanh.id: "added", ids[1]: "changed", ids[3]: "rewired", ids[4]: "rewired"}
    assert f"~ {names[ids[1]]} (Linear): out_features 8 -> 16" in diff.lines()
    assert graph_diff(old, Graph.from_dict(old.to_dict())).empty


def test_blocks_are_matched_by_name_when_their_ids_differ(chain):
    old, ids = chain(("Input", {"shape": [4]}), ("Linear", {"out_features": 8}), ("Output", {}))
    renumbered = old.to_dict()
    mapping = {i: f"z{k}" for k, i in enumerate(ids)}
    for node in renumbered["nodes"]:
        node["id"] = mapping[node["id"]]
    for edge in renumbered["edges"]:
        edge["src"], edge["dst"] = mapping[edge["src"]], mapping[edge["dst"]]
    assert graph_diff(old, renumbered).empty


def test_compare_marks_the_settings_that_differ_and_the_better_figure(tmp_path, graph):
    store = RunStore.beside(tmp_path / "net.json")
    for lr, accuracy in ((0.05, 0.75), (0.1, 0.9)):
        run = store.create(graph, {**SETTINGS, "lr": lr})
        (run.path / "metrics.json").write_text(json.dumps(
            {"metric": "accuracy", "loss": "bce_with_logits", "test": {"loss": 1 - accuracy, "accuracy": accuracy},
             "epochs": [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.6}]}))
        (run.path / "weights.pt").write_bytes(b"")
        store.update(run, status="finished", seconds=1.0)
    wider = Graph.load(EXAMPLES / "mlp_xor.json")
    wider.set_param(wider.find("fc1").id, "out_features", 8)
    (store.run(2).path / "graph.json").write_text(json.dumps(wider.to_dict()))
    comparison = compare_runs(store.runs())
    assert [s.key for s in comparison.differing] == ["lr"]
    accuracy = comparison.figures[0]
    assert (accuracy.label, accuracy.texts, accuracy.best) == ("accuracy", ["75.0%", "90.0%"], 1)
    assert comparison.graphs[1].changed[0].params == {"out_features": (4, 8)}
    text = "\n".join(comparison.lines())
    assert "lr" in text and "90.0% *" in text and "~ fc1 (Linear): out_features 4 -> 8" in text
    json.dumps(comparison.to_dict())
    with pytest.raises(RunError, match="at least two"):
        compare_runs(store.runs()[:1])


def test_listing_a_store_needs_no_torch(tmp_path, graph):
    store = RunStore.beside(tmp_path / "net.json")
    store.create(graph, SETTINGS)
    code = ("import sys\nfrom netbuilder.core.training.runs import RunStore\n"
            "runs = RunStore(sys.argv[1]).runs()\nprint(runs[0].to_dict()['status'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(store.path)], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.stdout.split() == ["running", "False"], out.stderr  # its writer (this process) is alive
