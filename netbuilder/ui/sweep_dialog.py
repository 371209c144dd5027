"""Train > Sweep…: define a sweep. A row per thing to vary (a training setting or a block's parameter, offered from
the graph, each with values to start from, written as `netbuilder sweep --param` takes them), the figure to
optimise and its direction, the number of trials, a time budget, the sampler, pruning, worker processes and the
study's name. OK checks it all (one line in red when something is wrong) and keeps the dialog open until it is right.
"""
from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.checks.messages import describe
from ..core.training.sweep import METRICS, SAMPLERS, SweepDefinition, check_params, cores, parse_values

SETTING_VALUES = {
    "lr": "1e-4:1e-1:log", "momentum": "0.5:0.99", "beta1": "0.5:0.95", "weight_decay": "1e-6:1e-2:log",
    "l1": "1e-6:1e-3:log", "gamma": "0.1:0.9", "grad_clip": "0.5:5", "batch_size": "16,32,64,128",
    "epochs": "5:20:int", "step_size": "2:10:int", "early_stopping": "0,3,5", "seed": "0,1,2",
    "optimizer": "sgd,momentum,adam", "schedule": "none,step,cosine", "loss": "auto,cross_entropy",
    "augment": "none,flip",
}
METRIC_WORDS = {"val_loss": "validation loss", "val_metric": "validation accuracy (or MSE)", "test_loss": "test loss",
                "test_metric": "test accuracy (or MSE)", "headline": "the headline figure of this kind of network"}
NOT_OFFERED = ("groups", "dim", "start_dim", "end_dim", "axis")  # numbers a block has that are not worth a search
SAMPLER_WORDS = {"tpe": "TPE (learns from the trials so far)", "random": "random", "grid": "grid (every combination)"}


def block_choices(graph) -> dict[str, str]:
    """`BLOCK.PARAM` for every number a block has, with values around its own to start from."""
    found = {}
    for node in graph.nodes:
        if node.type in ("Input", "Output"):
            continue
        for param in node.spec.params:
            if param.name in NOT_OFFERED:
                continue
            value = node.params.get(param.name)
            if param.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
                found[f"{node.name}.{param.name}"] = ",".join(
                    str(v) for v in dict.fromkeys([max(1, value // 2), value, value * 2]))
            elif param.kind == "float" and isinstance(value, (int, float)):
                found[f"{node.name}.{param.name}"] = "0:0.5" if 0 <= value < 1 else \
                    f"{value / 10:g}:{value * 10:g}:log" if value > 0 else "0:1"
    return found


class ParamRow:
    def __init__(self, dialog: SweepDialog, name: str, values: str) -> None:
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.addItems(list(dialog.suggestions))
        self.name.setCurrentText(name)
        self.name.setMinimumContentsLength(16)
        self.values = QLineEdit(values)
        self.values.setPlaceholderText("lo:hi, lo:hi:log, lo:hi:int or a,b,c")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Stop varying this")
        self.name.currentTextChanged.connect(lambda text: self._suggest(dialog, text))

    def _suggest(self, dialog: SweepDialog, text: str) -> None:
        if text in dialog.suggestions:
            self.values.setText(dialog.suggestions[text])


class SweepDialog(QDialog):
    def __init__(self, graph, settings: dict, parent: QWidget | None = None, previous: dict | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.graph, self.settings = graph, settings
        self.suggestions = {**SETTING_VALUES, **block_choices(graph)}
        self.rows: list[ParamRow] = []
        self.definition: SweepDefinition | None = None
        self.workers = 1
        self.study_name: str | None = None

        intro = QLabel("Each trial trains the network with other values, as a run of its own. Write values as a range "
                       "(1e-4:1e-1:log, 16:128:int) or a list (16,32,64).")
        intro.setWordWrap(True)
        intro.setObjectName("help")
        self.grid = QGridLayout()
        self.grid.addWidget(QLabel("Vary"), 0, 0)
        self.grid.addWidget(QLabel("over"), 0, 1)
        add = QPushButton("Add Parameter")
        add.clicked.connect(lambda: self.add_row("", ""))

        self.figure = QComboBox()
        for name in METRICS:
            self.figure.addItem(METRIC_WORDS[name], name)
        self.direction = QComboBox()
        self.direction.addItem("its own (losses down, accuracy up)", None)
        self.direction.addItem("lower is better", "minimize")
        self.direction.addItem("higher is better", "maximize")
        self.trials = QSpinBox()
        self.trials.setRange(1, 10_000)
        self.trials.setValue(20)
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0, 100_000)
        self.minutes.setDecimals(1)
        self.minutes.setSpecialValueText("none")
        self.minutes.setSuffix(" min")
        self.sampler = QComboBox()
        for name in SAMPLERS:
            self.sampler.addItem(SAMPLER_WORDS[name], name)
        self.prune = QCheckBox("Stop trials worse than the median at the same epoch (median pruner)")
        self.workers_box = QSpinBox()
        self.workers_box.setRange(1, max(1, cores()))
        self.workers_box.setToolTip("Trials at once, each in a process of its own with its share of the cores")
        self.study = QLineEdit()
        self.study.setPlaceholderText("made from what is swept (the same sweep again continues it)")
        form = QFormLayout()
        form.addRow("Figure to optimise", self.figure)
        form.addRow("Better is", self.direction)
        form.addRow("Trials", self.trials)
        form.addRow("Time budget", self.minutes)
        form.addRow("Sampler", self.sampler)
        form.addRow("", self.prune)
        form.addRow("Worker processes", self.workers_box)
        form.addRow("Study", self.study)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #d93025")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start Sweep")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(self.grid)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addStretch()
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._fill(previous)

    def _fill(self, previous: dict | None) -> None:
        if previous:
            for text in previous.get("params", []):
                name, _, values = text.partition("=")
                self.add_row(name, values)
            self.figure.setCurrentIndex(max(0, self.figure.findData(previous.get("metric"))))
            self.trials.setValue(int(previous.get("trials") or 20))
            self.sampler.setCurrentIndex(max(0, self.sampler.findData(previous.get("sampler"))))
            self.prune.setChecked(bool(previous.get("prune")))
        else:
            self.add_row("lr", SETTING_VALUES["lr"])

    def add_row(self, name: str, values: str) -> ParamRow:
        row = ParamRow(self, name, values)
        index = len(self.rows) + 1
        self.grid.addWidget(row.name, index, 0)
        self.grid.addWidget(row.values, index, 1)
        self.grid.addWidget(row.remove, index, 2)
        row.remove.clicked.connect(lambda: self.remove_row(row))
        self.rows.append(row)
        return row

    def remove_row(self, row: ParamRow) -> None:
        self.rows.remove(row)
        for widget in (row.name, row.values, row.remove):
            self.grid.removeWidget(widget)
            widget.deleteLater()

    def build(self) -> SweepDefinition:
        """The definition the widgets describe; SweepError (or another NetbuilderError) saying what is wrong."""
        params = [parse_values(row.name.currentText().strip(), row.values.text()) for row in self.rows
                  if row.name.currentText().strip() or row.values.text().strip()]
        definition = SweepDefinition(params, self.figure.currentData(), self.direction.currentData(),
                                     self.trials.value(), self.minutes.value() * 60 or None,
                                     self.sampler.currentData(), self.prune.isChecked())
        definition.check()
        check_params(params, self.graph, self.settings)
        return definition

    def accept(self) -> None:
        try:
            self.definition = self.build()
        except ValueError as e:
            self.error.setText(describe(e))
            return
        self.workers = self.workers_box.value()
        self.study_name = self.study.text().strip() or None
        super().accept()

