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
        self._axis = (300.0, 0.0)  # window, now: the time axis, labelled when drawn
        # Plotext's "clear" theme draws on the panel's own background. (The "auto" theme is
        # registered once per process, and its colours then depend on which app came first.)
        self.theme = "clear"

    def draw(self, lines: Sequence[Line], window: str, now: float, floor: float | None = 0.0) -> None:
        seconds = WINDOWS.get(window, 300.0)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        drawn, highest = 0, 0.0
        for line in lines:
            xs = [p.t - now for p in line.points if p.t >= now - seconds]
            ys = [getattr(p, line.statistic) for p in line.points if p.t >= now - seconds]
            if xs:
                plt.plot(xs, ys, label=line.label, marker="braille")
                drawn += 1
                highest = max(highest, *ys)
        self._axis = (seconds, now)
        plt.xlim(-seconds, 0)
        plt.title(f"{self.title} · last {window}" + ("" if drawn else " · no data yet"))
        plt.ylabel(self.unit)
        if not drawn:
            plt.ylim(0, 1)
            plt.yticks([0, 1], ["", ""])
        elif floor is not None:  # all zeros (no errors): 0 to 1, not a range of 1e-9 in long labels
            plt.ylim(floor, highest * 1.15 if highest > floor else floor + 1.0)
        self.refresh()

    def render(self):  # type: ignore[override]
        # As many time labels as fit without touching: plotext drops colliding labels in an
        # order that changes from one process to the next.
        seconds, now = self._axis
        ticks, labels = time_labels(seconds, now, max(2, min(5, (self.size.width - 8) // 12)))
        self.plt.xticks(ticks, labels)
        return super().render()
