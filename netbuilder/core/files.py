"""Files netbuilder ships and writes: the examples folder, and atomic writes."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a file so that a crash mid-write leaves the old file intact: a temp file, then a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_examples() -> list[tuple[Path, str]]:
    """The example graphs with their titles, by file name."""
    found = []
    for path in sorted(EXAMPLES_DIR.glob("*.json")):
        try:
            title = json.loads(path.read_text(encoding="utf-8"))["meta"]["title"]
        except (OSError, ValueError, KeyError, TypeError):
            title = path.stem
        found.append((path, str(title)))
    return found
