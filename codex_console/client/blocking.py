"""The blocking client: the async one, run on an event loop in a thread of its own.

A thread of its own, not `asyncio.run` per call: the client keeps its connections and what it
knows about the replicas between calls, and it works where a loop already runs (Jupyter).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, Coroutine, Iterable, Mapping, TypeVar

from ..config import Config
from .discovery import Locator
from .embed import AsyncEmbedClient, ClientOptions, Embeddings
from .errors import ClientError

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread; `run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="codex-client", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:  # Ctrl-C while waiting: stop the call too
            future.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


class EmbedClient:
    """`embed(texts)` for code that does not use asyncio; the same rules as AsyncEmbedClient.
    Safe to share between threads. Use as `with`, or call `close()`."""

    def __init__(self, client: AsyncEmbedClient) -> None:
        self.aio = client
        self._loop = LoopThread()
        self._closed = False

    @classmethod
    def from_environment(cls, cfg: Config | None = None, *, environ: Mapping[str, str] | None = None,
                         service: str = "embed", **options: Any) -> EmbedClient:
        """See AsyncEmbedClient.from_environment."""
        return cls(AsyncEmbedClient(Locator(cfg, environ, service), ClientOptions(**options)))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise ClientError("this client is closed: make a new one")
        return self._loop.run(coro)

    def embed(self, texts: Iterable[str], *, dimension: int | None = None, query: bool = False,
              deadline: float | None = None, as_numpy: bool | None = None) -> Any:
        """One vector per text, in order (see AsyncEmbedClient.embed)."""
        return self._run(self.aio.embed(list(texts) if not isinstance(texts, str) else texts,
                                        dimension=dimension, query=query, deadline=deadline, as_numpy=as_numpy))

    def embed_detailed(self, texts: Iterable[str], **kwargs: Any) -> Embeddings:
        return self._run(self.aio.embed_detailed(list(texts) if not isinstance(texts, str) else texts, **kwargs))

    def close(self) -> None:
        """Close the connections and stop the loop thread; closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run(self.aio.aclose())
        finally:
            self._loop.stop()

    def __enter__(self) -> EmbedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
