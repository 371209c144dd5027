"""Blocks coloured by a training statistic (viridis, log-scaled where magnitudes spread over decades)."""
from __future__ import annotations

import math

from PySide6.QtGui import QColor

LOG_SCALED = {"act_std", "grad_std", "update_norm", "update_ratio"}  # magnitudes spread over decades
VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]


def statistic_colours(record: dict, key: str) -> tuple[dict[str, tuple[float, float]], float, float]:
    """{block: (value, position 0..1)} for one statistic of an epoch's record, with the range (low, high) the
    positions span: log10 of magnitudes for statistics that spread over decades, the value otherwise."""
    values = {name: entry[key] for name, entry in record.get("blocks", {}).items() if key in entry}
    if not values:
        return {}, 0.0, 0.0
    if key in LOG_SCALED:
        scaled = {n: math.log10(abs(v)) if v else None for n, v in values.items()}
    else:
        scaled = dict(values)
    finite = [v for v in scaled.values() if v is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    span = (high - low) or 1.0
    positions = {n: (values[n], 0.0 if s is None else (s - low) / span) for n, s in scaled.items()}
    return positions, low, high


def viridis(t: float) -> QColor:
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    f = t - i
    return QColor(*(round(VIRIDIS[i][k] * (1 - f) + VIRIDIS[i + 1][k] * f) for k in range(3)))
