"""The events pane: what changed, with times, as the readings come in."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RichLog

from ...events import EventTracker
from ...readings import Reading
from .panel import SourcePanel

STYLE = {"info": "", "warning": "yellow", "error": "bold red"}


class EventsPane(SourcePanel):
    source = "*"  # every source

    def __init__(self, **kwargs) -> None:
        super().__init__("Events", **kwargs)
        self.tracker = EventTracker()
        self.count = 0

    def compose(self) -> ComposeResult:
        yield RichLog(id="events-log", max_lines=500, wrap=False, markup=False)

    def receive(self, source: str, reading: Reading) -> None:
        log = self.query_one(RichLog)
        for event in self.tracker.observe(source, reading, self.wallclock()):
            line = Text(time.strftime("%H:%M:%S ", time.localtime(event.at)), style="dim")
            line.append(event.text, style=STYLE.get(event.severity, ""))
            log.write(line)
            self.count += 1
        subtitle = f"{self.count}" if self.count else ""
        if subtitle != (self.border_subtitle or ""):  # setting it, even to the same, redraws the pane
            self.border_subtitle = subtitle
