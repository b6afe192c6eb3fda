"""The monitoring-plugins conventions: states and exit codes, threshold ranges, perfdata.

Ranges (https://www.monitoring-plugins.org/doc/guidelines.html#THRESHOLDFORMAT):
`10` alerts outside 0..10, `10:` below 10, `~:10` above 10, `10:20` outside 10..20,
`@10:20` inside 10..20 (endpoints included).
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

UNITS = ("", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c")
_RANGE = re.compile(r"^(@)?(?:(~|[-+]?\d+(?:\.\d+)?)?(:))?([-+]?\d+(?:\.\d+)?)?$")


class State(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class RangeError(ValueError):
    pass


@dataclass(frozen=True)
class Range:
    start: float  # -inf for `~`
    end: float  # +inf when open
    inside: bool  # `@`: alert inside the range instead of outside
    text: str

    @classmethod
    def parse(cls, text: str) -> Range:
        m = _RANGE.match(text.strip())
        if not text.strip() or not m or (m.group(3) is None and m.group(4) is None):
            raise RangeError(f"not a threshold range: {text!r} (e.g. 10, 10:, ~:10, 10:20, @10:20)")
        at, low, colon, high = m.groups()
        start = -math.inf if low == "~" else float(low) if low else 0.0
        end = float(high) if high else math.inf
        if colon is None:  # `10` means 0:10
            start, end = 0.0, float(high)
        if start > end:
            raise RangeError(f"threshold range {text!r}: start is above end")
        return cls(start, end, bool(at), text.strip())

    def alerts(self, value: float) -> bool:
        inside = self.start <= value <= self.end
        return inside if self.inside else not inside


@dataclass(frozen=True)
class Perf:
    """One perfdata item; a value that could not be measured renders as `U`."""

    label: str
    value: float | None
    uom: str = ""
    warn: str = ""
    crit: str = ""
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.uom not in UNITS:
            raise ValueError(f"{self.uom!r} is not a perfdata unit ({', '.join(UNITS[1:])})")

    def render(self) -> str:
        def num(v: float | None) -> str:
            return "" if v is None else f"{v:g}"
        value = "U" if self.value is None else f"{self.value:.6g}{self.uom}"
        return f"'{self.label}'={value};{self.warn};{self.crit};{num(self.min)};{num(self.max)}".rstrip(";")


def worst(states: list[State]) -> State:
    """CRITICAL beats UNKNOWN beats WARNING beats OK."""
    for state in (State.CRITICAL, State.UNKNOWN, State.WARNING):
        if state in states:
            return state
    return State.OK


def judge_value(value: float, warn: Range | None, crit: Range | None) -> State:
    if crit is not None and crit.alerts(value):
        return State.CRITICAL
    if warn is not None and warn.alerts(value):
        return State.WARNING
    return State.OK

