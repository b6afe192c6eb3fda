"""A time-axis chart: lines over the chosen window, the time of day on the x axis, the unit on
the y axis. No data draws an empty frame that says so, never a full bar."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from textual_plotext import PlotextPlot

from ...readings import Point

WINDOWS = {"5m": 300.0, "1h": 3600.0, "24h": 86400.0}


@dataclass(frozen=True)
class Line:
    label: str
    points: Sequence[Point]
    statistic: str = "mean"  # which of the bucket's numbers: mean, p50 or p95


def time_labels(window: float, now: float, count: int = 4) -> tuple[list[float], list[str]]:
    """Tick positions (seconds before now, negative) and their wall-clock labels."""
    fmt = "%H:%M:%S" if window <= 300 else "%H:%M"
    ticks = [-window + i * window / (count - 1) for i in range(count)]
    return ticks, [time.strftime(fmt, time.localtime(now + t)) for t in ticks]


class TimeChart(PlotextPlot):
    DEFAULT_CSS = "TimeChart { height: 1fr; min-height: 6; }"

    def __init__(self, title: str, unit: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.unit = unit

    def draw(self, lines: Sequence[Line], window: str, now: float, floor: float | None = 0.0) -> None:
        seconds = WINDOWS.get(window, 300.0)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        drawn = 0
        for line in lines:
            xs = [p.t - now for p in line.points if p.t >= now - seconds]
            ys = [getattr(p, line.statistic) for p in line.points if p.t >= now - seconds]
            if xs:
                plt.plot(xs, ys, label=line.label, marker="braille")
                drawn += 1
        ticks, labels = time_labels(seconds, now)
        plt.xlim(-seconds, 0)
        plt.xticks(ticks, labels)
        plt.title(f"{self.title} · last {window}" + ("" if drawn else " · no data yet"))
        plt.ylabel(self.unit)
        if not drawn:
            plt.ylim(0, 1)
            plt.yticks([0, 1], ["", ""])
        elif floor is not None:
            highest = max((getattr(p, line.statistic) for line in lines for p in line.points), default=1.0)
            plt.ylim(floor, max(highest * 1.15, floor + 1e-9))
        self.refresh()
