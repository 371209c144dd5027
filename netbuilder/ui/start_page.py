"""The start page: a blank network, every example as a card (a picture of its graph, its parameter count and
one line about it), Open, Import a model, fine-tune a pretrained network on your images, and the recent files. It shows before PyTorch has loaded; parameter
counts fill in once it has (worked out on a thread)."""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QThread, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..core.base.files import list_examples
from ..core.model.graph import Graph, GraphError
from ..core.model.groups import box_position, set_all_collapsed
from . import style

THUMB = QSize(206, 112)
CARD_WIDTH, CARD_HEIGHT = 230, 274
PATH_ROLE = Qt.ItemDataRole.UserRole


_SENTENCE_END = re.compile(r"(?<!\bal)(?<!e\.g)(?<!i\.e)\.\s")  # not "et al. " nor "e.g. "


def first_sentence(text: str) -> str:
    found = _SENTENCE_END.search(text)
    return text[:found.start() + 1] if found else text


def thumbnail(graph: Graph, size: QSize = THUMB) -> QPixmap:
    """A picture of a graph as it is laid out, with its groups collapsed: blocks as small bars in their
    category's colour, wires as thin lines."""
    graph = graph.copy()
    set_all_collapsed(graph, True)
    hidden = {i for g in graph.groups for i in g.nodes}
    spots = {n.id: (n.pos, style.category_colour(n.spec.category)) for n in graph.nodes if n.id not in hidden}
    for group in graph.groups:
        for node_id in group.nodes:
            spots[node_id] = (box_position(graph, group), style.GROUP_BORDER)
    pixmap = QPixmap(size)
    pixmap.fill(style.CANVAS)
    if not spots:
        return pixmap
    xs = [p[0] for p, _ in spots.values()]
    ys = [p[1] for p, _ in spots.values()]
    width, height = max(xs) - min(xs) + 200, max(ys) - min(ys) + 70
    scale = min((size.width() - 16) / width, (size.height() - 16) / height)
    across = min((size.width() - 16) / width, max(scale, 0.36))  # a tall graph keeps blocks wide enough to see
    origin = QPointF((size.width() - width * across) / 2 - (min(xs) - 100) * across,
                     (size.height() - height * scale) / 2 - (min(ys) - 35) * scale)

    def at(pos) -> QPointF:
        return QPointF(pos[0] * across, pos[1] * scale) + origin

    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(style.WIRE, 1))
    for edge in graph.edges:
        a, b = at(spots[edge.src][0]), at(spots[edge.dst][0])
        if a != b:
            painter.drawLine(a, b)
    painter.setPen(Qt.PenStyle.NoPen)
    w, h = max(4.0, 196 * across), max(2.5, 60 * scale)
    for pos, colour in dict.fromkeys((p, c.name()) for p, c in spots.values()):
        centre = at(pos)
        painter.setBrush(QColor(colour))
        painter.drawRoundedRect(QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h), 2, 2)
    painter.end()
    return pixmap


COUNTED: dict[str, int] = {}  # example path -> parameter count, worked out once per process


class ParamCounter(QThread):
    """Infers the examples' shapes (torch, seconds in all) off the GUI thread; the counts land in COUNTED."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths

    def run(self) -> None:
        from ..core.checks.shapes import infer_shapes

        for path in self.paths:
            try:
                COUNTED[str(path)] = infer_shapes(Graph.load(path)).total_params
            except GraphError:
                continue


class ShortText(QLabel):
    """Wrapped text that ends with "…" where its room ends, never cut through a line (the card's tooltip has
    all of it)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.full = text
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)

    def fitted(self, width: int, height: int) -> str:
        """The longest start of the text (whole words, then "…") that wraps into width x height."""
        metrics = self.fontMetrics()
        flags = Qt.TextFlag.TextWordWrap

        def fits(text: str) -> bool:
            return metrics.boundingRect(0, 0, width, 10_000, flags, text).height() <= height

        if fits(self.full):
            return self.full
        words = self.full.split()
        low, high = 0, len(words)
        while low < high:  # the most words that fit with the ellipsis
            middle = (low + high + 1) // 2
            if fits(" ".join(words[:middle]) + " …"):
                low = middle
            else:
                high = middle - 1
        return " ".join(words[:low]).rstrip(",;:") + " …" if low else ""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.setText(self.fitted(self.width(), self.height()))


class Card(QFrame):
    """One example: click to open it."""

    chosen = Signal(object)  # its Path

    def __init__(self, path: Path, graph: Graph) -> None:
        super().__init__()
        self.path = path
        self.setObjectName("card")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFixedSize(CARD_WIDTH, CARD_HEIGHT)
        self.picture = QLabel()
        self.picture.setPixmap(thumbnail(graph))
        self.picture.setObjectName("thumbnail")
        self.picture.setFixedSize(THUMB)  # the picture whole, on every card at the same place
        self.title = QLabel(graph.meta.get("title", path.stem))
        self.title.setObjectName("cardTitle")
        self.title.setWordWrap(True)
        self.params = QLabel("… parameters")
        self.params.setObjectName("cardParams")
        self.about = ShortText(first_sentence(graph.meta.get("description", "")))
        self.about.setObjectName("help")
        self.setToolTip(f"<b>{self.title.text()}</b><br>{graph.meta.get('description', '')}<br><i>{path.name}</i>")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(4)
        layout.addWidget(self.picture)
        layout.addWidget(self.title)
        layout.addWidget(self.params)
        layout.addWidget(self.about, 1)  # what room is left: the words that fit, then "…"

    def set_params(self, count: int) -> None:
        self.params.setText(f"{count:,} parameters")

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.chosen.emit(self.path)


