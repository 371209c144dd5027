"""Files netbuilder ships and writes: the examples folder, and atomic writes."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"  # shipped inside the package


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Write a file so that a crash mid-write leaves the old file intact: `write(temp_path)` fills a
    temporary file beside it, which is then flushed to disk and renamed over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


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
