"""Quantities as people read them."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``seconds`` as people say it: 45 s, 12 min, 3 h 05 min."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
