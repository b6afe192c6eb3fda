"""A bordered panel whose title names its source and whose subtitle shows STALE on errors."""

from __future__ import annotations

from textual.containers import Vertical

from ...models import Reading
from ..format import age


class Panel(Vertical):
    DEFAULT_CSS = """
    Panel { border: round $primary-darken-1; height: auto; padding: 0 1; }
    Panel.-stale { border: round $error; }
    """

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = title

    def mark(self, reading: Reading, now: float) -> None:
        stale = reading.stale
        self.set_class(stale, "-stale")
        if stale:
            self.border_subtitle = f"STALE {age(reading.age(now))}: {reading.error}"[:60]
        else:
            self.border_subtitle = ""
