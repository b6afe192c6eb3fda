"""Each source polls on its own interval; the next poll starts after the last one ends.

A source keeps its last good value with the time it was taken and its last error, so one
slow or dead source shows as stale without holding up the others. `refresh()` polls now.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Generic, TypeVar

from ..models import Reading

T = TypeVar("T")


class Waiting(RuntimeError):
    """Not an error: the reading cannot exist yet (no running job, no endpoints file)."""

Listener = Callable[[str, Reading], None]


class Source(Generic[T]):
    def __init__(self, name: str, fetch: Callable[[], Awaitable[T]], interval: float,
                 timeout: float | None = None, sample: Callable[[T], float | None] | None = None,
                 history: int = 120) -> None:
        self.name = name
        self.fetch = fetch
        self.interval = interval
        self.timeout = timeout or max(5.0, interval * 2)
        self.sample = sample
        self.history_size = history
        self.reading: Reading[T] = Reading()
        self.polls = 0
        self.listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> Reading[T]:
        self.polls += 1
        try:
            async with asyncio.timeout(self.timeout):
                value = await self.fetch()
        except asyncio.CancelledError:
            raise
        except Waiting as exc:
            self.reading = Reading(None, time.monotonic(), "", None, self.reading.history, str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure is this source's error, shown as stale
            message = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            r = self.reading
            self.reading = Reading(r.value, r.taken, message, time.monotonic(), r.history)
        else:
            history = self.reading.history
            if self.sample is not None:
                point = self.sample(value)
                if point is not None:
                    history = (history + (point,))[-self.history_size:]
            self.reading = Reading(value, time.monotonic(), "", None, history)
        for listener in self.listeners:
            listener(self.name, self.reading)
        return self.reading

    async def run(self) -> None:
        while True:
            self._wake.clear()  # before the poll: a refresh() asked during it is not lost
            await self.poll_once()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

    def refresh(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"poll-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None
