"""The embed server's health: /ready, a one-text /embed round trip, /metrics, and /health (the
model and device) when the replica was not ready before.

The probe marks its requests (PROBE_HEADER): the server counts them apart, so the traffic the
console shows is the users' alone."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..models import EmbedHealth
from ..wire import PROBE_HEADER
from .runner import Runner, ServiceDown

PROBE_TEXT = "codex-console latency probe"
KeySource = Callable[[], Awaitable[str | None]]


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """Sum of a Prometheus metric's samples whose labels include `labels`."""
    total, seen = 0.0, False
    for m in re.finditer(rf"^{re.escape(name)}(?:{{([^}}]*)}})? ([0-9.eE+-]+|NaN)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()) and m.group(2) != "NaN":
            total += float(m.group(2))
            seen = True
    return total if seen else None


EMBED_ROUTES = ("/embed", "/v1/embeddings")


def status_total(text: str, first_digits: str = "") -> float:
    """Embedding requests on every embedding route (not health checks) whose HTTP status starts
    with `first_digits` ("" for all)."""
    total = 0.0
    for m in re.finditer(r"^codex_embed_requests_total\{([^}]*)\} ([0-9.eE+-]+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("route") in EMBED_ROUTES and labels.get("status", "").startswith(first_digits):
            total += float(m.group(2))
    return total


class EmbedProbe:
    """Probes one embed server through the login node; raises ServiceDown when it cannot."""

    def __init__(self, runner: Runner, timeout: float = 5.0, api_key: KeySource | None = None) -> None:
        self.runner = runner
        self.timeout = timeout
        self.api_key = api_key
        self._client = httpx.AsyncClient(timeout=timeout, headers={PROBE_HEADER: "1"})
        self._health: dict[str, dict] = {}  # url: its last /health, while it stays ready

    async def headers(self) -> dict[str, str]:
        key = await self.api_key() if self.api_key is not None else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def reachable_url(self, url: str) -> str:
        """The URL rewritten through the login node (a no-op when running on it)."""
        parts = urlsplit(url)
        host, port = await self.runner.forward(parts.hostname or "localhost", parts.port or 80)
        return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))

    async def probe(self, url: str) -> EmbedHealth:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._probe(url)
        except (httpx.HTTPError, OSError, ValueError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ServiceDown(reason) from None

    async def _probe(self, url: str) -> EmbedHealth:
        base = (await self.reachable_url(url)).rstrip("/")
        ready = (await self._client.get(base + "/ready")).status_code == 200
        # What /health says (model, device) stays while the replica stays ready: asked again only
        # after it was not (a restart loads the model anew).
        health = self._health.get(url) if ready else None
        if health is None:
            self._health.pop(url, None)
            health = (await self._client.get(base + "/health")).json()
        latency = dimension = None
        if ready:
            start = time.perf_counter()
            r = await self._client.post(base + "/embed", json={"texts": [PROBE_TEXT]},
                                        headers=await self.headers())
            if r.status_code == 401:
                raise ValueError("the server wants an API key: set services.api_key_file")
            r.raise_for_status()
            latency = (time.perf_counter() - start) * 1000
            dimension = r.json().get("dimension")
            self._health[url] = health
        metrics = (await self._client.get(base + "/metrics")).text
        return EmbedHealth(
            url=url, ready=ready, latency_ms=latency, detail="" if ready else str(health.get("status")),
            model=health.get("model") or "", device=health.get("device") or "", dimension=dimension,
            queue_depth=metric_value(metrics, "codex_embed_queue_depth"),
            requests=status_total(metrics),
            texts=metric_value(metrics, "codex_embed_texts_total"),
            errors=status_total(metrics, "5"), rejected=status_total(metrics, "429"))

    async def close(self) -> None:
        await self._client.aclose()
