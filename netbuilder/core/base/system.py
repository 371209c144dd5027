"""What the machine has to give: memory that a process can still take (on the CPU or a GPU), the machine's memory,
and the CPU cores this process may run on. psutil reads them the same way on Linux, macOS and Windows.

    memory()            # Memory(available=..., total=...) of the machine, in bytes (None where nothing says)
    available_bytes()   # what a process can still take without swapping; available_bytes("cuda:0") on that GPU
    cpu_count()         # the cores this process may use (its affinity), at least 1
"""
from __future__ import annotations

import os
from typing import NamedTuple

import psutil


class Memory(NamedTuple):
    available: int | None  # bytes a process can still take without swapping
    total: int | None  # the machine's physical memory


def format_bytes(n: float) -> str:
    """1536 -> "1.5 KB"; 42947912000000 -> "42,948 GB"."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:,.0f} {unit}" if value >= 1000 else f"{value:.3g} {unit}"
    return f"{int(n)} bytes"


def memory() -> Memory:
    """The machine's available and total memory, through psutil (Linux, macOS, Windows alike). Where psutil cannot
    tell (a Linux without /proc mounted, say), the physical pages the C library reports; None where nothing says."""
    try:
        figures = psutil.virtual_memory()
        if figures.available > 0 and figures.total > 0:
            return Memory(int(figures.available), int(figures.total))
    except Exception:  # noqa: BLE001, S110 - psutil raises OSError, RuntimeError or its own errors where it cannot read
        pass
    return Memory(_pages("SC_AVPHYS_PAGES"), _pages("SC_PHYS_PAGES"))


def _pages(name: str) -> int | None:
    try:
        value = os.sysconf(name) * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # Windows has no sysconf; some systems lack the name
        return None
    return value if value > 0 else None


def available_bytes(device=None) -> int | None:
    """Memory this process can still take without swapping: the machine's (memory().available), or on a GPU
    ("cuda", "cuda:1", "mps") what torch says is free there (and what its cache holds unused). None when nothing
    says."""
    kind = str(device or "cpu").split(":")[0]
    if kind == "cuda":
        return _cuda_free(device)
    if kind == "mps":
        try:
            import torch

            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except Exception:  # noqa: BLE001 - no figure: nothing is refused
            return None
    return memory().available


def total_bytes() -> int | None:
    """The machine's physical memory (memory().total)."""
    return memory().total


def cpu_count() -> int:
    """The CPU cores this process may run on: its affinity where the system has one (Linux, Windows; a container or
    `taskset` limits it), else the machine's logical cores; at least 1."""
    try:
        affinity = psutil.Process().cpu_affinity()
        if affinity:
            return len(affinity)
    except Exception:  # noqa: BLE001, S110 - macOS has no affinity (AttributeError); a sandbox may refuse
        pass
    try:
        return max(1, psutil.cpu_count(logical=True) or os.cpu_count() or 1)
    except Exception:  # noqa: BLE001
        return max(1, os.cpu_count() or 1)


def _cuda_free(device) -> int | None:
    try:
        import torch

        index = torch.device(device).index if torch.device(device).index is not None else torch.cuda.current_device()
        free, _ = torch.cuda.mem_get_info(index)
        return int(free + torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index))
    except Exception:  # noqa: BLE001 - no GPU, or a driver that does not say: nothing is refused
        return None
