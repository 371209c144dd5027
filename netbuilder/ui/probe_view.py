"""Inside: what flows on the selected block or wire for one sample, a convolution's filters, saliency, and the
canvas coloured by each block's training statistics.

Select a block (or a wire: it carries its source block's output) and pick a sample (from the dataset's test
split, a picture file, or a digit drawn with the mouse); the view shows the block's feature maps (a tile per
channel with its range), a heat map for a sequence, bars for a vector, and the network's prediction. The
weights are the live run's (probed on its own thread between two batches, or at once while it is paused:
Trainer.request), else the last run's, else the fresh weights a run would start from.

Nothing heavy runs here: models are built and probed on a worker thread (or the run's), the tiles are made
there too, and this widget only paints them. One probe runs at a time; a newer request replaces a waiting one.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.checks.messages import describe
from ..core.training.block_stats import STATISTICS, statistics_warnings
from .document import Document
from .folders import chosen, start_in
from .probe_request import ProbeRequest, Shown, spare_core
from .probe_strip import PictureStrip
from .statistics_colours import LOG_SCALED, VIRIDIS, statistic_colours, viridis
from .tiles import BarChart, DrawPad, TileGrid, gradient_bar
from .worker import LoadJob

MAX_BLOCKS = 6  # blocks shown at once (several selected)
MODES = (("maps", "Feature maps"), ("filters", "Filters"), ("saliency", "Saliency"))
SOURCES = (("test", "Test sample"), ("file", "Picture file…"), ("drawing", "Drawn digit"))


class ProbeView(PictureStrip, QWidget):
    message = Signal(str)
    _answered = Signal(object, object)  # (the request's number, a Future answered on the training thread)

    def __init__(self, document: Document, scene, training) -> None:
        super().__init__()
        self.document, self.scene, self.training = document, scene, training
        self.blocks: list[str] = []
        self.record: dict | None = None  # the latest epoch's per-block statistics
        self.drawing = None  # numpy 28 x 28
        self.picture_path: Path | None = None
        self.shown: Shown | None = None
        self._samples = None  # (key, probe.Samples)
        self._models: dict = {}  # (source, graph revision) -> ProbeModel, used only on the job's thread
        self._live = None  # (trainer, ProbeModel) made and used only on the training thread
        self._revision = 0
        self._asked = 0  # numbers each request, so that an answer to an older one is dropped
        self._job: LoadJob | None = None
        self._waiting = False  # a request is with the training thread
        self._again = False  # something changed while a probe was running: probe again when it ends
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(30)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build()
        scene.selectionChanged.connect(self._selection_changed)
        document.report_changed.connect(self._graph_changed)
        document.replaced.connect(self.reset)
        training.running_changed.connect(self._running_changed)
        training.weights_changed.connect(self._running_changed)  # other weights in view: probe them
        self._answered.connect(self._live_answer)

    # ----- widgets

    def _build(self) -> None:
        self.target = QLabel("Select a block or a wire to see what flows there.")
        self.target.setWordWrap(True)
        self.weights = QLabel()
        self.weights.setObjectName("help")
        self.weights.setWordWrap(True)

        self.mode_buttons = QButtonGroup(self)
        modes = QHBoxLayout()
        for i, (key, text) in enumerate(MODES):
            button = QPushButton(text)
            button.setCheckable(True)
            button.setProperty("mode", key)
            button.setChecked(i == 0)
            self.mode_buttons.addButton(button, i)
            modes.addWidget(button)
        self.mode_buttons.idClicked.connect(lambda _i: self.schedule())

        self.source = QComboBox()
        for key, text in SOURCES:
            self.source.addItem(text, key)
        self.source.currentIndexChanged.connect(self._source_changed)
        self.index = QSpinBox()
        self.index.setRange(0, 0)
        self.index.setToolTip("which sample of the test split (the one a training run with these settings holds out)")
        self.index.valueChanged.connect(lambda _v: self.schedule())
        self.open_button = QPushButton("Open…")
        self.open_button.clicked.connect(self._open_picture)
        sample_row = self.sample_row = QHBoxLayout()  # a row of its own: the dock is a narrow column
        sample_row.addWidget(self.source, 1)
        sample_row.addWidget(self.index)
        sample_row.addWidget(self.open_button)
        self.pad = DrawPad()
        self.pad.drawn.connect(self._drawn)
        pad_row = QHBoxLayout()
        pad_row.addWidget(self.pad)
        pad_row.addWidget(QLabel("Draw a digit (28x28, as MNIST's);\nright-click clears."), 1)
        self.pad_box = QWidget()
        self.pad_box.setLayout(pad_row)

        self.input_picture = QLabel()
        self.input_picture.setFixedSize(64, 64)
        self.input_picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prediction = BarChart(72)
        self.prediction_caption = QLabel()
        self.prediction_caption.setWordWrap(True)
        prediction_column = QVBoxLayout()
        prediction_column.addWidget(self.prediction_caption)
        prediction_column.addWidget(self.prediction)
        self.top_row = QWidget()
        top = QHBoxLayout(self.top_row)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.input_picture, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(prediction_column, 1)

        body = QWidget()
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.addWidget(self.top_row)  # the input and the prediction scroll with the pictures
        self.body.addStretch()
        self.grids: list[TileGrid] = []  # the sections shown, with their captions
        self.section_widgets: list[QWidget] = []
        self.tile_size = 72
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(body)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(24, 200)
        self.zoom.setValue(self.tile_size)
        self.zoom.setToolTip("tile size")
        self.zoom.valueChanged.connect(self._zoom)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.clicked.connect(self._save_png)
        self.save_button.setEnabled(False)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Size"))
        tools.addWidget(self.zoom, 1)
        tools.addWidget(self.save_button)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()

        self.colour_by = QComboBox()
        self.colour_by.addItem("nothing", None)
        for key, words in STATISTICS.items():
            self.colour_by.addItem(words, key)
        for combo in (self.colour_by, self.source):  # long entries must not widen the dock
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        self.colour_by.currentIndexChanged.connect(lambda _i: self.colour_blocks())
        self.record_box = QCheckBox("record while training")
        self.record_box.setChecked(bool(self.training.statistics_every))
        self.record_box.setToolTip("observe one training step in 20: each block's activations, gradients and "
                                   "weight update (costs about 1% of the time)")
        self.record_box.toggled.connect(lambda on: setattr(self.training, "statistics_every", 20 if on else 0))
        self.legend_bar = QLabel()
        self.legend_bar.setPixmap(QPixmap.fromImage(gradient_bar(90, 10, VIRIDIS)))
        self.legend_bar.hide()
        self.legend = QLabel()
        self.legend.setObjectName("help")
        self.legend.setWordWrap(True)
        legend_row = QHBoxLayout()
        legend_row.addWidget(self.legend_bar, 0, Qt.AlignmentFlag.AlignTop)
        legend_row.addWidget(self.legend, 1)
        self.warnings = QLabel()
        self.warnings.setObjectName("error")
        self.warnings.setWordWrap(True)
        self.warnings.hide()
        colour_row = QHBoxLayout()
        colour_row.addWidget(QLabel("Colour blocks by"))
        colour_row.addWidget(self.colour_by, 1)

        self.modes_row = modes
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(modes)  # first: the buttons stay where they are whatever the texts below say
        layout.addLayout(sample_row)
        layout.addWidget(self.pad_box)
        layout.addWidget(self.target)
        layout.addWidget(self.weights)
        layout.addWidget(self.error)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(tools)
        layout.addLayout(colour_row)
        layout.addWidget(self.record_box)
        layout.addLayout(legend_row)
        layout.addWidget(self.warnings)
        self._source_changed()

    def add_corner(self, widget) -> None:
        """A button of the window's (enlarge) at the end of the buttons' row."""
        self.modes_row.addWidget(widget)

    # ----- what to probe

    @property
    def mode(self) -> str:
        return MODES[self.mode_buttons.checkedId()][0]

    def set_mode(self, mode: str) -> None:
        self.mode_buttons.button([key for key, _ in MODES].index(mode)).setChecked(True)
        self.schedule()

    @property
    def sample_kind(self) -> str:
        return self.source.currentData()

    def _source_changed(self, *_args) -> None:
        kind = self.sample_kind
        self.index.setVisible(kind == "test")
        self.open_button.setVisible(kind == "file")
        self.pad_box.setVisible(kind == "drawing")
        self.schedule()

    def _open_picture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A picture to probe with", start_in(),
                                              "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;All files (*)")
        if chosen(path):
            self.set_picture(Path(path))

    def set_picture(self, path: Path) -> None:
        self.picture_path = Path(path)
        self.source.setCurrentIndex([key for key, _ in SOURCES].index("file"))
        self.schedule()

    def _drawn(self, pixels) -> None:
        self.drawing = pixels
        self.schedule()

    def select_blocks(self, names: list[str]) -> None:
        """Look at these blocks (in data-flow order, at most MAX_BLOCKS)."""
        order = {n.name: i for i, n in enumerate(self.document.graph.topological_order())}
        names = sorted(dict.fromkeys(n for n in names if n in order), key=order.__getitem__)[:MAX_BLOCKS]
        if names and names != self.blocks:
            self.blocks = names
            self.schedule()

    def _selection_changed(self) -> None:
        """The selected blocks, and the source blocks of the selected wires (a wire carries its source's output)."""
        import shiboken6

        if not shiboken6.isValid(self.scene):
            return
        graph = self.document.graph
        ids = self.scene.selected_node_ids() + [e.src for e in self.scene.selected_edges() if e.src in graph]
        self.select_blocks([graph.node(i).name for i in ids])

    def _graph_changed(self, *_args) -> None:
        self._revision += 1
        names = {n.name for n in self.document.graph.nodes}
        kept = [b for b in self.blocks if b in names]
        if kept != self.blocks or not self.document.graph.nodes:
            self.blocks = kept
            self.clear()
        self.schedule()

    def _running_changed(self, running: bool = False) -> None:
        worker = self.training.worker
        if running and worker is not None:
            self.record = None
            worker.statistics.connect(self._statistics)
            worker.epoch.connect(lambda _report: self.schedule())
        else:
            self._live = None
        self._revision += 1  # the weights to show are another run's now
        self.schedule()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.schedule()

    # ----- probing

    def schedule(self) -> None:
        """Probe again soon (changes that come together make one probe)."""
        self._refresh_timer.start()

    def _weights_source(self):
        """("live", trainer) while a run is going, ("trained", state) after one, else ("fresh", seed)."""
        worker = self.training.worker
        if worker is not None and worker.trainer is not None and not worker.isFinished():
            return "live", worker.trainer
        state = self.training.trained_state()
        if state is not None:
            return "trained", state
        return "fresh", self.training.seed.value()

    def refresh(self) -> bool:
        """Start a probe of what the widgets choose (if the view is seen and nothing is running); True if started."""
        if not self.isVisible() or not self.blocks:
            if not self.blocks:
                self.target.setText("Select a block or a wire to see what flows there (several: ctrl-click).")
            return False
        if self._job is not None or self._waiting:
            self._again = True
            return False
        report = self.document.report
        if report is None:
            return False
        try:
            spec = self.training.spec() if self.sample_kind == "test" else None
        except ValueError as e:
            return self._show_error(describe(e))
        self._asked += 1
        number = self._asked
        kind, source = self._weights_source()
        graph = self.document.graph if kind == "live" else self.document.graph.copy()
        ask = ProbeRequest(graph, list(self.blocks), self.mode, self.sample_kind, self.index.value(), spec,
                   self.training.val_percent.value() / 100, self.training.test_fraction, self.training.seed.value(),
                   self.picture_path, self.drawing)
        self.target.setText(f"<b>{', '.join(self.blocks)}</b>: working…")
        if ask.kind == "test" and (self._samples is None or self._samples[0] != ask.samples_key()):
            self._start_job(lambda: ("samples", ask.samples_key(), ask.load_samples(self.training.datasets.load)))
            return True
        samples = self._samples[1] if self._samples is not None else None
        if kind == "live":
            trainer = source

            def on_trainer():  # on the training thread: its model, between two batches
                if self._live is None or self._live[0] is not trainer:
                    from ..core.inside.probe import live_model

                    self._live = (trainer, live_model(graph, trainer))
                done, total = trainer._progress if hasattr(trainer, "_progress") else (0, 0)
                state = "paused" if trainer.paused else "running"
                words = f"the live run's ({state}, after {done} of {total} batches)"
                return ask.probe(self._live[1], samples, words)

            self._waiting = True
            future = trainer.request(on_trainer)
            future.add_done_callback(lambda f, n=number: self._answered.emit(n, f))
            return True
        key = (kind, id(source) if kind == "trained" else source, self._revision)
        models = self._models
        whose = self.training.in_view.words if kind == "trained" and self.training.in_view else "the last run"

        def work():
            from ..core.build.weights import WeightsError
            from ..core.inside.probe import fresh_model, trained_model

            notes = []
            if key not in models:
                models.clear()
                if kind == "trained":
                    try:
                        models[key] = (trained_model(graph, source), f"those of {whose}")
                    except WeightsError:
                        words = f"fresh (those of {whose} do not fit the graph as it is now)"
                        models[key] = (fresh_model(graph, 0), words)
                else:
                    words = f"fresh: untrained, as a run with seed {source} starts"
                    models[key] = (fresh_model(graph, source), words)
            model, words = models[key]
            with spare_core():
                shown = ask.probe(model, samples, words)
            shown.notes += notes
            return shown

        self._start_job(work)
        return True

    def _start_job(self, work) -> None:
        self._job = LoadJob(work)
        self._job.asked = self._asked  # an answer to an older request (another network's) is dropped
        self._job.done.connect(self._job_done)
        self._job.failed.connect(self._job_failed)
        self._job.finished.connect(self._job_finished)
        self._job.start()

    def _stale(self) -> bool:
        """Whether the job that answers asked before the view was reset (another network)."""
        return getattr(self.sender(), "asked", self._asked) != self._asked

    def _job_done(self, result) -> None:
        if self._stale():
            return
        if isinstance(result, tuple) and result[0] == "samples":
            self._samples = result[1:]
            count = len(self._samples[1])
            self.index.setRange(0, count - 1)
            self.index.setToolTip(f"which of the {count} samples of {self._samples[1].name} (the split a training "
                                  "run with these settings holds out)")
            self._again = True
            return
        self._show(result)

    def _job_failed(self, message: str) -> None:
        if not self._stale():
            self._show_error(message)

    def _job_finished(self) -> None:
        self._job = None
        if self._again:
            self._again = False
            self.schedule()

    def _live_answer(self, number: int, future) -> None:
        self._waiting = False
        error = future.exception()
        if error is None:
            if number == self._asked:
                self._show(future.result())
        elif number == self._asked:
            from ..core.training.config import TrainingError

            if isinstance(error, TrainingError):  # the run ended before it could answer: use its final weights
                self._again = True
            else:
                self._show_error(describe(error))
        if self._again:
            self._again = False
            self.schedule()

    # ----- training statistics on the canvas

    def _statistics(self, record: dict) -> None:
        self.record = record
        if self.colour_by.currentData() is None and statistics_warnings(record):
            self.colour_by.setCurrentIndex(self.colour_by.findData("grad_std"))
        self.colour_blocks()

    def set_statistics(self, record: dict | None) -> None:
        """Show a record of per-block statistics (a run's metrics.json has one per epoch)."""
        self.record = record
        self.colour_blocks()

    def colour_blocks(self) -> None:
        """Tint each block by the chosen statistic of the latest epoch (none: plain blocks); name the warnings."""
        key = self.colour_by.currentData()
        blocks = self.scene.blocks
        names = {n.name: n.id for n in self.document.graph.nodes}
        positions, low, high = statistic_colours(self.record or {}, key) if key else ({}, 0.0, 0.0)
        for item in blocks.values():
            item.set_tint(None)
        for name, (value, t) in positions.items():
            if name in names and names[name] in blocks:
                colour = viridis(t)
                light = QColor(*(round(c * 0.45 + 255 * 0.55) for c in colour.getRgb()[:3]))  # text stays readable
                blocks[names[name]].set_tint(light, f"{value:.2g}")
        self.legend_bar.setVisible(bool(key and positions))
        if key and positions:
            scale = "log10 " if key in LOG_SCALED else ""
            self.legend.setText(f"{STATISTICS[key]} at epoch {self.record['epoch']}: {scale}{low:.3g} (dark) to "
                                f"{high:.3g} (yellow), over {len(positions)} blocks")
        elif key:
            self.legend.setText("No statistics yet: train with “record while training” on.")
        else:
            self.legend.setText("")
        warnings = statistics_warnings(self.record) if self.record else []
        self.warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))


