"""A polled source: one reading kept fresh on its own schedule, one poll in flight at a time.

The next poll starts `interval` seconds after the last one ended, so a slow login node never
piles up calls. A source keeps its last good value with the time it was taken and its last
error, so one slow or dead source shows as stale without holding up the others. Sources that
read another's value name it in `after`: they poll again as soon as it changes. A source whose
values come from a stream is handed them by `push` as they arrive; its poll then only checks
that the stream runs (and raises `Pushed` when it does).
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Generic, Sequence, TypeVar

from ..readings import History, Reading
from .runner import CommandTimeout, Unreachable

T = TypeVar("T")
Samples = tuple[dict[str, float], dict[str, float]]  # gauges, counters
Listener = Callable[["Source"], None]


class Waiting(Exception):
    """Not an error: the reading cannot exist yet (no running job, no endpoints file)."""


class Pushed(Exception):
    """Not an error and no new value: the values arrive by `push`; the poll found the stream
    that pushes them running, and the reading stays as it is."""


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, Unreachable):
        return "unreachable"
    if isinstance(exc, (TimeoutError, CommandTimeout)):
        return "timeout"
    return "error"


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    return str(exc) or type(exc).__name__


class Source(Generic[T]):
    def __init__(self, name: str, fetch: Callable[[], Awaitable[T]], interval: float, *,
                 timeout: float | None = None, sampler: Callable[[T], Samples] | None = None,
                 after: Sequence[Source] = (), wallclock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.fetch = fetch
        self.interval = interval
        self.timeout = timeout or max(5.0, interval * 2)
        self.sampler = sampler
        self.after = tuple(after)
        self.wallclock = wallclock
        self.history = History()
        self.reading: Reading[T] = Reading(history=self.history)
        self.polls = 0
        self.listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        for dependency in self.after:
            dependency.listeners.append(lambda _source: self.refresh())

    async def poll_once(self) -> Reading[T]:
        self.polls += 1
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                value = await self.fetch()
        except asyncio.CancelledError:
            raise
        except Pushed:
            return self.reading
        except Waiting as exc:
            self.reading = Reading(None, time.monotonic(), note=str(exc), elapsed=time.monotonic() - start,
                                   history=self.history)
        except Exception as exc:  # noqa: BLE001 - any failure is this source's error, shown as stale
            r = self.reading
            self.reading = Reading(r.value, r.taken, describe(exc), error_kind(exc), time.monotonic(),
                                   elapsed=time.monotonic() - start, history=self.history)
        else:
            return self.push(value, time.monotonic() - start)
        self.publish()
        return self.reading

    def push(self, value: T, elapsed: float = 0.0) -> Reading[T]:
        """A new value (from a poll, or from a stream as it arrives): sampled, kept, published."""
        if self.sampler is not None:
            gauges, counters = self.sampler(value)
            self.history.add(self.wallclock(), gauges, counters)
        self.reading = Reading(value, time.monotonic(), elapsed=elapsed, history=self.history)
        self.publish()
        return self.reading

    def fail(self, message: str, kind: str = "error", elapsed: float = 0.0) -> None:
        """Record an error that happened outside a poll (a deadline around it ran out)."""
        r = self.reading
        self.reading = Reading(r.value, r.taken, message, kind, time.monotonic(), elapsed=elapsed,
                               history=self.history)
        self.publish()

    def publish(self) -> None:
        for listener in list(self.listeners):
            listener(self)

    async def run(self) -> None:
        while True:
            self._wake.clear()  # before the poll: a refresh() asked during it is not lost
            await self.poll_once()
            try:
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def refresh(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"poll-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # gather: the task's own end (cancelled or failed) is swallowed, a cancel of the
            # caller is not.
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


async def gather(sources: Sequence[Source], timeout: float, nominal: float | None = None) -> None:
    """Poll every source once, each as soon as the sources it reads have answered, all under one
    deadline. A source that did not finish in time gets a timeout error as its reading, naming
    the `nominal` deadline (the user's -t) when the caller had less of it left."""
    tasks: dict[str, asyncio.Task[Reading]] = {}

    async def poll(source: Source) -> Reading:
        for dependency in source.after:
            if dependency.name in tasks:
                await asyncio.wait({tasks[dependency.name]})
        return await source.poll_once()

    for source in sources:  # in dependency order: a source's inputs come before it
        tasks[source.name] = asyncio.create_task(poll(source), name=f"gather-{source.name}")
    _, pending = await asyncio.wait(tasks.values(), timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for source in sources:
        if tasks[source.name] in pending:
            source.fail(f"timed out after {nominal or timeout:g}s", "timeout", timeout)
