"""Right-click menus on blocks, wires, groups and the canvas. Each menu is built from the window's actions and a
few commands of its own (insert a layer on a wire, add a layer where the mouse is)."""
from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMenu

from ..core.checks.analysis import insert_before
from ..core.layers import CATEGORIES, LAYERS
from . import style
from .canvas.block import BlockItem
from .canvas.group import GroupItem
from .canvas.wire import WireItem, WireLabel
from .commands import RecordedEdit

ON_A_WIRE = ("ReLU", "BatchNorm2d", "BatchNorm1d", "Dropout", "Flatten", "MaxPool2d", "Conv2d", "Linear")


def build_menu(window, item, scene_pos: QPointF) -> QMenu:
    """The menu for what was right-clicked (None: the canvas itself)."""
    if isinstance(item, WireLabel):
        item = item.wire
    a = window.actions_by_name
    menu = QMenu(window)
    if isinstance(item, BlockItem):
        if not item.isSelected():
            window.scene.select_nodes([item.node_id])
        node = window.document.graph.node(item.node_id)
        help_action = menu.addAction(style.icon("help"), f"Help on {node.type}",
                                     lambda t=node.type: window.show_layer_help(t))
        help_action.setShortcut(a["help_layer"].shortcut())
        menu.addSeparator()
        menu.addAction("Rename…", lambda: window.inspector.focus_name())
        menu.addActions([a["cut"], a["copy"], a["duplicate"], a["delete"]])
        menu.addSeparator()
        menu.addActions([a["group"], a["ungroup"]])
    elif isinstance(item, GroupItem):
        if not item.isSelected():
            window.scene.clearSelection()
            item.setSelected(True)
        group_id = item.group_id
        menu.addAction("Expand" if item.collapsed else "Collapse", lambda: window.toggle_group(group_id))
        menu.addAction("Rename…", lambda: window.rename_group(group_id))
        menu.addAction(a["ungroup"])
        menu.addSeparator()
        menu.addActions([a["copy"], a["duplicate"], a["delete"]])
    elif isinstance(item, WireItem):
        window.scene.clearSelection()
        item.setSelected(True)
        edge = item.edge
        insert = menu.addMenu("Insert Layer Here")
        for type_name in ON_A_WIRE:
            insert.addAction(type_name, lambda t=type_name: window.document.push(RecordedEdit(
                window.document.graph, f"Insert {t}",
                lambda g, e=edge, layer=t: insert_before(g, e.dst, e.dst_port, layer))))
        menu.addAction("Delete Wire", window.delete_selection)
    else:
        add = menu.addMenu("Add Layer Here")
        for category, label in CATEGORIES.items():
            sub = add.addMenu(label)
            for spec in LAYERS.values():
                if spec.category == category:
                    sub.addAction(spec.type, lambda t=spec.type: window.add_layer(t, scene_pos))
        menu.addAction(a["paste"])
        menu.addSeparator()
        menu.addActions([a["select_all"], a["layout"], a["fit"]])
        menu.addSeparator()
        menu.addActions([a["collapse_all"], a["expand_all"]])
    return menu
