"""What the machine has to give: memory that a process can still take, on the CPU or a GPU."""
from __future__ import annotations

import os


def format_bytes(n: float) -> str:
    """1536 -> "1.5 KB"; 42947912000000 -> "42,948 GB"."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:,.0f} {unit}" if value >= 1000 else f"{value:.3g} {unit}"
    return f"{int(n)} bytes"


def available_bytes(device=None) -> int | None:
    """Memory this process can still take without swapping: MemAvailable from /proc/meminfo, else the free
    physical pages from os.sysconf, and no more than its own limits leave (an address-space limit, `ulimit -v`); on a GPU ("cuda", "cuda:1", "mps"), what torch says is free there (and what
    its cache holds unused). None when nothing says."""
    kind = str(device or "cpu").split(":")[0]
    if kind == "cuda":
        return _cuda_free(device)
    if kind == "mps":
        try:
            import torch

            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except Exception:  # noqa: BLE001 - no figure: nothing is refused
            return None
    figures = [figure for figure in (_machine_free(), _limit_left()) if figure is not None]
    return min(figures) if figures else None


def holder(device=None) -> str:
    """Whose memory `available_bytes(device)` is, for a message: "this machine has", "cuda:0 has", or "this
    process's memory limit leaves" where its own limit (`ulimit -v`) is what leaves the least."""
    kind = str(device or "cpu").split(":")[0]
    if kind != "cpu":
        return f"{device} has"
    machine, limit = _machine_free(), _limit_left()
    return "this process's memory limit (ulimit) leaves" if limit is not None and (machine is None or limit < machine) \
        else "this machine has"


def _machine_free() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _limit_left() -> int | None:
    """What this process's own limits leave it (`ulimit -v`, `ulimit -d`; a batch scheduler sets them): the limit
    less what the process already holds of it (VmSize, VmData in /proc/self/status). None when there is none."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    held = _status_kb()
    left = []
    for name, field in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        limit = resource.getrlimit(getattr(resource, name))[0] if hasattr(resource, name) else resource.RLIM_INFINITY
        if limit != resource.RLIM_INFINITY and limit >= 0:
            left.append(max(limit - held.get(field, 0) * 1024, 0))
    return min(left) if left else None


def _status_kb() -> dict[str, int]:
    found = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmSize", "VmData"):
                    found[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return found


def _cuda_free(device) -> int | None:
    try:
        import torch

        index = torch.device(device).index if torch.device(device).index is not None else torch.cuda.current_device()
        free, _ = torch.cuda.mem_get_info(index)
        return int(free + torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index))
    except Exception:  # noqa: BLE001 - no GPU, or a driver that does not say: nothing is refused
        return None
