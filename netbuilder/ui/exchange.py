"""File > Export (ONNX, PyTorch code, a training script) and File > Import (ONNX, a torch.export .pt2 file, PyTorch
code): run in the background, report in a message box. No file is replaced without asking.

Exports use the weights in view (the last run's, a run chosen in the Runs panel, a file loaded with File > Load
Weights) when they fit the graph as it is now, else the weights the graph names (an imported model's), else freshly
initialized ones; the message says which. A run's own Export It writes its graph as it was trained, with its weights.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from ..core.base.errors import NetbuilderError
from ..core.model.recipe import KEYS as RECIPE_KEYS
from .document import Document
from .folders import chosen, start_in


class Exchange(QObject):
    opened = Signal(object)  # the Path of a graph written by an import, to open
    message = Signal(str)

    def __init__(self, document: Document, training, parent: QWidget) -> None:
        """`training`: the training panel, whose last run's weights an export uses (None until it is built)."""
        super().__init__(parent)
        self.document, self.training, self.window = document, training, parent
        self.job = None  # a worker.LoadJob (imported when first needed: it imports torch)
        self.last_result: str | None = None

    def wait(self) -> None:
        """Let a running export or import finish (closing the window)."""
        if self.job is not None:
            self.job.wait()

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.isRunning()

    def export_dialog(self, kind: str, run=None) -> None:
        """File > Export (the weights in view), or a run's Export It (its graph as trained, with its weights):
        kind onnx, code or script (a folder for model.py and train.py)."""
        if kind == "script":
            folder = QFileDialog.getExistingDirectory(self.window, "Export a training script into", start_in())
            if chosen(folder):
                self.export_to(Path(folder), "script", run)
            return
        suffix, title, filters = ((".onnx", "Export ONNX model", "ONNX models (*.onnx)") if kind == "onnx"
                                  else (".py", "Export PyTorch code", "Python files (*.py)"))
        stem = (self.document.path.stem if self.document.path else "model") + (f"-run{run.number}" if run else "")
        start = str(self.document.path.with_name(stem + suffix)) if self.document.path else start_in(stem + suffix)
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, filters,
                                              options=QFileDialog.Option.DontConfirmOverwrite)  # export_to asks
        if chosen(path):
            self.export_to(Path(path).with_suffix(suffix), None, run)

    def export_to(self, path: Path, kind: str | None = None, run=None, overwrite: bool = False) -> bool:
        """Export in the background; the message box says where, how big, how well it verified and whose weights
        it holds. `kind`: onnx, code (from the suffix when None) or script (`path`: a folder). `run`: export that
        run (its graph as it was trained, its weights), else the document's graph with the weights in view. Files
        already there are replaced only when the user says so (or `overwrite`)."""
        if self.busy:
            return False
        from ..core.build.weights import graph_weights

        kind = kind or ("onnx" if path.suffix == ".onnx" else "code")
        if run is not None:
            try:
                graph = run.graph()
                run.weights_for_use()
                graph.set_recipe({k: v for k, v in run.settings.items() if k in RECIPE_KEYS})  # it trains like the run
            except NetbuilderError as e:
                self._finished(str(e), "Export failed")
                return False
            trained, named = None, run.weights_file
            words = (f"with the weights of run {run.number}" + (f" ({run.name})" if run.name else "")
                     + ", its graph as it was trained")
        else:
            graph = self.document.graph.copy()
            in_view = self.training.in_view if self.training is not None else None
            trained, words = (in_view.state, in_view.words) if in_view is not None else (None, None)
            named = graph_weights(graph, self.document.path)
        has_weights = trained is not None or (named is not None and named.exists())
        files = ([path / name for name in ("model.py", "train.py", "augment.py", "data.pt")] if kind == "script"
                 else [path, path.with_suffix(".pt")] if kind == "code" and has_weights else [path])
        if not overwrite and not self.confirm_replace(files):
            return False

        def work():  # on the worker thread: compiling a big graph must not hold up the window
            if kind == "script":
                from ..core.exchange.training_script import export_training_script

                report = export_training_script(graph, path, str(self.document.path or ""), overwrite=True)
                return report, "it trains the graph from fresh weights" + (f" with run {run.number}'s settings"
                                                                            if run is not None else "")
            from ..core.exchange.codegen import export_code
            from ..core.exchange.onnx_export import export_onnx

            model, weights, which = _choose_weights(graph, trained, named, words)
            if run is not None:
                which = words
            if kind == "onnx":
                return export_onnx(graph, path, weights=weights, model=model, overwrite=True), which
            return export_code(graph, path, weights=weights, model=model, save_model_weights=model is not None,
                               overwrite=True), which

        return self._start(work, lambda done: f"{done[0].summary()}; {done[1]}.", "Export failed",
                           f"Exporting {path.name}…")

    def confirm_replace(self, files: list[Path]) -> bool:
        """Ask before files already there are replaced; True: go ahead (none there, or the user said so)."""
        there = [f for f in files if f.exists()]
        if not there:
            return True
        names = ", ".join(f.name for f in there)
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Replace files?", f"{names} already exist{'s' if len(there) == 1 else ''} in "
            f"{there[0].parent}. Replace {'it' if len(there) == 1 else 'them'}?", buttons.Yes | buttons.No, buttons.No)
        return answer == buttons.Yes

    def import_dialog(self) -> None:
        source, _ = QFileDialog.getOpenFileName(
            self.window, "Import a model", start_in(), "Models (*.onnx *.pt2 *.py);;ONNX models (*.onnx);;"
            "torch.export files (*.pt2);;PyTorch code (*.py)")
        if chosen(source):
            self.import_source(Path(source), ask=True)

    def import_source(self, source: Path, ask: bool = False) -> bool:
        """Import a model as SOURCE.json beside it; asks where instead when `ask` or when that file exists. Code
        (a .py file) first asks which class or function makes the network and the shapes of its inputs."""
        inputs = None
        if source.suffix.lower() == ".py":
            answer = CodeImportDialog.ask(source, self.window)
            if answer is None:
                return False
            name, inputs = answer
            target = source.with_name(f"{source.stem}_{name}.json")
            source = Path(f"{source}:{name}")
            return self._ask_target(source, target, ask, inputs)
        return self._ask_target(source, source.with_suffix(".json"), ask, inputs)

    def _ask_target(self, source: Path, target: Path, ask: bool, inputs) -> bool:
        if ask or target.exists():
            picked, _ = QFileDialog.getSaveFileName(self.window, "Save the imported graph as", str(target),
                                                    "netbuilder graphs (*.json)",
                                                    options=QFileDialog.Option.DontConfirmOverwrite)  # import_to asks
            if not chosen(picked):
                return False
            target = Path(picked).with_suffix(".json")
        return self.import_to(source, target, inputs=inputs)

    def import_to(self, source: Path, target: Path, overwrite: bool = False, inputs: list[str] | None = None) -> bool:
        """Import in the background into TARGET.json (+ TARGET.pt), then open it; files already there are replaced
        only when the user says so (or `overwrite`). SOURCE is an .onnx or .pt2 file, or FILE.py:NAME with `inputs`
        (their shapes, the batch first: "1x3x32x32", "int64:1x12")."""
        if self.busy:
            return False
        if not overwrite and not self.confirm_replace([target, target.with_suffix(".pt")]):
            return False
        onnx = str(source).lower().endswith(".onnx")

        def work():
            if onnx:
                from ..core.exchange.onnx_import import import_onnx_file

                return import_onnx_file(source, target, overwrite=True)  # the dialog asked about replacing it
            from ..core.exchange.torch_import import import_torch_file

            return import_torch_file(str(source), target, inputs, overwrite=True)

        def done(imported) -> str:
            self.opened.emit(target)
            against = "onnxruntime" if onnx else "the model's own outputs"
            return (f"Imported {source.name}: {len(imported.graph)} blocks, saved as {target.name} with its weights "
                    f"in {target.with_suffix('.pt').name}; matches {against} to {imported.max_abs_diff:.1e}.")

        return self._start(work, done, "Import failed", f"Importing {source.name}…")

    def _start(self, work, describe, failure_title: str, busy_text: str) -> bool:
        from .worker import LoadJob

        self.job = LoadJob(work)
        self.job.done.connect(lambda result: self._finished(describe(result), None))
        self.job.failed.connect(lambda error: self._finished(error, failure_title))
        self.message.emit(busy_text)
        self.job.start()
        return True

    def _finished(self, text: str, failure_title: str | None) -> None:
        self.last_result = text
        self.message.emit(text)
        if failure_title:
            QMessageBox.warning(self.window, failure_title, text)
        else:
            QMessageBox.information(self.window, "Done", text)


