"""A time-axis chart: lines over the chosen window, the time of day on the x axis, the unit on
the y axis. No data draws an empty frame that says so, never a full bar.

Building a plot and drawing its braille lines is the console's dearest work, so a chart is drawn
again only when what it would draw changed, and then no sooner than a pixel column of its window
later and `MIN_GAP` seconds at the least (a change waits for that, it is never lost: its screen
calls `draw_due` every frame). A new window is drawn at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from textual_plotext import PlotextPlot

from ...readings import WINDOWS, Point


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
    MIN_GAP = 10.0  # seconds between two drawings of one chart at the least

    def __init__(self, title: str, unit: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.unit = unit
        self._axis = (300.0, 0.0)  # window, now: the time axis, labelled when drawn
        self._drawn: object = None  # what the last draw drew: the same again is not drawn
        self._pending: tuple | None = None  # a change not drawn yet (it came too soon)
        self._built_at: float | None = None
        self.lines: dict[str, list[tuple[float, float]]] = {}  # label: the (t, value) points drawn
        self.builds = 0  # plots built: a chart whose points did not change is not built again
        # Plotext's "clear" theme draws on the panel's own background. (The "auto" theme is
        # registered once per process, and its colours then depend on which app came first.)
        self.theme = "clear"

    def clock(self) -> float:
        return getattr(self.app, "clock", time.monotonic)()

    def gap(self, seconds: float) -> float:
        """How long after a drawing the next may come: a braille pixel column of the window."""
        return max(self.MIN_GAP, seconds / max(1, 2 * (self.size.width - 8)))

    def draw(self, lines: Sequence[Line], window: str, now: float, floor: float | None = 0.0) -> None:
        """Draw `lines` (the points of `window`, as Series.window gave them) ending at `now`."""
        seconds = WINDOWS[window]
        shown = [(line.label, [(p.t, getattr(p, line.statistic)) for p in line.points if now - seconds <= p.t <= now])
                 for line in lines]
        content = (window, floor, tuple((label, tuple(xy)) for label, xy in shown))
        if content == self._drawn:
            self._pending = None
            return
        self._pending = (content, shown, window, now, floor)
        same_window = isinstance(self._drawn, tuple) and self._drawn[0] == window
        if not (same_window and self._built_at is not None and self.clock() - self._built_at < self.gap(seconds)):
            self.draw_due(force=True)

    def draw_due(self, force: bool = False) -> None:
        """Draw the change that waits, if there is one and its time has come."""
        if self._pending is None:
            return
        content, shown, window, now, floor = self._pending
        if not force and self._built_at is not None and self.clock() - self._built_at < self.gap(WINDOWS[window]):
            return
        self._pending = None
        self._drawn, self._built_at = content, self.clock()
        self._build(shown, window, now, floor)

    def _build(self, shown: list[tuple[str, list[tuple[float, float]]]], window: str, now: float,
               floor: float | None) -> None:
        seconds = WINDOWS[window]
        self.lines = dict(shown)
        self.builds += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        drawn, highest = 0, 0.0
        for label, xy in shown:
            if xy:
                ys = [y for _, y in xy]
                plt.plot([t - now for t, _ in xy], ys, label=label, marker="braille")
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
