"""One module per operator family: handlers of ATen operators, and readers of the torch.nn modules that export
as many operators (attention, transformer layers, local response norm).

    @handles("aten.relu.default")
    def relu(imp, node): ...            # node: an OpNode; returns the value(s) of the operator

    @reads("MultiheadAttention")
    def attention(imp, region): ...     # region: a Region; returns {output fx node: value}

An operator without a handler, or a module call a reader cannot turn into a block, is refused by name.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

HANDLERS: dict[str, Callable] = {}
READERS: dict[str, Callable] = {}  # torch.nn class name -> reader of its calls


def handles(*ops: str):
    def register(fn: Callable) -> Callable:
        for op in ops:
            assert op not in HANDLERS, f"{op} handled twice"
            HANDLERS[op] = fn
        return fn
    return register


def reads(*classes: str):
    def register(fn: Callable) -> Callable:
        for cls in classes:
            assert cls not in READERS, f"{cls} read twice"
            READERS[cls] = fn
        return fn
    return register


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
