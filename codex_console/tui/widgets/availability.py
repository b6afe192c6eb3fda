"""The watchdog's record: when it last ran and what it found, availability over a day and a
week, and the latest incidents (from the check history file next to the endpoints file)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from ...history import Summary
from ...readings import Reading
from ...report import duration, share, when
from ..format import age
from .panel import PanelText, SourcePanel

STATE_STYLE = {"OK": "bold green", "WARNING": "bold yellow", "CRITICAL": "bold red", "UNKNOWN": "bold magenta"}


class AvailabilityPanel(SourcePanel):
    source = "health"

    def __init__(self, **kwargs) -> None:
        super().__init__("Availability", **kwargs)

    def compose(self) -> ComposeResult:
        yield PanelText("reading the check history", id="availability-text", classes="panel-text")

    def show(self, reading: Reading[Summary]) -> None:
        self.query_one("#availability-text", PanelText).show(
            availability_text(reading.value, self.wallclock(), max(1, self.size.height - 5)))


def availability_text(summary: Summary | None, now: float, incidents: int = 3) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if summary is None or summary.last is None:
        text.append("no check history yet: install the watchdog (codex-console install-watchdog)", style="dim")
        return text
    last = summary.last
    text.append(f"watchdog {age(now - last.at)} ago: ")
    text.append(last.state, style=STATE_STYLE.get(last.state, ""))
    text.append("\n" + "  ".join(f"{w} {share(v)}" for w, v in summary.availability.items()))
    for incident in list(summary.incidents)[-incidents:][::-1]:
        span = "ongoing" if incident.end is None else duration(incident.end - incident.start)
        text.append(f"\n{when(incident.start)[5:]} {span:>7} ", style="dim")
        text.append(incident.worst[:4], style=STATE_STYLE.get(incident.worst, ""))
        text.append(f" {incident.reason}")
    return text
