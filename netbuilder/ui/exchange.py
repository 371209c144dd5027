"""File > Export (ONNX, PyTorch code) and File > Import (ONNX, a torch.export .pt2 file, PyTorch code): run in the
background, report in a message box.

Exports use the weights of the last training run when they fit the graph as it is now, else the
weights the graph names (an imported model's), else freshly initialized ones; the message says which.
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

from .document import Document


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

    def export_dialog(self, kind: str) -> None:
        suffix, title, filters = ((".onnx", "Export ONNX model", "ONNX models (*.onnx)") if kind == "onnx"
                                  else (".py", "Export PyTorch code", "Python files (*.py)"))
        stem = (self.document.path.stem if self.document.path else "model")
        path, _ = QFileDialog.getSaveFileName(self.window, title, stem + suffix, filters)
        if path:
            self.export_to(Path(path).with_suffix(suffix))

    def export_to(self, path: Path) -> bool:
        """Export in the background; the message box says where, how big, and how well it verified."""
        if self.busy:
            return False
        from ..core.build.weights import graph_weights
        from ..core.exchange.codegen import export_code
        from ..core.exchange.onnx_export import export_onnx

        graph = self.document.graph.copy()
        trained = self.training.trained_state() if self.training is not None else None
        named = graph_weights(graph, self.document.path)

        def work():  # on the worker thread: compiling a big graph must not hold up the window
            model, weights, which = _choose_weights(graph, trained, named)
            if path.suffix == ".onnx":
                return export_onnx(graph, path, weights=weights, model=model, overwrite=True), which
            return export_code(graph, path, weights=weights, model=model, save_model_weights=model is not None,
                               overwrite=True), which

        return self._start(work, lambda done: f"{done[0].summary()}; {done[1]}.", "Export failed",
                           f"Exporting {path.name}…")

    def import_dialog(self) -> None:
        source, _ = QFileDialog.getOpenFileName(
            self.window, "Import a model", "", "Models (*.onnx *.pt2 *.py);;ONNX models (*.onnx);;"
            "torch.export files (*.pt2);;PyTorch code (*.py)")
        if source:
            self.import_source(Path(source), ask=True)

    def import_source(self, source: Path, ask: bool = False) -> bool:
        """Import a model as SOURCE.json beside it; asks where instead when `ask` or when that file exists. Code
        (a .py file) first asks which class or function makes the network and the shapes of its inputs."""
        inputs = None
        if source.suffix.lower() == ".py":
            chosen = CodeImportDialog.ask(source, self.window)
            if chosen is None:
                return False
            name, inputs = chosen
            target = source.with_name(f"{source.stem}_{name}.json")
            source = Path(f"{source}:{name}")
            return self._ask_target(source, target, ask, inputs)
        return self._ask_target(source, source.with_suffix(".json"), ask, inputs)

    def _ask_target(self, source: Path, target: Path, ask: bool, inputs) -> bool:
        if ask or target.exists():
            chosen, _ = QFileDialog.getSaveFileName(self.window, "Save the imported graph as", str(target),
                                                    "netbuilder graphs (*.json)")
            if not chosen:
                return False
            target = Path(chosen).with_suffix(".json")
        return self.import_to(source, target, inputs)

    def import_to(self, source: Path, target: Path, inputs: list[str] | None = None) -> bool:
        """Import in the background into TARGET.json (+ TARGET.pt), then open it. SOURCE is an .onnx or .pt2 file,
        or FILE.py:NAME with `inputs` (their shapes, the batch first: "1x3x32x32", "int64:1x12")."""
        if self.busy:
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


def _choose_weights(graph, trained: dict | None, named: Path | None):
    """(trained model or None, weights file or None, words for the message): the last run's weights when
    they fit the graph as it is now, else the file the graph names, else fresh ones."""
    from ..core.build.weights import fit_state

    model = fit_state(graph, trained)
    if model is not None:
        return model, None, "with the weights of the last training run"
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
