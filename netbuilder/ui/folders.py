"""The folder a file dialog opens in: the one the user last chose a file in (any dialog, this session or an
earlier one), so that a second save or open does not start again from the working directory."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

KEY = "last_folder"


def start_in(name: str = "", fallback: Path | None = None) -> str:
    """Where a dialog starts: the last folder used (else `fallback`, else the working directory), with `name`."""
    saved = QSettings().value(KEY)
    folder = Path(saved) if saved and Path(saved).is_dir() else (fallback or Path.cwd())
    return str(folder / name) if name else str(folder)


def chosen(path: str | Path) -> str:
    """Note the folder of a file the user chose (returns the path, to chain); "" (cancelled) is ignored."""
    if path:
        QSettings().setValue(KEY, str(Path(path).resolve().parent))
    return str(path) if path else ""
