"""A source's reading (last good value, its age, the last error) and its time-stamped history."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, Iterable, TypeVar

T = TypeVar("T")

# (bucket seconds, seconds kept): raw samples for 5 minutes, 10 s buckets for an hour, 2 minute
# buckets for a day. Memory stays flat however long the console runs.
TIERS = ((0.0, 300.0), (10.0, 3600.0), (120.0, 86400.0))


@dataclass(frozen=True, slots=True)
class Point:
    """One bucket of a series (a raw sample is a bucket of one): its start, mean, p50 and p95.
    Slots: a day of history is some 100,000 of these (a third of the memory without)."""

    t: float
    mean: float
    p50: float
    p95: float


def percentile(values: Iterable[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class _Tier:
    def __init__(self, bucket: float, keep: float) -> None:
        self.bucket, self.keep = bucket, keep
        self.points: deque[Point] = deque()
        self._open: list[float] = []
        self._open_start: float | None = None

    def add(self, t: float, value: float) -> None:
        if self.bucket == 0:
            self.points.append(Point(t, value, value, value))
        else:
            start = t - t % self.bucket
            if self._open_start is not None and start != self._open_start:
                self._close()
            self._open_start = start
            self._open.append(value)
        while self.points and self.points[0].t < t - self.keep:
            self.points.popleft()

    def _close(self) -> None:
        if self._open and self._open_start is not None:
            v = self._open
            self.points.append(Point(self._open_start, sum(v) / len(v), percentile(v, 50) or 0.0,
                                     percentile(v, 95) or 0.0))
        self._open = []

    def view(self) -> list[Point]:
        points = list(self.points)
        if self._open and self._open_start is not None:
            v = self._open
            points.append(Point(self._open_start, sum(v) / len(v), percentile(v, 50) or 0.0,
                                percentile(v, 95) or 0.0))
        return points


class Series:
    """One measurement over time, kept in tiers of coarser buckets as it ages."""

    def __init__(self) -> None:
        self._tiers = [_Tier(bucket, keep) for bucket, keep in TIERS]
        self.last: float | None = None

    def add(self, t: float, value: float) -> None:
        if math.isnan(value) or math.isinf(value):
            return
        self.last = value
        for tier in self._tiers:
            tier.add(t, value)

    def window(self, seconds: float, now: float) -> list[Point]:
        """The points of the last `seconds`, from the finest tier that keeps that long."""
        tier = next((t for t in self._tiers if t.keep >= seconds), self._tiers[-1])
        return [p for p in tier.view() if p.t >= now - seconds]

    def __len__(self) -> int:
        return sum(len(t.points) for t in self._tiers)


class History:
    """The named series of one source. Counters (totals since a server started) are stored as
    rates per second; a counter that went down (the server restarted) starts over."""

    def __init__(self) -> None:
        self.series: dict[str, Series] = {}
        self._last_count: dict[str, tuple[float, float]] = {}

    def __getitem__(self, name: str) -> Series:
        return self.series.setdefault(name, Series())

    def add(self, t: float, gauges: dict[str, float], counters: dict[str, float] | None = None) -> None:
        for name, value in gauges.items():
            self[name].add(t, value)
        for name, total in (counters or {}).items():
            last = self._last_count.get(name)
            self._last_count[name] = (t, total)
            if last is not None and total >= last[1] and t > last[0]:
                self[name].add(t, (total - last[1]) / (t - last[0]))

    def names(self) -> list[str]:
        return list(self.series)


@dataclass(frozen=True)
class Reading(Generic[T]):
    """A source's last good value, when it was taken, and the last error since.

    `error_kind` is `unreachable` (no way to the login node), `timeout` or `error`; `note` says
    why there is no value when that is not an error (no running job yet). `history` belongs to
    the source and only grows; readers take the points they need."""

    value: T | None = None
    taken: float | None = None  # monotonic
    error: str = ""
    error_kind: str = ""
    error_at: float | None = None
    note: str = ""
    elapsed: float = 0.0  # how long the poll that made this reading took
    history: History = field(default_factory=History, compare=False, repr=False)

    def age(self, now: float | None = None) -> float | None:
        return None if self.taken is None else (time.monotonic() if now is None else now) - self.taken

    @property
    def stale(self) -> bool:
        """An error newer than the last good value."""
        return bool(self.error) and (self.taken is None or (self.error_at or 0) >= self.taken)

    @property
    def fresh_value(self) -> T | None:
        """The value, unless an error came after it."""
        return None if self.stale else self.value
