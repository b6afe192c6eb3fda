"""The embedding service: model + batcher + metrics, and the one `embed` call the routes share."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Callable, Sequence

import torch

from .batcher import Batcher, Embedded
from .batching import BatchLimits
from .errors import BadInput, NotReady, PayloadTooLarge, ServerError
from .metrics import Metrics
from .model import EmbeddingModel
from .pooling import query_prompt
from .settings import Settings
from .torch_thread import TorchThread

log = logging.getLogger(__name__)


class EmbedService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.model: EmbeddingModel | None = None
        self.batcher: Batcher | None = None
        self.started = time.time()
        self.hostname = socket.gethostname()
        self.load_error = ""
        self.broken = ""
        self.shutting_down = False
        self.on_fatal: Callable[[], None] | None = None  # set by whoever runs the server
        self.limits = BatchLimits(max_batch_tokens=0, max_batch_size=0, packed=False)

    @property
    def ready(self) -> bool:
        return self.batcher is not None and not (self.shutting_down or self.broken)

    @property
    def not_ready_reason(self) -> str:
        if self.shutting_down:
            return "shutting down"
        return self.broken or self.load_error or "model is still loading"

    async def load(self) -> None:
        """Load and warm the model on the torch thread, so /health answers while it loads."""
        s = self.settings
        started = time.monotonic()
        # Every torch call runs on this one thread (load, warm-up, then the batcher's worker):
        # a second thread would get its own OpenMP team competing with the first.
        torch_thread = TorchThread()
        loop = asyncio.get_running_loop()
        try:
            model = await loop.run_in_executor(torch_thread, lambda: EmbeddingModel(
                s.model, s.device, s.max_length, s.dtype, threads=s.threads, packing=s.packing))
            await loop.run_in_executor(torch_thread, model.warm_up)
            if s.dimension is not None and not 0 < s.dimension <= model.native_dimension:
                raise ValueError(f"--dimension {s.dimension} is not in 1..{model.native_dimension}")
        except Exception as exc:  # noqa: BLE001 - reported on /health and in the log
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("model load failed: %s", self.load_error)
            torch_thread.shutdown(wait=False)
            raise
        if s.served_name:
            model.name = s.served_name
        seconds = time.monotonic() - started
        self.metrics.load_seconds.set(seconds)
        log.info("model %s loaded on %s (%s, %s attention, %s pooling, %d dims, max %d tokens, "
                 "%d threads, packing %s) in %.1fs", model.name, model.device,
                 str(model.dtype).removeprefix("torch."), model.attention, model.layout.pooling,
                 model.native_dimension, model.max_length, model.threads,
                 "on" if model.packing else "off", seconds)
        gpu = model.device.type == "cuda"
        self.limits = BatchLimits(max_batch_tokens=s.max_batch_tokens or (16384 if gpu else 2048),
                                  max_batch_size=s.max_batch_size or (256 if gpu else 64),
                                  packed=model.packing)
        batcher = Batcher(model.encoder, self._forward(model), self.limits, max_queue=s.max_queue,
                          max_failures=s.max_failed_batches, observe=self.metrics.observe,
                          on_broken=self._broken, executor=torch_thread)
        batcher.start()
        self.model, self.batcher = model, batcher
        self.metrics.ready.set(1)

    def _forward(self, model: EmbeddingModel) -> Callable[[Sequence[list[int]]],
                                                          list[torch.Tensor | ServerError]]:
        def run(batch: Sequence[list[int]]) -> list[torch.Tensor | ServerError]:
            before = model.oom_retries
            out = model.forward_safe(batch)
            if model.oom_retries > before:
                self.metrics.oom_retries.inc(model.oom_retries - before)
            return out
        return run

    def _broken(self, reason: str) -> None:
        self.broken = reason
        self.metrics.ready.set(0)
        log.error("this replica is broken (%s); exiting so that its supervisor restarts it", reason)
        if self.on_fatal is not None:
            self.on_fatal()

    @property
    def default_dimension(self) -> int:
        assert self.model is not None
        return self.settings.dimension or self.model.native_dimension

    def prompt(self, name: str | None) -> str:
        assert self.model is not None
        if name in (None, "", "document", "passage"):
            return ""
        if name == "query" and self.settings.query_task:
            return query_prompt(self.settings.query_task)
        prompts = self.model.layout.prompts
        if name not in prompts:
            raise BadInput(f"unknown prompt_name {name!r}; known: {', '.join(sorted(prompts))}, document")
        return prompts[name]

    def check_dimension(self, dimension: int | None) -> int:
        assert self.model is not None
        if dimension is None:
            return self.default_dimension
        if not 0 < dimension <= self.model.native_dimension:
            raise BadInput(f"dimension must be between 1 and {self.model.native_dimension}, "
                           f"got {dimension}")
        return dimension

    def check_count(self, count: int) -> None:
        if count > self.settings.max_texts:
            raise PayloadTooLarge(f"too many texts: {count} > {self.settings.max_texts} per request")

    async def embed(self, texts: list[str], *, dimension: int | None, prompt_name: str | None,
                    normalize: bool = True, truncate: bool = True, probe: bool = False) -> Embedded:
        if not self.ready or self.model is None or self.batcher is None:
            raise NotReady(self.not_ready_reason)
        self.check_count(len(texts))
        dim = self.check_dimension(dimension)
        prefix = self.prompt(prompt_name)
        result = await self.batcher.submit([prefix + t for t in texts] if prefix else texts,
                                           dimension=dim, normalize=normalize, truncate=truncate,
                                           timeout=self.settings.request_timeout)
        if not probe:
            self.metrics.texts.inc(len(texts))
        if result.truncated:
            self.metrics.truncated.inc(result.truncated)
        return result

    async def close(self) -> None:
        self.shutting_down = True
        if self.batcher is not None:
            await self.batcher.drain(self.settings.shutdown_timeout)
