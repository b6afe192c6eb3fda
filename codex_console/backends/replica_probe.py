"""A service's replicas probed together: every URL at once, each under its own deadline, one
answer per URL (its health, or why it did not answer). Any probe of one URL fits: the embed
server's HTTP probe today, a model server's health path tomorrow."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Sequence

from ..models import ReplicaHealth, ServiceHealth, ServiceReading
from .runner import RemoteError, ServiceDown

Probe = Callable[[str], Awaitable[ServiceHealth]]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer in time"
    return str(exc) or type(exc).__name__


async def probe_replicas(urls: Sequence[str], probe: Probe, timeout: float) -> ServiceReading:
    """One ReplicaHealth per URL, in the order given; a slow or dead replica costs the others
    nothing (each has `timeout` seconds of its own, all run at once)."""
    async def one(url: str) -> ReplicaHealth:
        try:
            async with asyncio.timeout(timeout):
                return ReplicaHealth(url=url, health=await probe(url))
        except (RemoteError, TimeoutError, OSError) as exc:
            return ReplicaHealth(url=url, error=_reason(exc))

    return ServiceReading(replicas=tuple(await asyncio.gather(*(one(url) for url in urls))))


def answered(reading: ServiceReading) -> ServiceReading:
    """The reading, if any replica answered; else ServiceDown saying why each did not (the source
    then keeps its last value and shows as stale)."""
    if reading.replicas and all(r.health is None for r in reading.replicas):
        raise ServiceDown("; ".join(f"{r.url}: {r.error}" for r in reading.replicas))
    return reading
