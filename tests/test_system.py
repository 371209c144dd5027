"""The machine's memory and cores through one function (psutil), the same on Linux, macOS and Windows."""
import builtins
import os
import sys

import pytest

from netbuilder.core.base import system


def test_memory_is_read_without_reading_proc_or_sysconf_ourselves(monkeypatch):
    """Windows has neither /proc nor os.sysconf: the function still gives the machine's memory (psutil)."""
    monkeypatch.delattr(os, "sysconf", raising=False)
    monkeypatch.setattr(system, "open", lambda *a, **k: (_ for _ in ()).throw(FileNotFoundError(a[0])),
                        raising=False)  # any /proc read of our own fails
    available, total = system.memory()
    assert available is not None and total is not None and 0 < available <= total
    assert system.available_bytes() > 0 and system.total_bytes() == total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_available_memory_is_positive_with_proc_hidden(monkeypatch):
    real_open, real_exists = builtins.open, os.path.exists

    def hidden(path) -> bool:
        return str(os.fspath(path) if not isinstance(path, int) else "").startswith("/proc")

    def no_proc_open(file, *args, **kwargs):
        if hidden(file):
            raise FileNotFoundError(2, "No such file or directory", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc_open)
    monkeypatch.setattr(os.path, "exists", lambda p: False if hidden(p) else real_exists(p))
    with pytest.raises(FileNotFoundError):
        open("/proc/meminfo")
    available = system.available_bytes()
    assert isinstance(available, int) and available > 0
    assert system.memory().total >= available


def test_cpu_count_is_the_cores_this_process_may_use():
    count = system.cpu_count()
    assert 1 <= count <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert count == len(os.sched_getaffinity(0))
