"""Runs that last, in the editor (issue 19): every run from the window is kept in the document's store and comes back
after the window is closed (curves, results, weights for the Inside view and for exports); the Runs panel renames,
notes, stars and deletes runs (undoably); runs are continued and fine-tuned from; an unsaved network's runs move
beside it when it is saved; File > Load Weights loads any weights file with its fit report."""
import shutil

import torch
from PySide6.QtWidgets import QMessageBox

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import read_state, save_weights
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.runs import RunStore
from tests.conftest import EXAMPLES


def saved_copy(tmp_path, name="mlp_xor"):
    path = tmp_path / f"{name}.json"
    shutil.copy(EXAMPLES / f"{name}.json", path)
    return path


def train(window, qtbot, epochs=2):
    panel = window.training
    panel.epochs.setValue(epochs)
    window.start_training()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=120_000)
    qtbot.waitUntil(lambda: not window.document_runs.poll.isActive(), timeout=10_000)


def weights_settled(window, qtbot):
    qtbot.waitUntil(lambda: all(not job.isRunning() for job in window._jobs), timeout=30_000)
    qtbot.wait(20)  # the job's answer, queued to the window


def new_window(qtbot, tmp_path):
    from netbuilder.ui.main_window import MainWindow

    win = MainWindow(recovery_directory=tmp_path / "recovery2", offer_recovery=False)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.document.report is not None and win.training is not None, timeout=60_000)
    return win


def probe_weights(window, qtbot, block="fc1") -> str:
    probe = window.probe
    window.probe_dock.show()
    window.probe_dock.raise_()
    window.scene.select_nodes([window.document.graph.find(block).id])
    qtbot.waitUntil(lambda: probe.shown is not None and probe._job is None and not probe._waiting
                    and not probe._refresh_timer.isActive(), timeout=60_000)
    return probe.shown.weights


def test_a_run_trained_in_the_window_is_there_after_closing_it_with_its_curves_results_and_weights(
        window, qtbot, tmp_path, answer):
    path = saved_copy(tmp_path)
    assert window.open_path(path)
    train(window, qtbot, epochs=2)
    run = RunStore.beside(path).run("last")
    assert run.number == 1 and run.status == "finished" and run.record["source"] == "editor"
    assert (run.path / "shown.pt").is_file() and run.settings["epochs"] == 2 and run.settings["lr"] == 0.05
    summary = window.training.results.summary.text()
    window.document.undo_stack.setClean()
    assert window.close()

    again = new_window(qtbot, tmp_path)
    try:
        assert again.open_path(path)
        weights_settled(again, qtbot)
        panel = again.training
        assert [r.number for r in again.runs_panel.listed] == [1]
        assert again.runs_panel.table.item(0, 2).text() == "finished"
        assert again.runs_panel.table.item(0, 3).text().startswith("accuracy")
        curves = panel.plots.current
        assert curves.epochs["epoch"] == [1.0, 2.0] and len(curves.batch_loss) == len(run.curves()["batch_losses"])
        assert panel.results.summary.text() == summary and "test accuracy" in summary
        assert sum(map(sum, panel.results.matrix.counts)) > 0, "the confusion matrix as it was"
        state = read_state(run.weights_file)
        assert set(panel.trained_state()) == set(state)
        assert all(torch.equal(panel.trained_state()[k], v) for k, v in state.items())
        assert probe_weights(again, qtbot) == "those of run 1"
        seen = answer(QMessageBox.StandardButton.Ok)
        again.exchange.export_to(tmp_path / "xor.py")
        qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
        assert "with the weights of run 1" in seen[0]
        exported = torch.load(tmp_path / "xor.pt", weights_only=True)
        assert all(torch.equal(exported[k], state[k]) for k in exported)
    finally:
        again.document.undo_stack.setClean()
        again.close()


