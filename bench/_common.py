"""Shared set-up for benchmarks: a steady allocator, and timing helpers. Every figure is a ratio
measured in one process, because these machines are noisy between runs."""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "268435456"}


def steady_allocator() -> None:
    """Re-run this script with glibc's allocator pinned: CPU timings otherwise flip between two speeds."""
    if any(os.environ.get(k) != v for k, v in _ALLOCATOR.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **_ALLOCATOR})
    sys.path.insert(0, str(ROOT))


def median_seconds(work, repeats: int, setup=None) -> float:
    """Median wall time of `work()` over `repeats` runs; `setup()` runs untimed before each."""
    times = []
    for i in range(repeats):
        if setup is not None:
            setup(i)
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
