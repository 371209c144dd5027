"""Files netbuilder ships, reads and writes: the examples and resources folders, reading only regular files, atomic writes."""
from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .errors import NetbuilderError

PACKAGE = Path(__file__).resolve().parents[2]  # the netbuilder package folder


def shipped(name: str) -> Path:
    """A folder netbuilder ships beside its code (`examples`, `resources`). The repository keeps one copy of each
    at its top level; the build maps them into the package (pyproject.toml's package-dir), so a wheel or a
    `pip install .` has them inside it; an editable install reads them where they are in the checkout."""
    inside = PACKAGE / name
    return inside if inside.is_dir() and any(inside.iterdir()) else PACKAGE.parent / name


EXAMPLES_DIR = shipped("examples")


def check_regular(path: str | os.PathLike) -> None:
    """OSError unless `path` is a regular file (or a link to one): a FIFO, a device or a socket given as a
    document would block a reader forever or feed it without end. Opening does not block (O_NONBLOCK)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "something else")
        raise OSError(errno.EINVAL, f"not a regular file but {kind}", str(path))


def read_regular_file(path: str | os.PathLike, limit: int) -> bytes:
    """At most `limit` bytes of a regular file (OSError for anything else, see check_regular)."""
    check_regular(path)
    with open(path, "rb") as f:
        return f.read(limit)


_TEMP_SUFFIX = ".tmp"
_TEMP_REST = re.compile(r"(\d{1,10})\.[A-Za-z0-9_]+\.tmp")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temps(path: Path) -> None:
    """Remove the temporary files that earlier writes to `path` left when their process was killed
    (`.NAME.PID.random.tmp`, PID no longer running). A live writer's file is left alone."""
    prefix = _temp_prefix(path)
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix) and n.endswith(_TEMP_SUFFIX)]
    except OSError:
        return
    for name in names:
        match = _TEMP_REST.fullmatch(name[len(prefix):])  # PID.random.tmp: mkstemp's random part has no dot
        if match and not _running(int(match.group(1))):
            try:
                (path.parent / name).unlink()
            except OSError:
                pass


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours, from a write this process abandoned (it is not writing it now)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or an absurd number: nobody's
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _new_file_mode() -> int:
    """The mode a new file gets here: 0666 less the process's umask (read without changing it where Linux says)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Write a file so that a crash mid-write leaves the old file intact: `write(temp_path)` fills a
    temporary file beside it, which is then flushed to disk and renamed over `path`. The file keeps the
    mode of the file it replaces (a new one gets the umask's); temporary files that killed writes left
    beside `path` are removed first."""
    path = Path(path)
    _remove_stale_temps(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = _new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", errors="backslashreplace"))


class OverwriteError(NetbuilderError):
    """A file that is there already would be replaced, and replacing was not asked for (`overwrite`)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        super().__init__(f"{path} already exists; it was not replaced")


def refuse_overwrite(*paths: str | os.PathLike | None, overwrite: bool = False) -> None:
    """OverwriteError naming the first of `paths` that exists, unless `overwrite` (None entries are skipped).
    Called before any work, so that a refused export or import leaves every file as it was."""
    if overwrite:
        return
    for path in paths:
        if path is not None and os.path.lexists(path):
            raise OverwriteError(path)


def user_data_dir() -> Path:
    """netbuilder's folder in the user's data folder: NETBUILDER_HOME, else the platform's (as platformdirs says:
    ~/.local/share/netbuilder or $XDG_DATA_HOME/netbuilder, ~/Library/Application Support/netbuilder,
    %LOCALAPPDATA%\\netbuilder). Downloaded datasets and the runs of unsaved networks live there."""
    if os.environ.get("NETBUILDER_HOME"):
        return Path(os.environ["NETBUILDER_HOME"]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "netbuilder"


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
