"""The job's log: a scrolling tail that follows the file."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Log, Static


class LogScreen(Screen):
    BINDINGS = [("escape,l", "app.pop_screen", "Back"), ("f", "toggle_follow", "Follow")]

    def __init__(self, interval: float = 2.0) -> None:
        super().__init__()
        self.interval = interval
        self.follow = True
        self._seen: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("job log (following)", id="log-title")
        yield Log(id="log", highlight=False, max_lines=5000)
        yield Footer()

    def on_mount(self) -> None:
        self.tail()

    @work(exclusive=True, group="log", exit_on_error=False)
    async def tail(self) -> None:
        import asyncio

        log = self.query_one(Log)
        title = self.query_one("#log-title", Static)
        while True:
            try:
                lines = (await self.app.cluster.log_tail(500)).splitlines()
                title.update(f"job log ({'following' if self.follow else 'paused'})")
            except Exception as exc:  # noqa: BLE001 - shown, then tried again
                title.update(f"job log: {exc}")
                lines = None
            if lines is not None and self.follow:
                overlap = _overlap(self._seen, lines)
                log.write_lines(lines[overlap:])
                self._seen = lines
            await asyncio.sleep(self.interval)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow


def _overlap(old: list[str], new: list[str]) -> int:
    """How many leading lines of `new` were already shown (the tail window slides)."""
    for start in range(len(old)):
        suffix = old[start:]
        if new[: len(suffix)] == suffix:
            return len(suffix)
    return 0
