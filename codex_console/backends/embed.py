"""Embed server probe: /health + /ready + a one-text /embed round trip, metrics, and a benchmark."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import deque
from typing import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..models import BenchPoint, EmbedHealth
from .runner import Runner

PROBE_TEXT = "codex-console latency probe"
BENCH_SIZES = (1, 10, 50, 100, 200, 500)
BENCH_WORDS = ("plasma equilibrium magnetic coil current profile diagnostic signal graph node "
               "embedding vector query cluster job model token batch latency data index").split()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class LatencyHistory:
    """A bounded window of latencies (ms) with p50/p95."""

    def __init__(self, size: int = 120) -> None:
        self.values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def p50(self) -> float | None:
        return percentile(list(self.values), 50)

    @property
    def p95(self) -> float | None:
        return percentile(list(self.values), 95)


def metric_value(text: str, name: str) -> float | None:
    """Sum of a Prometheus metric's samples (all label sets)."""
    total, seen = 0.0, False
    for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", text, re.M):
        total += float(m.group(1))
        seen = True
    return total if seen else None


class EmbedProbe:
    def __init__(self, runner: Runner, timeout: float = 5.0, history: int = 120,
                 api_key: str | None = None) -> None:
        self.runner = runner
        self.timeout = timeout
        self.history = LatencyHistory(history)
        self.api_key = api_key if api_key is not None else os.environ.get("CODEX_EMBED_API_KEY")
        self._client = httpx.AsyncClient(timeout=timeout, headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def reachable_url(self, url: str) -> str:
        """The URL rewritten through the login node (a no-op when running on it)."""
        parts = urlsplit(url)
        host, port = await self.runner.forward(parts.hostname or "localhost", parts.port or 80)
        return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))

    async def probe(self, url: str) -> EmbedHealth:
        try:
            async with asyncio.timeout(self.timeout):
                base = (await self.reachable_url(url)).rstrip("/")
                health = (await self._client.get(base + "/health")).json()
                ready = (await self._client.get(base + "/ready")).status_code == 200
                latency = dimension = None
                if ready:
                    start = time.perf_counter()
                    r = await self._client.post(base + "/embed", json={"texts": [PROBE_TEXT]})
                    r.raise_for_status()
                    latency = (time.perf_counter() - start) * 1000
                    dimension = r.json().get("dimension")
                    self.history.add(latency)
                metrics = (await self._client.get(base + "/metrics")).text
        except (httpx.HTTPError, OSError, ValueError, TimeoutError) as exc:
            return EmbedHealth(url=url, ready=False, latency_ms=None,
                               error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return EmbedHealth(url=url, ready=ready, latency_ms=latency, model=health.get("model") or "",
                           device=health.get("device") or "", dimension=dimension,
                           queue_depth=metric_value(metrics, "codex_embed_queue_depth"),
                           requests=metric_value(metrics, "codex_embed_requests_total"),
                           error="" if ready else f"not ready ({health.get('status')})")

    async def benchmark(self, url: str, sizes: tuple[int, ...] = BENCH_SIZES, rounds: int = 2,
                        progress: Callable[[int, int, BenchPoint], Awaitable[None] | None] | None = None
                        ) -> list[BenchPoint]:
        """texts/s per batch size, through the same path as the probe."""
        base = (await self.reachable_url(url)).rstrip("/")
        points = []
        async with httpx.AsyncClient(timeout=300, headers=self._headers()) as client:
            await client.post(base + "/embed", json={"texts": [PROBE_TEXT]})
            for i, size in enumerate(sizes):
                texts = [" ".join(BENCH_WORDS[(j + k) % len(BENCH_WORDS)] for k in range(8 + j % 30))
                         for j in range(size)]
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

    async def close(self) -> None:
        await self._client.aclose()