def _choose_weights(graph, trained: dict | None, named: Path | None, words: str | None = None):
    """(trained model or None, weights file or None, words for the message): the weights in view (`trained`, which
    `words` names) when they fit the graph as it is now, else the file the graph names, else fresh ones."""
    from ..core.build.weights import fit_state

    model = fit_state(graph, trained)
    if model is not None:
        return model, None, f"with the weights of {words or 'the last training run'}"
    if named is not None and named.exists():
        return None, named, f"with the weights in {named.name}"
    return None, None, "with freshly initialized weights (train first to export trained ones)"


class CodeImportDialog(QDialog):
    """Which class (or function) of a .py file makes the network, and the shapes of its inputs. The file is read,
    not run, to offer its classes: importing it runs it."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import {path.name}")
        names, shapes = _code_outline(path)
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.addItems(names)
        self.inputs = QLineEdit(", ".join(shapes))
        self.inputs.setPlaceholderText("1x3x224x224, int64:1x12")
        form = QFormLayout(self)
        note = QLabel(f"Importing runs {path.name} (your code) to build the network, then exports it with "
                      "torch.export on inputs of these shapes.")
        note.setWordWrap(True)
        form.addRow(note)
        form.addRow("Class or function:", self.name)
        form.addRow("Input shapes (batch first):", self.inputs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> tuple[str, list[str]]:
        shapes = [s.strip() for s in self.inputs.text().replace(";", ",").split(",") if s.strip()]
        return self.name.currentText().strip(), shapes

    @classmethod
    def ask(cls, path: Path, parent: QWidget | None = None) -> tuple[str, list[str]] | None:
        dialog = cls(path, parent)
        return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None


def _code_outline(path: Path) -> tuple[list[str], list[str]]:
    """The classes of a .py file that derive from a Module (read, not run), the last first, and the input shapes
    netbuilder's own code notes in its comments."""
    import ast

    from ..core.exchange.torch_import.naming import conventions

    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return [], []
    names = [node.name for node in tree.body if isinstance(node, ast.ClassDef)
             and any("Module" in ast.unparse(base) for base in node.bases)]
    shapes = ["x".join(["1", *map(str, p["shape"])]) if p["dtype"] == "float32"
              else "int64:" + "x".join(["1", *map(str, p["shape"])]) for p in conventions(text).inputs.values()]
    return list(reversed(names)), shapes
