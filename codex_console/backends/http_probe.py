"""Any HTTP model server of the catalogue (vLLM, TEI, a vision server): its health path, timed,
through the login node; 200 is ready. Raises ServiceDown when it cannot be asked."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..models import ServiceHealth
from .runner import Runner, ServiceDown


class HttpProbe:
    def __init__(self, runner: Runner, timeout: float = 5.0) -> None:
        self.runner = runner
        self.timeout = timeout
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)

    async def probe(self, url: str, path: str = "/health") -> ServiceHealth:
        parts = urlsplit(url)
        try:
            async with asyncio.timeout(self.timeout):
                host, port = await self.runner.forward(parts.hostname or "localhost", parts.port or 80)
                base = urlunsplit((parts.scheme or "http", f"{host}:{port}", "", "", ""))
                start = time.perf_counter()
                answer = await self._client.get(base + path)
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            raise ServiceDown(f"{url}: {type(exc).__name__}" + (f": {exc}" if str(exc) else "")) from None
        latency = (time.perf_counter() - start) * 1000
        ready = answer.status_code == 200
        return ServiceHealth(url=url, ready=ready, latency_ms=latency if ready else None,
                             detail="" if ready else f"{path} answered {answer.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