class StartPage(QScrollArea):
    new_requested = Signal()
    open_requested = Signal()
    import_requested = Signal()
    fine_tune_requested = Signal()
    example_chosen = Signal(object)  # a Path
    recent_chosen = Signal(object)  # a Path

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("startPage")
        self.setWidgetResizable(True)
        self.cards: list[Card] = []
        self._counter: ParamCounter | None = None
        page = QWidget()
        page.setObjectName("startContent")
        column = QVBoxLayout(page)
        column.setContentsMargins(36, 28, 36, 28)
        column.setSpacing(14)
        title = QLabel("netbuilder")
        title.setObjectName("startTitle")
        tagline = QLabel("Build a neural network by drawing it: see every shape as you build, train it with live "
                         "plots, export it to ONNX and PyTorch.")
        tagline.setObjectName("help")
        tagline.setWordWrap(True)
        column.addWidget(title)
        column.addWidget(tagline)
        body = QHBoxLayout()
        body.setSpacing(28)
        column.addLayout(body, 1)

        side = QVBoxLayout()  # start something, or go back to something
        side.setSpacing(8)
        start = QLabel("Start")
        start.setObjectName("startSection")
        side.addWidget(start)
        for text, tip, signal in (("New blank network", "An empty canvas (Ctrl+N)", self.new_requested),
                                  ("Open…", "A graph you saved (Ctrl+O)", self.open_requested),
                                  ("Import a model…", "An ONNX file, a torch.export file or PyTorch code as an "
                                   "editable graph", self.import_requested),
                                  ("Fine-tune a pretrained network on your images…", "AlexNet, VGG16, ResNet-18 or "
                                   "GoogLeNet with its ImageNet weights, taught the classes of your image folder",
                                   self.fine_tune_requested)):
            button = QPushButton(text)
            button.setObjectName("startAction")
            button.setToolTip(tip)
            button.clicked.connect(signal)
            side.addWidget(button)
        recent = QLabel("Recent")
        recent.setObjectName("startSection")
        side.addSpacing(10)
        side.addWidget(recent)
        self.recent = QListWidget()
        self.recent.setObjectName("recentFiles")
        self.recent.itemActivated.connect(lambda item: self.recent_chosen.emit(Path(item.data(PATH_ROLE))))
        self.recent.itemClicked.connect(lambda item: self.recent_chosen.emit(Path(item.data(PATH_ROLE))))
        self.recent.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.recent.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.no_recent = QLabel("None yet: the graphs you open or save appear here.")
        self.no_recent.setObjectName("help")
        self.no_recent.setWordWrap(True)
        self.no_recent.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        side.addWidget(self.no_recent)
        side.addWidget(self.recent, 1)
        sidebar = QWidget()
        sidebar.setFixedWidth(250)
        sidebar.setLayout(side)
        body.addWidget(sidebar, 0)

        examples = QVBoxLayout()
        section = QLabel("Examples — classic networks to open, study and train")
        section.setObjectName("startSection")
        examples.addWidget(section)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(14)
        for path, _title in list_examples():
            try:
                graph = Graph.load(path)
            except GraphError:
                continue
            card = Card(path, graph)
            card.chosen.connect(self.example_chosen)
            self.cards.append(card)
        examples.addLayout(self.grid)
        examples.addStretch()
        body.addLayout(examples, 1)
        self.setWidget(page)
        self._columns = 0
        self._arrange()

    def show_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{Path(path).name}\n{Path(path).parent}")
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            self.recent.addItem(item)
        self.no_recent.setVisible(not paths)  # said in full, not elided in a list

    def count_parameters(self) -> None:
        """Fill in the parameter counts (needs torch: call once it has loaded, while the page shows)."""
        missing = [card.path for card in self.cards if str(card.path) not in COUNTED]
        if not missing:
            self._show_counts()
            return
        if self._counter is not None:
            return
        self._counter = ParamCounter(missing)
        self._counter.finished.connect(self._show_counts)
        self._counter.start()

    def _show_counts(self) -> None:
        for card in self.cards:
            if str(card.path) in COUNTED:
                card.set_params(COUNTED[str(card.path)])

    def wait(self) -> None:
        if self._counter is not None:
            self._counter.wait()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        columns = max(1, (self.viewport().width() - 72 - 250 - 28 + 14) // (CARD_WIDTH + 14))
        if columns == self._columns:
            return
        self._columns = columns
        for card in self.cards:
            self.grid.removeWidget(card)
        for i, card in enumerate(self.cards):
            self.grid.addWidget(card, i // columns, i % columns, Qt.AlignmentFlag.AlignTop)
        self.grid.setColumnStretch(columns, 1)