def test_the_runs_panel_renames_notes_stars_and_deletes_runs_each_undoably(window, qtbot, tmp_path):
    path = saved_copy(tmp_path)
    assert window.open_path(path)
    train(window, qtbot, epochs=1)
    train(window, qtbot, epochs=1)
    panel = window.runs_panel
    assert [r.number for r in panel.listed] == [1, 2]
    assert panel.table.item(0, 0).text().startswith("2"), "the newest first"
    store = RunStore.beside(path)
    panel.select([1])
    assert panel.rename(panel.selected()[0], "first try")
    assert panel.note(store.run(1), "the recipe's settings")
    assert panel.toggle_star(store.run(1))
    one = store.run(1)
    assert (one.name, one.note, one.starred) == ("first try", "the recipe's settings", True)
    row = next(r for r in range(panel.table.rowCount()) if panel._row_run(r).number == 1)
    assert panel.table.item(row, 0).text().startswith("★ 1  first try")
    panel.undo_stack.undo()
    assert not store.run(1).starred
    panel.undo_stack.redo()
    assert store.run(1).starred
    assert panel.delete([store.run(2)])
    assert [r.number for r in store.runs()] == [1] and [r.number for r in store.trashed()] == [2]
    assert [r.number for r in panel.listed] == [1]
    panel.buttons["undo"].click()
    assert [r.number for r in store.runs()] == [1, 2] and store.trashed() == []
    for _ in range(3):
        panel.undo_stack.undo()
    one = store.run(1)
    assert (one.name, one.note, one.starred) == ("", "", False)
    assert panel.delete([store.run(1)]) and [r.number for r in store.trashed()] == [1]
    panel.select([2])
    trash = next(a.menu() for a in panel.menu().actions() if a.text() == "Restore from the Trash")
    trash.actions()[0].trigger()
    assert [r.number for r in store.runs()] == [1, 2] and store.trashed() == []


def test_a_run_is_continued_from_its_checkpoint_and_fine_tuned_from_as_new_runs(window, qtbot, tmp_path):
    path = saved_copy(tmp_path)
    assert window.open_path(path)
    train(window, qtbot, epochs=1)
    store = RunStore.beside(path)
    first = store.run(1)
    assert window.continue_run(first)
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=120_000)
    second = store.run(2)
    assert second.status == "finished" and second.record["resumed_from"] == 1
    assert [e["epoch"] for e in second.epochs] == [1, 2], "its curves start with the earlier run's"
    assert store.run(1).status == "finished" and len(store.run(1).epochs) == 1, "the earlier run as it was"
    assert window.finetune_run(second)
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=120_000)
    third = store.run(3)
    assert third.record["weights_from"] == str(second.weights_file) and third.status == "finished"


