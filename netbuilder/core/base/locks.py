"""One process at a time on a shared file: downloads and cache fills hold a lock file beside what they write, so
that the editor and a command-line run (or the first worker of each machine on a shared home folder) fetching the
same dataset at once do it once: the second waits for the first, then uses the finished file.

The lock is filelock's FileLock: fcntl.flock on Linux and macOS, LockFileEx on Windows. The operating system
releases it when its process dies, so a killed download never blocks the next one; the lock file it leaves is
taken over and removed by the next holder. A holder removes the lock file before releasing it (filelock then
re-opens the file in a process that was waiting on the removed one), so nothing is left behind.

    with exclusive(folder / "mnist.lock", waiting=lambda seconds: ...):   # waiting: called while another holds it
        ...
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import NetbuilderError

POLL_S = 0.5  # how often a waiting process looks again (and reports that it waits)


class LockTimeout(NetbuilderError):
    """Another process has held a lock for longer than this one would wait."""


@contextmanager
def exclusive(path: str | os.PathLike, waiting: Callable[[float], None] | None = None,
              timeout: float | None = None, what: str = "this file") -> Iterator[None]:
    """Hold the lock file `path` for the block. While another process holds it, `waiting(seconds waited)` is called
    every POLL_S; after `timeout` seconds (None: no limit) LockTimeout says which process-wide lock to look at."""
    from filelock import FileLock, Timeout

    path = Path(path)
    lock = FileLock(str(path))
    start = time.monotonic()
    while True:
        try:
            lock.acquire(timeout=POLL_S if waiting is not None or timeout is not None else -1,
                         poll_interval=min(POLL_S, 0.05))
            break
        except Timeout:
            waited = time.monotonic() - start
            if timeout is not None and waited >= timeout:
                raise LockTimeout(f"another process has been working on {what} for {waited:.0f} s (it holds "
                                  f"{path}); wait for it, or stop it") from None
            if waiting is not None:
                waiting(waited)
    try:
        yield
    finally:
        with suppress(OSError):  # Windows refuses to remove an open file; filelock removes it there on release
            path.unlink()
        lock.release()
