"""`codex-console report`: the watchdog's history summed up, for people and for mail."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from .history import Summary


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def share(value: float | None) -> str:
    return "no checks" if value is None else f"{100 * value:.2f}%"


def as_text(summary: Summary, since: str = "7d") -> str:
    lines = []
    if summary.last is None:
        return "no check history yet: is the watchdog installed? (codex-console install-watchdog)"
    lines.append(f"last check {when(summary.last.at)}: {summary.last.state} - {summary.last.summary}")
    for window, value in summary.availability.items():
        lines.append(f"availability {window}: {share(value)} of {summary.counts.get(window, 0)} checks OK")
    lines.append(f"incidents in the last {since}: {len(summary.incidents)}")
    for i in summary.incidents:
        end = "ongoing" if i.end is None else f"{duration(i.end - i.start)}"
        lines.append(f"  {when(i.start)}  {end:>8}  {i.worst:<8}  {i.reason}")
    return "\n".join(lines)


def as_json(summary: Summary) -> str:
    return json.dumps(asdict(summary))
