"""A bordered panel that shows one source: it is given readings and draws them.

Each panel names its source; the dashboard hands it every reading of that source through the
`reading` reactive, and `show` draws it. An error newer than the last good value turns the
border red and says STALE with the error in the subtitle.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from ...readings import WINDOWS, Reading
from ..format import age, clip


class PanelText(Static):
    """A panel's text. Drawn again only when it changed, and laid out again (the whole screen)
    only when its number of lines did: an idle console redraws little."""

    def __init__(self, content: str | Text = "", **kwargs) -> None:
        super().__init__(content, **kwargs)
        self.shown: Text | None = None

    def show(self, content: str | Text) -> None:
        text = Text(content) if isinstance(content, str) else content
        if self.shown is not None and text == self.shown:
            return
        relayout = self.shown is None or text.plain.count("\n") != self.shown.plain.count("\n")
        self.shown = text
        self.update(text, layout=relayout)


class SourcePanel(Vertical):
    DEFAULT_CSS = """
    SourcePanel { border: round $primary-darken-1; height: auto; padding: 0 1; }
    SourcePanel.-stale { border: round $error; }
    """
    source: ClassVar[str] = ""
    # The panel's own box is not repainted for a reading: its texts and charts repaint themselves,
    # and only when what they show changed (a repainted box redraws everything inside it).
    reading: reactive[Reading | None] = reactive(None, always_update=True, init=False, repaint=False)

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = title

    def now(self) -> float:
        return getattr(self.app, "clock", time.monotonic)()

    def wallclock(self) -> float:
        return getattr(self.app, "wallclock", time.time)()

    def receive(self, source: str, reading: Reading) -> None:
        """The dashboard hands every reading to every panel; each keeps what it shows."""
        if source == self.source:
            self.reading = reading

    def window(self) -> str:
        return getattr(self.app, "window", next(iter(WINDOWS)))

    def redraw(self) -> None:
        """Draw again (the chart window changed)."""
        if self.reading is not None:
            self.reading = self.reading

    def watch_reading(self, reading: Reading | None) -> None:
        if reading is None:
            return
        self.show(reading)
        self.set_class(reading.stale, "-stale")
        text = f"STALE {age(reading.age(self.now()))}: {reading.error}" if reading.stale else ""
        subtitle = clip(text, max(10, self.size.width - 6))
        if subtitle != (self.border_subtitle or ""):  # setting it, even to the same, redraws the panel
            self.border_subtitle = subtitle

    def show(self, reading: Reading) -> None:
        raise NotImplementedError
