"""One probe's verdict: its name, state, one-line summary, how long it took and its perfdata."""

from __future__ import annotations

from dataclasses import dataclass

from .nagios import Perf, State


@dataclass(frozen=True)
class ProbeResult:
    name: str
    state: State
    summary: str
    elapsed_s: float = 0.0
    perfdata: tuple[Perf, ...] = ()
