"""The embedding service: model + batcher + metrics, and the one `embed` call the routes share."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from .batcher import Batcher
from .metrics import Metrics
from .model import EmbeddingModel, matryoshka
from .pooling import query_prompt
from .settings import Settings

log = logging.getLogger(__name__)


class BadInput(ValueError):
    """A request the server understood but cannot serve; becomes a 4xx (default 422)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class EmbedResult:
    vectors: torch.Tensor
    dimension: int
    tokens: int
    truncated: int


class EmbedService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.model: EmbeddingModel | None = None
        self.batcher: Batcher | None = None
        self.started = time.time()
        self.hostname = socket.gethostname()
        self.load_error = ""
        self.shutting_down = False
        self.max_batch_tokens = 0  # set from the device at load
        self.max_batch_size = 0

    @property
    def ready(self) -> bool:
        return self.model is not None and self.batcher is not None and not self.shutting_down

    async def load(self) -> None:
        """Load and warm the model in a thread, so /health answers while it loads."""
        s = self.settings
        started = time.monotonic()
        # Every torch call runs on this one thread: a second thread would get its own OpenMP
        # team, whose idle workers spin against the first on a small machine.
        torch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="torch")
        loop = asyncio.get_running_loop()
        try:
            model = await loop.run_in_executor(
                torch_thread, EmbeddingModel, s.model, s.device, s.max_length, s.dtype)
            await loop.run_in_executor(torch_thread, model.warm_up)
        except Exception as exc:  # noqa: BLE001 - reported on /health and in the log
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("model load failed: %s", self.load_error)
            raise
        if s.dimension is not None and not 0 < s.dimension <= model.native_dimension:
            self.load_error = f"--dimension {s.dimension} is not in 1..{model.native_dimension}"
            raise ValueError(self.load_error)
        if s.served_name:
            model.name = s.served_name
        seconds = time.monotonic() - started
        self.metrics.load_seconds.set(seconds)
        log.info("model %s loaded on %s (%s, %s pooling, %d dims, max %d tokens) in %.1fs",
                 model.name, model.device, str(model.dtype).removeprefix("torch."),
                 model.layout.pooling, model.native_dimension, model.max_length, seconds)
        # On CPU, small length-sorted batches are fastest (measured: 32 texts ~1.8x one batch
        # of 100); a GPU wants big ones.
        gpu = model.device.type == "cuda"
        self.max_batch_tokens = s.max_batch_tokens or (16384 if gpu else 1024)
        self.max_batch_size = s.max_batch_size or (256 if gpu else 32)
        batcher = Batcher(self._forward(model), max_batch_tokens=self.max_batch_tokens,
                          max_batch_size=self.max_batch_size, max_queue=s.max_queue,
                          observe=self.metrics.observe, executor=torch_thread)
        batcher.start()
        self.model, self.batcher = model, batcher
        self.metrics.ready.set(1)

    def _forward(self, model: EmbeddingModel):
        def run(batch):
            before = model.oom_retries
            out = model.forward_safe(batch)
            if model.oom_retries > before:
                self.metrics.oom_retries.inc(model.oom_retries - before)
            return out
        return run

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

    async def embed(self, texts: list[str], *, dimension: int | None, prompt_name: str | None,
                    normalize: bool = True) -> EmbedResult:
        assert self.model is not None and self.batcher is not None
        if len(texts) > self.settings.max_texts:
            raise BadInput(f"too many texts: {len(texts)} > {self.settings.max_texts} per request", 413)
        dim = self.check_dimension(dimension)
        prefix = self.prompt(prompt_name)
        inputs = [prefix + t for t in texts]
        # Tokenizing a big request off the event loop keeps small requests flowing meanwhile.
        encoded = (self.model.encode(inputs) if len(inputs) <= 16
                   else await asyncio.to_thread(self.model.encode, inputs))
        truncated = sum(e.truncated for e in encoded)
        if truncated:
            self.metrics.truncated.inc(truncated)
        vectors = await self.batcher.submit([e.ids for e in encoded], self.settings.request_timeout)
        self.metrics.texts.inc(len(texts))
        stacked = matryoshka(torch.stack(vectors), dim, normalize)
        return EmbedResult(stacked, dim, sum(len(e.ids) for e in encoded), truncated)

    async def close(self) -> None:
        self.shutting_down = True
        if self.batcher is not None:
            await self.batcher.drain(self.settings.shutdown_timeout)
