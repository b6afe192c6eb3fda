"""A source's reading (last good value, its age, the last error) and its time-stamped history.

A history holds series keyed by a measure and a subject (`("latency_ms", url)` for one replica,
`("util", "0")` for one GPU, `"latency_ms"` alone for the whole source), and answers one query,
`window`: the points of a chart window from the tier that keeps it. Charts and the numbers
beside them read the same points.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, Iterable, Sequence, TypeVar

T = TypeVar("T")

# (bucket seconds, seconds kept): raw samples for 5 minutes, 10 s buckets for an hour, 2 minute
# buckets for a day. Memory stays flat however long the console runs.
TIERS = ((0.0, 300.0), (10.0, 3600.0), (120.0, 86400.0))
# The chart windows (`w` cycles them, ui.chart_window picks the first): one per tier.
WINDOWS = {"5m": 300.0, "1h": 3600.0, "24h": 86400.0}
SeriesKey = tuple[str, str]  # (measure, subject); subject "" is the whole source


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

    def window(self, window: str, now: float) -> list[Point]:
        """The points of a chart window (`5m`, `1h`, `24h`), from the finest tier that keeps it
        whole: raw samples for 5 minutes, 10 s buckets for an hour, 2 minute buckets for a day."""
        seconds = WINDOWS[window]
        tier = next((t for t in self._tiers if t.keep >= seconds), self._tiers[-1])
        return [p for p in tier.view() if p.t >= now - seconds]

    def __len__(self) -> int:
        return sum(len(t.points) for t in self._tiers)


def spread(points: Sequence[Point]) -> tuple[float | None, float | None]:
    """p50 and p95 over a window's points: of the raw values (5 minutes), or over buckets the
    median of their p50s and the 95th percentile of their p95s."""
    return percentile((p.p50 for p in points), 50), percentile((p.p95 for p in points), 95)


def mean(points: Sequence[Point]) -> float | None:
    return sum(p.mean for p in points) / len(points) if points else None


def _key(key: str | SeriesKey) -> SeriesKey:
    return (key, "") if isinstance(key, str) else key


class History:
    """The series of one source, keyed by (measure, subject). Counters (totals since a server
    started) are stored as rates per second; a counter that went down (the server restarted)
    starts over. A counter of a subject also adds its rate to the measure's total (subject ""),
    so a replica that appears with a large total is no burst in the total."""

    def __init__(self) -> None:
        self.series: dict[SeriesKey, Series] = {}
        self._last_count: dict[SeriesKey, tuple[float, float]] = {}

    def __getitem__(self, key: str | SeriesKey) -> Series:
        return self.series.setdefault(_key(key), Series())

    def add(self, t: float, gauges: dict, counters: dict | None = None) -> None:
        """`gauges` and `counters` map a measure name, or a (measure, subject) key, to a value."""
        for key, value in gauges.items():
            self[key].add(t, value)
        totals: dict[str, float] = {}
        for key, total in (counters or {}).items():
            key = _key(key)
            last = self._last_count.get(key)
            self._last_count[key] = (t, total)
            if last is not None and total >= last[1] and t > last[0]:
                rate = (total - last[1]) / (t - last[0])
                self[key].add(t, rate)
                if key[1]:
                    totals[key[0]] = totals.get(key[0], 0.0) + rate
        for measure, rate in totals.items():
            self[measure].add(t, rate)

    def subjects(self, measure: str) -> list[str]:
        """The subjects that have a series of `measure`, in the order they first appeared."""
        return [subject for m, subject in self.series if m == measure and subject]


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
