"""The async embed client tools use: found from the environment, one vector per text, in order."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import httpx

from ..backends.endpoints import EMBED_ENV
from ..config import Config
from ..models import Endpoints
from .call import Call, CallStats, Progress
from .discovery import Found, Locator
from .errors import ClientError
from .replicas import ReplicaSet


@dataclass(frozen=True)
class ClientOptions:
    batch_size: int = 64  # texts per request
    concurrency: int = 4  # requests in flight at once, spread over the replicas
    deadline: float = 300.0  # seconds one call may take in all, waiting out a requeue included
    request_timeout: float = 120.0  # seconds for one request
    max_attempts: int = 8  # requests per batch the servers may answer "try again" (429, 5xx)
    take_out: float = 5.0  # seconds a failing replica rests; doubles per failure in a row, to 60
    reread: float = 2.0  # seconds between looks at the endpoints while no replica is usable

    def __post_init__(self) -> None:
        for name in ("batch_size", "concurrency", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("deadline", "request_timeout", "take_out", "reread"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0 seconds")


@dataclass(frozen=True)
class Embeddings:
    """A call's vectors (a numpy array or lists) and how they were made."""

    vectors: Any
    model: str
    dimension: int
    elapsed: float
    stats: CallStats


def checked(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts, not one string: embed([text])")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is a {type(text).__name__}, not a str")
        if not text.strip():
            raise ValueError(f"text {i} is empty or blank: the server refuses those")
    return out


def as_array(vectors: list[list[float]], dimension: int, want: bool | None) -> Any:
    """numpy float32 rows when numpy is installed (or asked for), else the lists as they came."""
    if want is False:
        return vectors
    try:
        import numpy
    except ImportError:
        if want:
            raise
        return vectors
    return numpy.asarray(vectors, dtype=numpy.float32).reshape(len(vectors), dimension)


class AsyncEmbedClient:
    """`embed(texts)` against the services the environment names; see ClientOptions for the
    knobs. Use as `async with`, or call `aclose()`."""

    def __init__(self, locator: Locator, options: ClientOptions | None = None) -> None:
        self.locator = locator
        self.options = options or ClientOptions()
        self.replicas = ReplicaSet(self.options.take_out)
        self.found = Found(Endpoints())
        self._read_at = -math.inf
        self._http: httpx.AsyncClient | None = None
        self._lock: asyncio.Lock | None = None

    @classmethod
    def from_environment(cls, cfg: Config | None = None, *, environ: Mapping[str, str] | None = None,
                         service: str = "embed", **options: Any) -> AsyncEmbedClient:
        """Discovery as documented in `codex_console.client.discovery`; `cfg` defaults to the
        console's config file; `service` is an embed service of the catalogue (`embed-8b`);
        `options` are ClientOptions fields."""
        return cls(Locator(cfg, environ, service), ClientOptions(**options))

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            # trust_env=False: a cluster's http_proxy must not carry requests to its own nodes.
            self._http = httpx.AsyncClient(trust_env=False, limits=httpx.Limits(
                max_connections=4 * self.options.concurrency, max_keepalive_connections=4 * self.options.concurrency))
        return self._http

    async def refresh(self, min_age: float = 0.0) -> Found:
        """Look for the services again, unless the last look is younger than `min_age` s."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._read_at >= min_age:
                found = await self.locator.find()
                bad = [u for u in found.endpoints.embed_urls if not u.lower().startswith(("http://", "https://"))]
                if bad:  # here, not in discovery: a Neo4j user need not care about the embed URL
                    raise ClientError(f"not an http(s) URL: {', '.join(bad)} (from "
                                      f"{found.endpoints.source or '$' + EMBED_ENV}); write it as http://host:port")
                self.found = found
                self._read_at = time.monotonic()
                self.replicas.update(self.found.endpoints.embed_urls, self.found.generation)
        return self.found

    async def embed(self, texts: Iterable[str], *, dimension: int | None = None, query: bool = False,
                    deadline: float | None = None, as_numpy: bool | None = None) -> Any:
        """One vector per text, in order: a numpy array (n x dimension, float32) when numpy is
        installed, else lists. `query=True` embeds search queries (the model's query prompt);
        `deadline` (s) overrides ClientOptions.deadline for this call."""
        result = await self.embed_detailed(texts, dimension=dimension, query=query, deadline=deadline,
                                           as_numpy=as_numpy)
        return result.vectors

    async def embed_detailed(self, texts: Iterable[str], *, dimension: int | None = None, query: bool = False,
                             deadline: float | None = None, as_numpy: bool | None = None,
                             on_progress: Progress | None = None) -> Embeddings:
        """`embed`, with the model, the dimension and what the call took."""
        items = checked(texts)
        body: dict[str, Any] = {}
        if dimension is not None:
            body["dimension"] = int(dimension)
        if query:
            body["prompt_name"] = "query"
        started = time.monotonic()
        if deadline is not None and not deadline > 0:
            raise ValueError(f"deadline must be more than 0 seconds, not {deadline}")
        call = Call(self, items, body, deadline or self.options.deadline, on_progress)
        vectors = await call.run() if items else []
        dim = call.dimension or int(dimension or 0)
        return Embeddings(as_array(vectors, dim, as_numpy), call.model, dim, time.monotonic() - started, call.stats)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self.locator.close()

    async def __aenter__(self) -> AsyncEmbedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
