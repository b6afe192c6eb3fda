"""A panel for a probed service: one status text and a latency sparkline."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Sparkline, Static

from .panel import Panel


class ProbePanel(Panel):
    key = ""  # ids: #<key>-text, #<key>-spark

    def compose(self):
        yield Static("waiting for endpoints", id=f"{self.key}-text")
        yield Sparkline([], id=f"{self.key}-spark")

    def draw(self, text: Text, history: tuple[float, ...]) -> None:
        self.query_one(f"#{self.key}-text", Static).update(text)
        self.query_one(f"#{self.key}-spark", Sparkline).data = list(history) or [0]

    @staticmethod
    def missing(error: str, note: str) -> Text:
        """DOWN with the error, or the reason there is nothing to show yet."""
        if error:
            return Text.assemble(("DOWN", "bold red"), f"  {error}"[:70])
        return Text(note or "waiting", style="dim")
