"""The status line: each source's age, or STALE with its error, side by side; its screen ticks it
every frame (two seconds).

The line is made when it is drawn, for the width it is drawn at, from the app's clock: what it
says depends on the readings and that clock alone, never on when a tick happened to come."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widget import Widget

from ...readings import Reading
from ..format import age, clip


class StatusLine(Widget):
    DEFAULT_CSS = "StatusLine { height: 1; padding: 0 1; background: $panel; }"

    def __init__(self, note: str = "", order: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.note = note
        self.order = order
        self.readings: dict[str, Reading] = {}
        self.shown: Text | None = None

    def show(self, source: str, reading: Reading) -> None:
        self.readings[source] = reading
        rank = {name: i for i, name in enumerate(self.order)}
        self.readings = dict(sorted(self.readings.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        self.tick()

    def text(self) -> Text:
        return status_text(self.readings, getattr(self.app, "clock", time.monotonic)(), self.size.width, self.note)

    def tick(self) -> None:
        """Draw again when what the line says changed (an age, a source gone stale)."""
        if self.text() != self.shown:
            self.refresh()

    def render(self) -> Text:
        self.shown = self.text()
        return self.shown


def status_text(readings: dict[str, Reading], now: float, width: int, note: str = "") -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    stale = [name for name, r in readings.items() if r.stale]
    budget = max(12, (width - 60) // max(1, len(stale))) if stale else 0
    for name, reading in readings.items():
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
    if note:
        text.append(f"  {note}", style="italic")
    return text
