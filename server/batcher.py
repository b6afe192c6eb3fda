"""Dynamic batching: queue the texts of concurrent requests, tokenize and run them on one thread.

The event loop only queues a request and awaits its future. One worker thread, the only one
that touches torch, tokenizes what arrived (once per text, one call for all of it), takes a
batch, runs the forward, finishes the requests it completed (stack, Matryoshka slice,
normalize, numpy) and hands them back to the loop in one callback. Texts whose request was
abandoned (client gone, deadline passed) are dropped before they are computed. A batch that
fails counts towards `max_failures` in a row, after which the batcher reports itself broken.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from typing import Callable, Protocol, Sequence

import torch

from .batching import BatchLimits, BatchStats, Embedded, Item, PendingRequest, take_batch
from .encoder import Encoded
from .errors import DeadlinePassed, ForwardFailed, NotReady, Overloaded, PayloadTooLarge, ServerError
from .model import matryoshka
from .torch_thread import TorchThread

log = logging.getLogger(__name__)


class Encoder(Protocol):
    max_length: int

    def encode(self, texts: Sequence[str]) -> list[Encoded]: ...

Forward = Callable[[Sequence[list[int]]], Sequence["torch.Tensor | ServerError"]]
Observer = Callable[[str, float], None]


Outcome = tuple[PendingRequest, "Embedded | ServerError"]


class Batcher:
    def __init__(self, encoder: Encoder, forward: Forward, limits: BatchLimits, *, max_queue: int = 8192,
                 max_wait: float = 0.004, max_failures: int = 5, observe: Observer | None = None,
                 on_broken: Callable[[str], None] | None = None,
                 executor: TorchThread | None = None) -> None:
        self.encoder = encoder
        self.forward = forward
        self.limits = limits
        self.max_queue = max_queue
        self.max_wait = max_wait
        self.max_failures = max_failures
        self.observe = observe or (lambda name, value: None)
        self.on_broken = on_broken or (lambda reason: None)
        self.stats = BatchStats()
        self.failures = 0  # batches failed in a row
        self.broken = ""
        self._cond = threading.Condition()
        self._inbox: list[PendingRequest] = []  # arrived, not yet tokenized
        self._waiting: deque[Item] = deque()  # tokenized, not yet in a batch (worker only)
        self._depth = 0  # texts in both, under _cond
        self._expect = 0  # texts worth a short wait for (see _gather)
        self._closing = False
        self._executor = executor or TorchThread()
        self._worker: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def depth(self) -> int:
        return self._depth

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._worker = asyncio.wrap_future(self._executor.submit(self._work))

    async def submit(self, texts: list[str], *, dimension: int, normalize: bool = True,
                     truncate: bool = True, timeout: float = 120.0) -> Embedded:
        """Vectors for `texts`, in order; raises a ServerError subclass when it cannot."""
        if self._closing:
            raise NotReady("the server is shutting down")
        if self.broken:
            raise NotReady(self.broken)
        assert self._loop is not None, "start() first"
        request = PendingRequest(texts, dimension, normalize, truncate, time.monotonic() + timeout,
                                 self._loop.create_future())
        with self._cond:
            if self._depth + len(texts) > self.max_queue:
                raise Overloaded(f"queue full ({self._depth} texts waiting); retry shortly")
            self._depth += len(texts)
            self._inbox.append(request)
            self._cond.notify()
        self.observe("queue_depth", self._depth)
        try:
            async with asyncio.timeout(timeout):
                return await request.future
        except TimeoutError:
            raise DeadlinePassed("request deadline passed before it could be computed") from None
        finally:
            request.abandoned = True  # a no-op once settled; else its texts are never computed

    async def drain(self, timeout: float = 30.0) -> None:
        """Refuse new work, finish what is queued, stop the worker."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._worker is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self._worker)
            except TimeoutError:
                log.warning("queue not drained in %.0f s", timeout)
        self._executor.shutdown(wait=False)

    # -- the worker thread ------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._inbox and not self._waiting:
                    if self._closing:
                        return
                    self._cond.wait()
                self._gather()
                arrived, self._inbox = self._inbox, []
            outcomes = self._tokenize(arrived) if arrived else []
            batch = take_batch(self._waiting, self.limits, self._dead)
            if batch:
                with self._cond:
                    self._depth -= len(batch)
                outcomes += self._run(batch)
            if outcomes:
                self._settle(outcomes)

    def _gather(self) -> None:
        """Under load, wait a few ms for the clients that the last batch just answered: they are
        sending their next texts this very moment, and starting at once would run a sliver of
        a batch. A lone client (the last batch answered one request) and an idle queue never
        wait."""
        deadline = time.monotonic() + self.max_wait
        want = min(self._expect, self.limits.max_batch_size)
        while self._depth < want and not self._closing and (left := deadline - time.monotonic()) > 0:
            self._cond.wait(left)

    def _tokenize(self, arrived: list[PendingRequest]) -> list[Outcome]:
        live = [r for r in arrived if not r.abandoned]
        for r in arrived:
            if r.abandoned:
                self._dropped(len(r.texts))
        encoded = self.encoder.encode([t for r in live for t in r.texts]) if live else []
        outcomes: list[Outcome] = []
        at = 0
        for r in live:
            r.encoded, at = encoded[at:at + len(r.texts)], at + len(r.texts)
            r.rows, r.remaining = [None] * len(r.texts), len(r.texts)
            too_long = [i for i, e in enumerate(r.encoded) if e.truncated]
            if too_long and not r.truncate:
                with self._cond:
                    self._depth -= len(r.texts)
                outcomes.append((r, PayloadTooLarge(
                    f"text {too_long[0]} is longer than the model's limit of {self.encoder.max_length} "
                    "tokens, and truncate is false")))
                r.settled = True
                continue
            self._waiting.extend(Item(r, i) for i in range(len(r.texts)))
        return outcomes

    def _dead(self, item: Item, now: float) -> bool:
        """Whether a queued text is no longer wanted (it is then dropped, not computed)."""
        request = item.request
        if request.settled:
            with self._cond:
                self._depth -= 1
            return True
        if request.abandoned or request.deadline < now:
            self._dropped(1)
            return True
        return False

    def _dropped(self, texts: int) -> None:
        with self._cond:
            self._depth -= texts
        self.stats.dropped += texts
        self.observe("dropped", texts)

    def _run(self, batch: list[Item]) -> list[Outcome]:
        started = time.monotonic()
        for item in batch:
            self.observe("queue_seconds", started - item.request.enqueued)
        try:
            vectors = self.forward([item.ids for item in batch])
        except Exception as exc:  # noqa: BLE001 - a failed forward fails its requests only
            return self._failed(batch, exc)
        finally:
            self._record(batch, time.monotonic() - started)
        self.failures = 0
        outcomes: list[Outcome] = []
        for item, vector in zip(batch, vectors):
            request = item.request
            if request.settled:
                continue
            if isinstance(vector, ServerError):
                request.settled = True
                outcomes.append((request, vector))
                continue
            request.rows[item.index] = vector
            request.remaining -= 1
            if request.remaining == 0:
                request.settled = True
                outcomes.append((request, self._finish(request)))
        self._expect = len(batch) if len(outcomes) > 1 else 0
        return outcomes

    def _failed(self, batch: list[Item], exc: Exception) -> list[Outcome]:
        self.failures += 1
        self.stats.failed += 1
        self.observe("failed", 1)
        log.error("forward failed for a batch of %d (%d in a row): %s: %s", len(batch), self.failures,
                  type(exc).__name__, exc, exc_info=self.failures == 1)
        error = ForwardFailed(f"the model failed on this batch: {type(exc).__name__}: {exc}")
        if self.failures >= self.max_failures and not self.broken:
            self.broken = (f"{self.failures} batches failed in a row, the last with "
                           f"{type(exc).__name__}: {exc}")
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self.on_broken, self.broken)
        outcomes: list[Outcome] = []
        for request in {id(item.request): item.request for item in batch}.values():
            if not request.settled:
                request.settled = True
                outcomes.append((request, error))
        return outcomes

    @staticmethod
    def _finish(request: PendingRequest) -> Embedded:
        rows = request.rows
        stacked = rows[0][None] if len(rows) == 1 else torch.stack(rows)  # type: ignore[arg-type,index]
        stacked = matryoshka(stacked, request.dimension, request.normalize)
        return Embedded(vectors=stacked.numpy(), tokens=sum(len(e.ids) for e in request.encoded),
                        truncated=sum(e.truncated for e in request.encoded))

    def _record(self, batch: list[Item], seconds: float) -> None:
        tokens = sum(item.length for item in batch)
        self.stats.batches += 1
        self.stats.texts += len(batch)
        self.stats.tokens += tokens
        self.stats.padded_tokens += self.limits.padded_tokens([item.length for item in batch])
        self.observe("inference_seconds", seconds)
        self.observe("batch_size", len(batch))
        self.observe("batch_tokens", tokens)
        self.observe("queue_depth", self._depth)

    def _settle(self, outcomes: list[Outcome]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle_futures, outcomes)


def _settle_futures(outcomes: list[Outcome]) -> None:
    """On the loop: hand each finished request its vectors or its error."""
    for request, outcome in outcomes:
        if request.future.done():
            continue
        if isinstance(outcome, Exception):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)
