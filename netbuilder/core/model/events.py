"""Named, typed change events without Qt, in the manner of Qt's signals (and psygnal, which napari uses).

    graph.node_added.connect(handler)     # handler(node)
    graph.param_changed.connect(handler)  # handler(node, param_name)

Each kind of change is its own Event; a view connects to the ones it shows. The editor's Document
re-emits them as Qt signals.
"""
from __future__ import annotations

from typing import Any, Callable


class Event:
    """One kind of change. `types` says what each handler is called with (checked when emitted)."""

    def __init__(self, *types: type) -> None:
        self.types = types
        self._handlers: list[Callable[..., Any]] = []

    def connect(self, handler: Callable[..., Any]) -> None:
        self._handlers.append(handler)

    def disconnect(self, handler: Callable[..., Any]) -> None:
        self._handlers.remove(handler)

    def emit(self, *args: Any) -> None:
        if len(args) != len(self.types) or not all(isinstance(a, t) for a, t in zip(args, self.types)):
            raise TypeError(f"this event carries {', '.join(t.__name__ for t in self.types)}, got {args!r}")
        for handler in list(self._handlers):
            handler(*args)

    def __len__(self) -> int:
        return len(self._handlers)
