"""The job's log: `tail -F` streamed on one channel, so no line is dropped or shown twice;
`/` filters what is shown, `f` stops and resumes following."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import AsyncIterator, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, Static

Follow = Callable[[int], AsyncIterator[str]]
KEEP = 20000


class LogScreen(Screen):
    BINDINGS = [("escape,l", "back", "Back"), ("f", "toggle_follow", "Follow"),
                ("slash", "filter", "Filter")]
    DEFAULT_CSS = """
    LogScreen #log-filter { display: none; height: 3; }
    LogScreen #log-filter.-shown { display: block; }
    """

    def __init__(self, follow: Follow) -> None:
        super().__init__()
        self.follow_log = follow
        self.lines: deque[str] = deque(maxlen=KEEP)
        self.pattern = ""
        self.state = "starting"

    def compose(self) -> ComposeResult:
        yield Static("job log", id="log-title")
        yield Input(placeholder="show lines containing… (Enter; empty shows all)", id="log-filter")
        yield Log(id="log", highlight=False, max_lines=KEEP)
        yield Footer()

    def on_mount(self) -> None:
        self.tail()

    def _title(self) -> None:
        log = self.query_one(Log)
        what = f"filter '{self.pattern}'" if self.pattern else "all lines"
        self.query_one("#log-title", Static).update(
            f"job log: {self.state} · {'following' if log.auto_scroll else 'paused'} · {what} · "
            f"{len(self.lines)} lines")

    @work(exclusive=True, group="log", exit_on_error=False)
    async def tail(self) -> None:
        log = self.query_one(Log)
        backlog = 500
        while True:
            self.state = "streaming"
            self._title()
            try:
                async for line in self.follow_log(backlog):
                    self.lines.append(line)
                    if self.pattern in line:
                        log.write_line(line)
                    self._title()
                self.state = "the log stream ended; starting again"
            except Exception as exc:  # noqa: BLE001 - shown, then tried again
                self.state = f"{exc}; trying again"
            self._title()
            if self.lines:  # a new stream starts at the end: say that lines may be missing
                note = "-- stream restarted: lines written meanwhile may be missing --"
                self.lines.append(note)
                log.write_line(note)
            backlog = 0
            await asyncio.sleep(2)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = not log.auto_scroll
        if log.auto_scroll:
            log.scroll_end(animate=False)
        self._title()

    def action_filter(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.add_class("-shown")
        box.value = self.pattern
        box.focus()

    @on(Input.Submitted, "#log-filter")
    def _filtered(self, event: Input.Submitted) -> None:
        self.pattern = event.value
        event.input.remove_class("-shown")
        log = self.query_one(Log)
        log.clear()
        log.write_lines([line for line in self.lines if self.pattern in line])
        log.focus()
        self._title()
