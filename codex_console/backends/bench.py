"""The console's benchmark: texts/s per batch size against the running embed server."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

import httpx

from ..benchmark_spec import BATCH_SIZES, make_texts
from ..models import BenchPoint
from .embed import PROBE_TEXT, EmbedProbe

Progress = Callable[[int, int, BenchPoint], Awaitable[None] | None]


async def run_benchmark(probe: EmbedProbe, url: str, sizes: tuple[int, ...] = BATCH_SIZES,
                        rounds: int = 2, progress: Progress | None = None) -> list[BenchPoint]:
    """texts/s per batch size, through the same path (tunnel or login node) as the probe."""
    base = (await probe.reachable_url(url)).rstrip("/")
    points: list[BenchPoint] = []
    async with httpx.AsyncClient(timeout=300, headers=await probe.headers()) as client:
        (await client.post(base + "/embed", json={"texts": [PROBE_TEXT]})).raise_for_status()
        for i, size in enumerate(sizes):
            texts = make_texts(size, seed=size)
            start = time.perf_counter()
            for _ in range(rounds):
                r = await client.post(base + "/embed", json={"texts": texts})
                r.raise_for_status()
            seconds = time.perf_counter() - start
            point = BenchPoint(size, size * rounds / seconds, seconds)
            points.append(point)
            if progress is not None:
                result = progress(i + 1, len(sizes), point)
                if asyncio.iscoroutine(result):
                    await result
    return points