def test_an_unsaved_networks_runs_move_beside_it_when_it_is_saved(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    assert window.open_example(EXAMPLES / "mlp_xor.json")
    train(window, qtbot, epochs=1)
    unsaved = window.document_runs.store
    assert unsaved.path.name == "example-mlp_xor.runs" and [r.number for r in unsaved.runs()] == [1]
    target = tmp_path / "mine.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    assert window.save_as()
    moved = RunStore.beside(target)
    assert [r.status for r in moved.runs()] == ["finished"] and not unsaved.path.exists()
    assert moved.run(1).has_weights() and [r.number for r in window.runs_panel.listed] == [1]
    assert window.runs_panel.where.text() == "1 run of mine.json, in mine.runs"
    assert str(moved.path) in window.runs_panel.where.toolTip()


def test_file_load_weights_loads_what_fits_with_the_fit_report_and_they_are_the_weights_in_view(
        window, qtbot, tmp_path, answer):
    path = saved_copy(tmp_path)
    assert window.open_path(path)
    other = Graph.load(path)
    other.set_param(other.find("fc2").id, "out_features", 3)  # a head that does not fit
    model = compile_graph(other)
    save_weights(model, tmp_path / "other.pt")
    job = window.load_weights_file(tmp_path / "other.pt")
    qtbot.waitUntil(lambda: job.isFinished(), timeout=30_000)
    qtbot.waitUntil(lambda: window.training.in_view is not None, timeout=5_000)
    in_view = window.training.in_view
    assert in_view.words == "other.pt"
    assert "loaded 2 of the graph's tensors; started fresh: fc2.weight: 3x4 in the file, 1x4 in the graph" in in_view.report
    assert torch.equal(in_view.state["fc1.weight"], model.state_dict()["fc1.weight"])
    assert window.training.status.text() == in_view.report
    assert probe_weights(window, qtbot) == "those of other.pt"
    seen = answer(QMessageBox.StandardButton.Ok)
    window.exchange.export_to(tmp_path / "xor.onnx")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
    assert "with the weights of other.pt" in seen[0]
    window.load_weights_file(tmp_path / "nothing.pt")
    qtbot.waitUntil(lambda: window.message_bar.isVisible(), timeout=30_000)
    assert "nothing.pt: no such file" in window.message_bar.text.text() and window.training.in_view is in_view


def test_closing_during_a_run_asks_and_keeps_the_stopped_run(window, qtbot, tmp_path, answer):
    path = saved_copy(tmp_path)
    assert window.open_path(path)
    window.training.epochs.setValue(5000)
    window.start_training()
    try:
        qtbot.waitUntil(lambda: window.training.plots.current is not None
                        and bool(window.training.plots.current.epochs["epoch"]), timeout=60_000)
        live = window.training.plots.current
        qtbot.waitUntil(lambda: len(window.runs_panel.listed) == 1, timeout=10_000)
        window.show_run(window.runs_panel.listed[0])  # its curves are the live ones: not replaced while it trains
        window.compare_runs(window.runs_panel.listed * 2)
        assert window.training.plots.current is live and "A run is training" in window.statusBar().currentMessage()
        seen = answer(QMessageBox.StandardButton.Cancel)
        assert not window.close()
        assert seen[0] == "Stop the training run and quit?" and window.training.is_running
        answer(QMessageBox.StandardButton.Yes)
        assert window.close()
    finally:
        window.training.wait()
    run = RunStore.beside(path).run(1)
    assert run.status == "stopped" and run.has_weights() and run.epochs


def test_comparing_two_runs_overlays_their_curves_marks_the_changed_settings_and_the_changed_blocks(
        window, qtbot, tmp_path):
    from netbuilder.ui.commands import RecordedEdit, SetParam

    path = saved_copy(tmp_path)
    assert window.open_path(path)
    train(window, qtbot, epochs=2)
    graph = window.document.graph
    fc1, fc2 = graph.find("fc1").id, graph.find("fc2").id
    assert window.document.push(SetParam(graph, fc1, "out_features", 8))

    def insert_dropout(_graph):
        drop = graph.add_node("Dropout", {"p": 0.1}, name="drop")
        graph.disconnect(fc2, "in")
        graph.connect(graph.find("tanh1").id, drop.id)
        graph.connect(drop.id, fc2)

    assert window.document.push(RecordedEdit(graph, "insert a dropout", insert_dropout))
    window.training.lr.setText("0.01")
    train(window, qtbot, epochs=2)
    panel = window.runs_panel
    changed = next(panel.table.item(r, 8).text() for r in range(2) if panel._row_run(r).number == 2)
    assert changed == "lr 0.05 → 0.01, graph: +drop, fc1, fc2"
    panel.select([1, 2])
    panel.buttons["compare"].click()

    plots = window.training.plots
    for widget in (plots.loss, plots.epoch_loss, plots.metric):
        names = [label.text for _, label in widget.plotItem.legend.items]
        assert names == ["run 1", "run 2"], names
    colours = {curve.opts["pen"].color().name() for curve in plots.epoch_loss.plotItem.listDataItems()}
    assert len(colours) == 2, "each run in its own colour"
    table = panel.compare.table
    rows = {table.verticalHeaderItem(r).text(): r for r in range(table.rowCount())}
    assert "≠ lr" in rows and [table.item(rows["≠ lr"], c).text() for c in range(2)] == ["0.05", "0.01"]
    assert table.item(rows["≠ lr"], 0).background().color().alpha() > 0
    assert "epochs" in rows and "≠ epochs" not in rows, "the same epochs: not marked"
    blocks = window.scene.blocks
    drop = graph.find("drop").id
    assert blocks[fc1].mark == ("changed", "fc1 (Linear): out_features 4 -> 8")
    assert "out_features 4 -&gt; 8" in blocks[fc1].toolTip() or "out_features 4 -> 8" in blocks[fc1].toolTip()
    assert blocks[drop].mark[0] == "added" and blocks[fc2].mark[0] == "rewired"
    assert "input in tanh1 -> drop" in blocks[fc2].mark[1]
    assert blocks[graph.find("tanh1").id].mark is None
    assert "1 added, 2 changed" in panel.compare.graph.text()

    panel.buttons["leave"].click()
    assert all(item.mark is None for item in blocks.values())
    assert [label.text for _, label in plots.epoch_loss.plotItem.legend.items] != ["run 1", "run 2"]
    assert not panel.compare.isVisible()


def test_import_export_and_save_as_never_replace_a_file_without_asking(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from netbuilder.core.exchange.onnx_export import export_onnx

    asked = []
    reply = {"answer": QMessageBox.StandardButton.No}

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return reply["answer"]

    monkeypatch.setattr(QMessageBox, "question", question)
    path = saved_copy(tmp_path)
    assert window.open_path(path)
    keep = {name: b"the user's own " + name.encode() for name in ("xor.py", "xor.pt", "model.py", "train.py",
                                                                 "net.json", "net.pt")}
    for name, data in keep.items():
        (tmp_path / name).write_bytes(data)
    export_onnx(Graph.load(path), tmp_path / "net.onnx")
    window.training.set_in_view(None)
    save_weights(compile_graph(window.document.graph), tmp_path / "w.pt")
    job = window.load_weights_file(tmp_path / "w.pt")
    qtbot.waitUntil(lambda: job.isFinished() and window.training.in_view is not None, timeout=30_000)

    assert not window.exchange.export_to(tmp_path / "xor.py")
    assert "xor.py, xor.pt already exist" in asked[-1]
    assert not window.exchange.export_to(tmp_path, "script")
    assert "model.py, train.py already exist" in asked[-1]
    assert not window.exchange.import_to(tmp_path / "net.onnx", tmp_path / "net.json")
    assert "net.json, net.pt already exist" in asked[-1]
    (tmp_path / "other.json").write_text("{}")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(tmp_path / "other.json"), ""))
    assert not window.save_as()
    assert "other.json already exists. Replace it?" in asked[-1]
    assert (tmp_path / "other.json").read_text() == "{}" and window.document.path == path
    assert all((tmp_path / name).read_bytes() == data for name, data in keep.items()), "nothing was replaced"
    assert not window.exchange.busy and len(asked) == 4

    reply["answer"] = QMessageBox.StandardButton.Yes
    seen = []
    window.exchange.message.connect(seen.append)
    monkeypatch.setattr(QMessageBox, "information", lambda *args: None)
    assert window.exchange.export_to(tmp_path / "xor.py")
    qtbot.waitUntil(lambda: not window.exchange.busy, timeout=60_000)
    assert "class Net" in (tmp_path / "xor.py").read_text() and "with the weights of w.pt" in seen[-1]
    assert window.save_as() and window.document.path == tmp_path / "other.json"
    assert Graph.load(tmp_path / "other.json").find("fc1") is not None


