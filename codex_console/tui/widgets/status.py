"""The status line: each source's age, or STALE with its error, side by side; ticks every second."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from ...readings import Reading
from ..format import age, clip


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: 1; padding: 0 1; background: $panel; }"

    def __init__(self, note: str = "", order: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.note = note
        self.order = order
        self.readings: dict[str, Reading] = {}

    def on_mount(self) -> None:
        self.set_interval(1.0, self.redraw)

    def show(self, source: str, reading: Reading) -> None:
        self.readings[source] = reading
        rank = {name: i for i, name in enumerate(self.order)}
        self.readings = dict(sorted(self.readings.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        self.redraw()

    def redraw(self) -> None:
        now = getattr(self.app, "clock", time.monotonic)()
        text = Text(no_wrap=True, overflow="ellipsis")
        stale = [name for name, r in self.readings.items() if r.stale]
        budget = max(12, (self.size.width - 60) // max(1, len(stale))) if stale else 0
        for name, reading in self.readings.items():
            if text:
                text.append(" · ", style="dim")
            if reading.stale:
                text.append(f"{name} STALE", style="bold red")
                text.append(f" ({clip(reading.error, budget)})", style="red")
            elif reading.taken is None:
                text.append(f"{name} …", style="dim")
            elif reading.note:
                text.append(f"{name} –", style="dim")
            else:
                text.append(f"{name} {age(reading.age(now))}")
        if self.note:
            text.append(f"  {self.note}", style="italic")
        self.update(text)
