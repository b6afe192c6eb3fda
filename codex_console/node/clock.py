"""Time for the supervisor: injected, so that a test runs a week of decisions in milliseconds."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


async def within(clock: Clock, awaitable: Awaitable[T], seconds: float) -> tuple[bool, T | None]:
    """(True, result) if `awaitable` finished within `seconds` of `clock`, else (False, None) and it
    is cancelled. A cancel of the caller cancels both."""
    task = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, timer, return_exceptions=True)
    if task.done() and not task.cancelled():
        return True, task.result()  # its exception, if it raised one
    return False, None
