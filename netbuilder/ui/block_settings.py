"""The inspector's Training section: how training treats the selected block's weights.

frozen (never updated), shares (use another block's weights: Siamese twins, one discriminator applied
twice), init (how the weights start). Each change is an undoable command; a refusal appears under the
section. (The group a loss block trains is a group of blocks on the canvas: Ctrl+G.)
"""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QWidget

from ..core.build.compile import INIT_WORDS
from ..core.model.graph import Node
from ..core.model.parts import INITS
from .commands import SetSetting
from .document import Document


class BlockSettings(QWidget):
    def __init__(self, document: Document, node: Node, heading: QWidget | None = None) -> None:
        super().__init__()
        self.document, self.node, self.heading = document, node, heading
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.frozen = QCheckBox("never updated by training")
        self.frozen.setToolTip("frozen: training leaves this block's weights (and BatchNorm statistics) exactly "
                               "as they are, e.g. a pretrained body under a new head")
        self.frozen.toggled.connect(lambda on: self._push("frozen", on))
        self.shares = QComboBox()
        self.shares.setToolTip("use another block's weights: one tensor for both (Siamese twins, a discriminator "
                               "applied to real and generated samples); only blocks of the same type and params")
        self.shares.activated.connect(lambda i: self._push("shares", self.shares.itemData(i)))
        self.init = QComboBox()
        for name in INITS:
            self.init.addItem(INIT_WORDS[name], name)
        self.init.setToolTip("how the weights start: PyTorch's default, Xavier/Glorot, He/Kaiming, normal, zeros")
        self.init.activated.connect(lambda i: self._push("init", self.init.itemData(i)))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        form.addRow("frozen", self.frozen)
        form.addRow("weights of", self.shares)
        form.addRow("initialize", self.init)
        form.addRow("", self.error)
        self.has_weights = True
        document.setting_changed.connect(self._changed)
        document.report_changed.connect(self._show_rows)
        self.show_settings()
        self._show_rows()

    def _show_rows(self, *_args) -> None:
        """The section only for a block with weights to freeze, share or start (a ReLU or a pooling has none);
        settings already made stay in view, to be taken back."""
        node, report = self.node, self.document.report
        info = report.nodes.get(node.id) if report is not None else None
        self.has_weights = (node.spec.build is not None and (info is None or info.params > 0)) or node.frozen \
            or node.shares is not None or node.init != "default"
        layout = self.layout()
        for row in range(3):
            layout.setRowVisible(row, self.has_weights)
        self.setVisible(self.has_weights or self.error.isVisibleTo(self))
        if self.heading is not None:
            self.heading.setVisible(self.has_weights)

    def show_settings(self) -> None:
        node, graph = self.node, self.document.graph
        if node.id not in graph:
            return
        for box in (self.frozen, self.shares, self.init):
            box.blockSignals(True)
        self.frozen.setChecked(node.frozen)
        self.shares.clear()
        self.shares.addItem("its own", None)
        for other in graph.nodes:
            if other.id != node.id and other.type == node.type and other.shares is None:
                self.shares.addItem(other.name, other.id)
        index = self.shares.findData(node.shares)
        self.shares.setCurrentIndex(max(index, 0))
        self.init.setCurrentIndex(max(self.init.findData(node.init), 0))
        for box in (self.frozen, self.shares, self.init):
            box.blockSignals(False)

    def _changed(self, node: Node, _key: str) -> None:
        if node is self.node:
            self.show_settings()

    def _push(self, key: str, value) -> None:
        applied = self.document.push(SetSetting(self.document.graph, self.node.id, key, value))
        self.error.setText("" if applied else self.document.refusal)
        self.error.setVisible(not applied)
        if not applied:
            self.show_settings()
