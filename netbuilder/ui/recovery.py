"""Autosave: the open document is written to a recovery file every 30 s while it has unsaved changes,
and offered back when netbuilder starts after a crash. A clean exit deletes the file.

Each running window writes its own file (recovery-<pid>-<n>.json); files whose process is gone are
the ones a crash left behind.
"""
from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from ..core.base.files import atomic_write_text
from ..core.model.graph import Graph, GraphError

INTERVAL_MS = 30_000
_counter = itertools.count(1)


def recovery_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".netbuilder") / "recovery"


@dataclass
class Recovered:
    file: Path
    graph: Graph
    path: Path | None  # where the document was saved before, if it was
    saved_at: float


class RecoveryFile:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or recovery_dir()
        self.file = self.directory / f"recovery-{os.getpid()}-{next(_counter)}.json"

    def write(self, graph: Graph, path: Path | None) -> None:
        """Atomically replace the recovery file with the document as it is now."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {"format": "netbuilder.recovery", "path": str(path) if path else None, "saved_at": time.time(),
                "graph": graph.to_dict()}
        atomic_write_text(self.file, json.dumps(data))

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def left_behind(directory: Path | None = None) -> list[Recovered]:
    """Recovery files of processes that are gone (crashed), newest first. Unreadable ones are deleted."""
    directory = directory or recovery_dir()
    found = []
    for file in directory.glob("recovery-*.json"):
        try:
            pid = int(file.stem.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _alive(pid):
            continue  # a window that is still open
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            graph = Graph.from_dict(data["graph"])
            path = Path(data["path"]) if data.get("path") else None
            found.append(Recovered(file, graph, path, float(data.get("saved_at", 0))))
        except (OSError, ValueError, KeyError, TypeError, GraphError):
            file.unlink(missing_ok=True)
    return sorted(found, key=lambda r: r.saved_at, reverse=True)
