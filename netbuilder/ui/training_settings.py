"""The training panel's settings form: the dataset and its preview, the optimizer, the schedule, the speed options,
the memory plan, and the recipe a graph carries. Mixed into TrainingPanel, which adds the run control (Start,
Pause, Stop), the curves and the results; this half never starts a run."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.base.system import cpu_count
from ..core.checks.messages import describe
from ..core.data.specs import KINDS, DataSpec
from ..core.training.config import LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig, TrainingError
from ..core.training.experiment import single_input
from .augment_view import AugmentationEditor
from .commands import SetRecipe
from .samples import SampleGrid, label_of, preview_items, scatter
from .worker import LoadJob

AUTO_LOSS_WORDS = ("Loss: automatic, as the graph has no loss blocks: cross-entropy for class labels "
                   "(BCE-with-logits for one output and two classes), MSE for values")


class SettingsForm:
    """The settings column's widgets and what they say (config(), spec(), recipe())."""

    # ----- building the widgets

    def _settings(self) -> QWidget:
        d = TrainConfig()
        self.dataset = QComboBox()
        self.dataset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.dataset.setMinimumContentsLength(12)  # long names elide: the column is narrow
        for kind in KINDS.values():
            self.dataset.addItem(kind.title, kind.name)
            self.dataset.setItemData(self.dataset.count() - 1, kind.help, Qt.ItemDataRole.ToolTipRole)
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder or file")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.label_column = QLineEdit()
        self.label_column.setPlaceholderText("label column")
        self.options = QLineEdit()
        self.options.setToolTip("options of a generated dataset, e.g. n=2000:noise=0.1:seed=0")
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.label_column)
        path_row.addWidget(self.options, 1)
        path_row.addWidget(self.browse)
        self.dataset.currentTextChanged.connect(self._dataset_changed)
        self.preview_button = QPushButton("Preview")
        self.preview_button.clicked.connect(self.show_preview)
        data_row = QHBoxLayout()
        data_row.addWidget(self.dataset, 1)
        data_row.addWidget(self.preview_button)

        self.epochs = self._spin(1, 100_000, d.epochs)
        self.batch_size = self._spin(1, 1_000_000, d.batch_size)
        self.optimizer = self._combo(OPTIMIZERS, d.optimizer)
        self.lr = QLineEdit(f"{d.lr:g}")
        self.loss = self._combo(LOSSES, d.loss)
        self.loss.setToolTip(AUTO_LOSS_WORDS)
        self.objective = QLabel(AUTO_LOSS_WORDS)
        self.objective.setObjectName("help")
        self.objective.setWordWrap(True)
        self.schedule = self._combo(SCHEDULES, d.schedule)
        self.weight_decay = QLineEdit(f"{d.weight_decay:g}")
        self.momentum = QLineEdit(f"{d.momentum:g}")
        self.momentum.setToolTip("momentum of the momentum, nesterov and rmsprop optimizers")
        self.l1 = QLineEdit(f"{d.l1:g}")
        self.l1.setToolTip("L1 penalty on all weights (0: off)")
        self.step_size = self._spin(1, 100_000, d.step_size)
        self.step_size.setToolTip("step schedule: epochs between decays (plateau: twice its patience)")
        self.gamma = QLineEdit(f"{d.gamma:g}")
        self.gamma.setToolTip("the factor the learning rate is multiplied by at each decay")
        self.val_percent = self._spin(0, 50, 10)
        self.augmentations = AugmentationEditor(self._augment_context, self._show_augment_page)  # ui/augment_view.py
        self.device = self._combo(("auto", "cpu"), "auto")
        self.seed = self._spin(0, 2**31 - 1, d.seed)
        self.early_stopping = self._spin(0, 1000, d.early_stopping)
        self.early_stopping.setSpecialValueText("off")
        self.early_stopping.setToolTip("stop when the validation loss has not improved for this many epochs, "
                                       "keeping the best weights")

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("dataset"), 0, 0)
        grid.addLayout(data_row, 0, 1, 1, 3)
        grid.addLayout(path_row, 1, 1, 1, 3)
        pairs = [("epochs", self.epochs, "batch size", self.batch_size),
                 ("optimizer", self.optimizer, "learning rate", self.lr),
                 ("momentum", self.momentum, "L1", self.l1),
                 ("loss", self.loss, "schedule", self.schedule),
                 ("step every", self.step_size, "decay factor", self.gamma),
                 ("weight decay", self.weight_decay, "validation %", self.val_percent),
                 ("early stop", self.early_stopping, "device", self.device)]
        rows = [(label, widget) for left, left_widget, right, right_widget in pairs
                for label, widget in ((left, left_widget), (right, right_widget))]
        rows += [("augment", self.augmentations), ("seed", self.seed), ("speed", self._speed_options())]
        for row, (label, widget) in enumerate(rows, start=2):  # one column: the panel is a narrow dock
            grid.addWidget(QLabel(label), row, 0)
            if isinstance(widget, (QHBoxLayout, QVBoxLayout)):
                grid.addLayout(widget, row, 1, 1, 3)
            else:
                grid.addWidget(widget, row, 1, 1, 3)
        grid.addWidget(self.objective, len(rows) + 2, 0, 1, 4)
        grid.addWidget(self._memory_plan_label(), len(rows) + 3, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        self.keep_button = QPushButton("Keep in graph")
        self.keep_button.setToolTip("keep these settings in the document (its recipe): Save then carries them, and "
                                    "`netbuilder train` and the next Start use them")
        self.keep_button.clicked.connect(self.keep_recipe)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button, self.keep_button):
            buttons.addWidget(button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()

        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 6, 0)
        column.addLayout(grid)
        column.addStretch()
        scroll = QScrollArea()
        scroll.setWidget(box)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(240)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # a narrow dock clips nothing
        self._dataset_changed(self.dataset.currentText())
        pinned = QWidget()  # Start / Pause / Stop, the progress and what happened: always in view
        head = QVBoxLayout(pinned)
        head.setContentsMargins(0, 0, 0, 4)
        head.addLayout(buttons)
        head.addWidget(self.progress)
        head.addWidget(self.status)
        head.addWidget(self.error)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(pinned)
        layout.addWidget(scroll, 1)
        return panel

    # ----- speed and memory (issue 14): compiling in the background, tuning, the memory plan, downloads

    def _speed_options(self) -> QVBoxLayout:
        d = TrainConfig()
        self.compile_box = QCheckBox("compile in the background")
        self.compile_box.setChecked(d.compile != "off")
        self.compile_box.setToolTip("start at once, compile the network with torch.compile on another thread and "
                                    "switch to it if it trains faster (long runs); off: always eager")
        self.tune_box = QCheckBox("tune for the device")
        self.tune_box.setChecked(d.tune != "off")
        self.tune_box.setToolTip("channels_last memory for convolutions (CPUs and GPUs); bf16 mixed precision where "
                                 "the first batches measure it faster with the same loss (CPUs with AMX or AVX-512 "
                                 "BF16, GPUs); off: exactly as written, in float32")
        row = QVBoxLayout()  # one above the other: the panel is a narrow dock
        row.addWidget(self.compile_box)
        row.addWidget(self.tune_box)
        return row

    def _speed_values(self) -> dict:
        return {"compile": "auto" if self.compile_box.isChecked() else "off",
                "tune": "auto" if self.tune_box.isChecked() else "off"}

    def _memory_plan_label(self) -> QLabel:
        """What training will take in memory, measured before Start (on a worker thread) whenever the graph, the
        batch size, the optimizer or the device change."""
        from PySide6.QtCore import QTimer

        self.memory_plan = QLabel()
        self.memory_plan.setObjectName("help")
        self.memory_plan.setWordWrap(True)
        self._plan_job: LoadJob | None = None
        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(400)
        self._plan_timer.timeout.connect(self.update_memory_plan)
        for changed in (self.batch_size.valueChanged, self.optimizer.currentTextChanged,
                        self.device.currentTextChanged, self.document.report_changed):
            changed.connect(lambda *_: self._plan_timer.start())  # (not start(value): that would set its interval)
        return self.memory_plan

    def update_memory_plan(self) -> bool:
        """Measure the plan for the current settings in the background; False when there is nothing to measure."""
        report = self.document.report
        if self.worker is not None or report is None or report.errors or (
                self._plan_job is not None and self._plan_job.isRunning()):
            if self._plan_job is not None and self._plan_job.isRunning():
                self._plan_timer.start()  # measure again once the last one is done
            return False
        graph = self.document.graph.copy()
        batch_size, optimizer, device = self.batch_size.value(), self.optimizer.currentText(), self.device.currentText()

        def measure():
            from ..core.training.config import pick_device
            from ..core.training.memory_plan import plan_lines, plan_training

            where = str(pick_device(device))
            plan, available, largest = plan_training(graph, batch_size, TrainConfig(batch_size=batch_size,
                                                                                    optimizer=optimizer), where)
            return plan, available, largest, plan_lines(plan, available, largest, where, optimizer)

        self._plan_job = LoadJob(measure)
        self._plan_job.done.connect(self._show_memory_plan)
        self._plan_job.failed.connect(lambda message: self.memory_plan.setText(f"Memory: {message}"))
        self._plan_job.start()
        return True

    def _show_memory_plan(self, measured) -> None:
        from ..core.base.system import format_bytes
        from ..core.checks.memory import HEADROOM

        plan, available, largest, lines = measured
        fits = available is None or plan.total <= HEADROOM * available
        free = f" of {format_bytes(available)} free" if available is not None else ""
        most = f"; batches up to {largest:,} fit" if largest is not None else ""
        text = f"Memory: about {format_bytes(plan.total)}{free}{most}" + ("" if fits else " — this batch does NOT fit")
        self.memory_plan.setText(text)
        self.memory_plan.setToolTip("\n".join(lines))
        self.memory_plan.setStyleSheet("" if fits else "color: #c0392b;")

    @staticmethod
    def _spin(low: int, high: int, value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        return box

    @staticmethod
    def _combo(items, current: str) -> QComboBox:
        box = QComboBox()
        box.addItems(list(items))
        box.setCurrentText(current)
        return box

    def _add_devices(self) -> None:
        from ..core.training.config import available_devices

        for name in available_devices():
            if self.device.findText(name) < 0:
                self.device.addItem(name)

    # ----- the dataset

    def _kind(self):
        return KINDS[self.dataset.currentData()]

    def _dataset_changed(self, _text: str = "") -> None:
        kind = self._kind()
        self.path.setVisible(kind.needs is not None)
        self.browse.setVisible(kind.needs in ("folder", "file"))
        self.path.setPlaceholderText("a dataset spec, e.g. mnist-5k" if kind.needs == "dataset" else "folder or file")
        self.label_column.setVisible("label" in kind.options)
        others = [key for key in kind.options if key != "label"]
        self.options.setVisible(bool(others))
        self.options.setPlaceholderText(":".join(f"{key}=…" for key in others) + "  (optional)")

    def _browse(self) -> None:
        if self._kind().needs == "folder":
            chosen = QFileDialog.getExistingDirectory(self, "Choose the dataset folder", self.path.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a CSV file", self.path.text(),
                                                    "CSV files (*.csv);;All files (*)")
        if chosen:
            self.path.setText(chosen)

    def spec(self) -> DataSpec:
        """The dataset the widgets describe (str() of it is `netbuilder train --data`'s spec). DataError says
        what is wrong with options typed."""
        kind = self._kind()
        parts = [kind.name]
        if kind.needs is not None:
            parts.append(self.path.text().strip())
        if "label" in kind.options:
            parts.append(f"label={self.label_column.text().strip()}")
        options = self.options.text().strip().strip(":")
        if options and self.options.isVisibleTo(self):
            parts.append(options)
        return DataSpec.parse(":".join(parts))

    def select_dataset(self, spec: str | DataSpec) -> None:
        """Show a spec in the widgets (e.g. the one a graph's recipe names)."""
        spec = DataSpec.parse(spec)
        self.dataset.setCurrentIndex(self.dataset.findData(spec.kind))
        self.path.setText(spec.path or "")
        self.label_column.setText(str(spec.option("label", "")))
        self.options.setText(":".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in spec.options if k != "label"))

    def _preview_hint(self) -> QWidget:
        hint = QLabel("A few samples of the chosen dataset, with their labels, appear here: press <b>Preview</b> "
                      "beside the dataset (opening this tab does it too).")
        hint.setObjectName("help")
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return hint

    def _tab_shown(self, index: int) -> None:
        if self.tabs.widget(index) is self.preview and self._preview_job is None:
            self.show_preview()

    def _batch_size_changed(self, value: int) -> None:
        if self.document.data_source is not None:
            self.document.set_data_context(self.document.data_source, value)

    def show_preview(self) -> None:
        """Load the dataset in the background and show a few samples with their labels."""
        try:
            spec, shape = self.spec(), self._input_shape()
        except ValueError as e:
            self._show_error(describe(e))
            return
        self._preview_job = LoadJob(lambda: self.datasets.load(spec, shape))
        self._preview_job.done.connect(self._show_preview)
        self._preview_job.failed.connect(self._show_error)
        self.tabs.setCurrentWidget(self.preview)
        self._replace_preview(QLabel("Loading…"))
        self._preview_job.start()

    def _input_shape(self) -> tuple[int, ...] | None:
        node = single_input(self.document.graph)
        return tuple(node.params["shape"]) if node is not None else None

    def _show_preview(self, source) -> None:
        self.document.set_data_context(source, self.batch_size.value())  # the analysis checks the graph against it
        data = source.data
        what = f"{data.num_classes} classes" if data.is_classification else f"{data.target_size} target value(s)"
        test = f", plus {len(source.test):,} test samples" if source.test is not None else ""
        head = QLabel(f"<b>{data.name}</b>: {len(data):,} samples of shape "
                      f"{'x'.join(map(str, data.sample_shape))}{test}; {what}")
        if data.x.dim() == 2 and data.x.shape[1] == 2:
            body = scatter(data)
        elif data.is_image:
            body = SampleGrid()
            body.show_samples(preview_items(data))
        else:
            rows = [f"{', '.join(f'{v:.3g}' for v in data.x[i].tolist()[:8])}  →  {label_of(data, data.y[i])}"
                    for i in range(min(12, len(data)))]
            body = QLabel("<br>".join(rows))
            body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(head)
        layout.addWidget(body, 1)
        self._replace_preview(page)

    def _augment_context(self) -> tuple:
        """What the augmentation preview draws from: the graph (a copy), the chosen dataset, the loader."""
        return self.document.graph.copy(), str(self.spec()), self.datasets.load

    def _show_augment_page(self, page: QWidget) -> None:
        self.tabs.blockSignals(True)  # showing the tab this way loads no dataset preview over the page
        self.tabs.setCurrentWidget(self.preview)
        self.tabs.blockSignals(False)
        self._replace_preview(page)

    def _replace_preview(self, widget: QWidget) -> None:
        layout = self.preview.layout()
        while layout.count():
            old = layout.takeAt(0).widget()
            if old is not None:
                old.hide()
                old.setParent(None)  # gone now, not when the event loop next deletes it
                old.deleteLater()
        scroll = QScrollArea()  # a small panel scrolls the preview; it never sets the panel's size
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumSize(60, 36)
        scroll.setWidget(widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    # ----- running

    def config(self) -> TrainConfig:
        def number(box: QLineEdit, name: str) -> float:
            try:
                return float(box.text())
            except ValueError:
                raise TrainingError(f"{name} must be a number, got {box.text()!r}") from None

        config = TrainConfig(
            **self._settings_values(number), device=self.device.currentText(),
            threads=max(1, cpu_count() - 1),  # one core stays with the window, so it stays smooth
            **self._speed_values(), statistics=self.statistics_every)
        config.check()
        return config

    def _settings_values(self, number) -> dict:
        """The settings the widgets show, as TrainConfig and a recipe name them."""
        return dict(
            epochs=self.epochs.value(), batch_size=self.batch_size.value(), optimizer=self.optimizer.currentText(),
            lr=number(self.lr, "learning rate"), momentum=number(self.momentum, "momentum"),
            l1=number(self.l1, "L1"), loss=self.loss.currentText(), schedule=self.schedule.currentText(),
            step_size=self.step_size.value(), gamma=number(self.gamma, "decay factor"),
            weight_decay=number(self.weight_decay, "weight decay"),
            augment=self.augmentations.steps(),
            seed=self.seed.value(), early_stopping=self.early_stopping.value())

    # ----- the graph's recipe

    def apply_recipe(self, recipe: dict) -> None:
        """Show a graph's training recipe in the widgets (settings it does not name take their defaults)."""
        d = TrainConfig()
        settings = {**d.to_dict(), **recipe}
        self.epochs.setValue(int(settings["epochs"]))
        self.batch_size.setValue(int(settings["batch_size"]))
        self.optimizer.setCurrentText(settings["optimizer"])
        self.loss.setCurrentText(settings["loss"])
        self.schedule.setCurrentText(settings["schedule"])
        self.step_size.setValue(int(settings["step_size"]))
        for box, key in ((self.lr, "lr"), (self.momentum, "momentum"), (self.l1, "l1"), (self.gamma, "gamma"),
                         (self.weight_decay, "weight_decay")):
            box.setText(f"{settings[key]:g}")
        self.seed.setValue(int(settings["seed"]))
        self.early_stopping.setValue(int(settings["early_stopping"]))
        try:
            self.augmentations.set_steps(settings["augment"])
        except ValueError as e:
            self._show_error(f"the graph's recipe: {describe(e)}")
        self.val_percent.setValue(round(100 * float(recipe.get("val_fraction", 0.1))))
        self.test_fraction = float(recipe.get("test_fraction", 0.2))
        if "data" in recipe:
            try:
                self.select_dataset(recipe["data"])
            except ValueError as e:
                self._show_error(f"the graph's recipe: {describe(e)}")

    def recipe(self) -> dict:
        """The widgets' settings as a recipe."""
        def number(box: QLineEdit, name: str) -> float:
            try:
                return float(box.text())
            except ValueError:
                raise TrainingError(f"{name} must be a number, got {box.text()!r}") from None

        d = TrainConfig().to_dict()
        values = {k: v for k, v in self._settings_values(number).items() if v != d.get(k)}
        values["data"] = str(self.spec())
        if self.val_percent.value() != 10:
            values["val_fraction"] = self.val_percent.value() / 100
        return values

    def keep_recipe(self) -> bool:
        try:
            recipe = self.recipe()
        except ValueError as e:  # a setting or a dataset spec typed wrong
            return self._show_error(describe(e))
        if self.document.push(SetRecipe(self.document.graph, recipe)):
            self.message.emit("The training settings are kept in the graph; save it to keep them in the file")
            return True
        return False

    def _show_objective(self, *_args) -> None:
        """Which loss training will minimize: the graph's loss blocks, or the automatic one."""
        losses = [n for n in self.document.graph.nodes if n.spec.role == "loss"]
        self.loss.setEnabled(not losses)
        if losses:
            words = " + ".join(n.name + (f" x{n.params['weight']:g}" if n.params["weight"] != 1 else "")
                               for n in losses)
            groups = sorted({n.params["trains"] for n in losses} - {"all"})
            self.objective.setText(f"Objective: {words} (the graph's loss blocks"
                                   + (f"; groups trained in turn: {', '.join(groups)})" if groups else ")"))
        else:
            self.objective.setText(AUTO_LOSS_WORDS if self.loss.currentText() == "auto"
                                   else f"Loss: {self.loss.currentText()}")
