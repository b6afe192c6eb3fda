"""Sizes and counts as people read them, shared by the dashboard, the CLI and the job's messages."""

from __future__ import annotations

NA = "N/A"


def human_bytes(value: float | None) -> str:
    """`1536` -> `1.5 kB`, `12_300_000` -> `12.3 MB` (decimal units, as `ls -h --si` and Nagios' MB);
    N/A for a missing reading."""
    if value is None:
        return NA
    value = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return NA  # not reached


def human_count(value: float | None) -> str:
    """`999`, `12.3k`, `4.6M`, `1.2G`; N/A for a missing reading."""
    if value is None:
        return NA
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.0f}"