def test_a_runs_export_is_its_graph_as_trained_with_its_weights_and_its_graph_opens_as_a_document(
        window, qtbot, tmp_path, answer):
    from netbuilder.ui.commands import SetParam

    path = saved_copy(tmp_path)
    assert window.open_path(path)
    train(window, qtbot, epochs=1)
    run = RunStore.beside(path).run(1)
    graph = window.document.graph
    assert window.document.push(SetParam(graph, graph.find("fc1").id, "out_features", 8))  # the graph moves on
    seen = answer(QMessageBox.StandardButton.Ok)
    assert window.exchange.export_to(tmp_path / "run1.py", None, run)
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
    assert "with the weights of run 1, its graph as it was trained" in seen[0]
    exported, state = torch.load(tmp_path / "run1.pt", weights_only=True), read_state(run.weights_file)
    assert exported["fc1.weight"].shape == (4, 2) and all(torch.equal(v, state[k]) for k, v in exported.items())
    answer(QMessageBox.StandardButton.Discard)  # the edit is not saved
    assert window.open_run_graph(run)
    assert window.document.path is None and window.document.graph.find("fc1").params["out_features"] == 4
    assert window.document.display_name == "run 1 of mlp_xor.json (its graph)"
    assert window.runs_panel.listed == [], "a document of its own"
