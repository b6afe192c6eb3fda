"""The status line: each source's age, or STALE with its error, side by side."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...models import Reading
from ..format import age


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: 1; padding: 0 1; background: $panel; }"

    def show(self, readings: dict[str, Reading], now: float, note: str = "") -> None:
        text = Text()
        for name, reading in readings.items():
            if text:
                text.append(" · ", style="dim")
            if reading.stale:
                text.append(f"{name} STALE", style="bold red")
                text.append(f" ({reading.error[:40]})", style="red")
            elif reading.taken is None:
                text.append(f"{name} …", style="dim")
            elif reading.note:
                text.append(f"{name} –", style="dim")
            else:
                text.append(f"{name} {age(reading.age(now))}")
        if note:
            text.append(f"  {note}", style="italic")
        self.update(text)
