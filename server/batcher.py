"""Dynamic batching: queue texts from concurrent requests, run one forward at a time.

Each request's texts become queue items. The worker takes the oldest item's window of the
queue, sorts it by length (less padding), and fills a batch up to `max_batch_tokens` padded
tokens. Items whose request was abandoned (client gone, deadline passed) are dropped before
they are computed. The forward runs in one worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .model import TextTooLarge

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    pass


class ShuttingDown(RuntimeError):
    pass


@dataclass(eq=False)
class PendingRequest:
    """One request's texts on their way through the queue."""

    ids: list[list[int]]
    deadline: float
    enqueued: float = field(default_factory=time.monotonic)
    results: list[torch.Tensor | TextTooLarge | None] = field(default_factory=list)
    remaining: int = 0
    abandoned: bool = False
    future: asyncio.Future[list[torch.Tensor]] | None = None

    def __post_init__(self) -> None:
        self.results = [None] * len(self.ids)
        self.remaining = len(self.ids)


@dataclass(eq=False)
class Item:
    request: PendingRequest
    index: int

    @property
    def length(self) -> int:
        return len(self.request.ids[self.index])


@dataclass
class BatchStats:
    batches: int = 0
    texts: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    dropped: int = 0


Observer = Callable[[str, float], None]


class Batcher:
    def __init__(self, forward: Callable[[Sequence[list[int]]], list[torch.Tensor | TextTooLarge]],
                 *, max_batch_tokens: int = 16384, max_batch_size: int = 256,
                 max_queue: int = 8192, window: int = 1024, max_wait: float = 0.004,
                 observe: Observer | None = None, executor: ThreadPoolExecutor | None = None) -> None:
        self.forward = forward
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.window = window
        self.max_wait = max_wait
        self._last_batch = 1
        self.observe = observe or (lambda name, value: None)
        self.stats = BatchStats()
        self._queue: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward")
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def depth(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def submit(self, ids: list[list[int]], timeout: float) -> list[torch.Tensor]:
        """Vectors for `ids`, in order. Raises QueueFull, ShuttingDown, TimeoutError, TextTooLarge."""
        if self._closing:
            raise ShuttingDown("the server is shutting down")
        if len(self._queue) + len(ids) > self.max_queue:
            raise QueueFull(f"queue full ({len(self._queue)} texts waiting)")
        request = PendingRequest(ids, deadline=time.monotonic() + timeout)
        request.future = asyncio.get_running_loop().create_future()
        self._queue.extend(Item(request, i) for i in range(len(ids)))
        self.observe("queue_depth", len(self._queue))
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                return await request.future
        finally:
            if not request.future.done() or request.future.cancelled():
                request.abandoned = True  # cancelled by a disconnect, or timed out

    def _take_batch(self) -> list[Item]:
        """Up to max_batch_size texts whose padded size fits max_batch_tokens."""
        now = time.monotonic()
        window = [self._queue.popleft() for _ in range(min(self.window, len(self._queue)))]
        live = []
        for item in window:
            if item.request.abandoned or item.request.deadline < now:
                self._drop(item)
            else:
                live.append(item)
        if not live:
            return []
        # Sorted by length, the batch is the run of neighbours around the oldest item that fits
        # the budget: similar lengths (little padding), and the oldest text always goes now.
        ordered = sorted(live, key=lambda it: it.length)
        lo = hi = next(i for i, it in enumerate(ordered) if it is live[0])
        while True:
            grew = False
            for cand in (hi + 1, lo - 1):
                if 0 <= cand < len(ordered) and hi - lo + 1 < self.max_batch_size:
                    width = ordered[max(hi, cand)].length
                    if width * (hi - lo + 2) <= self.max_batch_tokens:
                        lo, hi, grew = min(lo, cand), max(hi, cand), True
            if not grew:
                break
        batch = ordered[lo:hi + 1]
        leftover = ordered[:lo] + ordered[hi + 1:]
        self._queue.extendleft(reversed(sorted(leftover, key=lambda it: it.request.enqueued)))
        return batch

    async def _gather(self) -> None:
        """Under load, wait a few ms for the clients that the last batch just answered.

        When the last forward was bigger than what is queued now, its clients are sending
        their next texts this very moment; starting at once would run a sliver of a batch.
        A lone client (last batch 1) never waits."""
        deadline = time.monotonic() + self.max_wait
        while len(self._queue) < min(self._last_batch, self.max_batch_size) and time.monotonic() < deadline:
            await asyncio.sleep(0.0005)

    def _drop(self, item: Item) -> None:
        self.stats.dropped += 1
        self.observe("dropped", 1)
        request = item.request
        if not request.abandoned and request.future is not None and not request.future.done():
            request.abandoned = True
            request.future.set_exception(TimeoutError("deadline passed while queued"))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wake.clear()
                if self._closing:
                    return
                await self._wake.wait()
                continue
            await self._gather()
            batch = self._take_batch()
            if not batch:
                continue
            self._last_batch = len(batch)
            self.observe("queue_depth", len(self._queue))
            started = time.monotonic()
            for item in batch:
                self.observe("queue_seconds", started - item.request.enqueued)
            try:
                vectors = await loop.run_in_executor(
                    self._executor, self.forward, [it.request.ids[it.index] for it in batch])
            except Exception as exc:  # noqa: BLE001 - a failed forward fails its requests only
                log.exception("forward failed for a batch of %d", len(batch))
                for item in batch:
                    if item.request.future and not item.request.future.done():
                        item.request.future.set_exception(exc)
                continue
            finally:
                    self._record(batch, time.monotonic() - started)
            for item, vector in zip(batch, vectors):
                self._deliver(item, vector)

    def _record(self, batch: list[Item], seconds: float) -> None:
        tokens = sum(it.length for it in batch)
        self.stats.batches += 1
        self.stats.texts += len(batch)
        self.stats.tokens += tokens
        self.stats.padded_tokens += max(it.length for it in batch) * len(batch)
        self.observe("inference_seconds", seconds)
        self.observe("batch_size", len(batch))
        self.observe("batch_tokens", tokens)

    @staticmethod
    def _deliver(item: Item, vector: torch.Tensor | TextTooLarge) -> None:
        request = item.request
        if request.abandoned or request.future is None or request.future.done():
            return
        if isinstance(vector, TextTooLarge):
            request.future.set_exception(vector)
            return
        request.results[item.index] = vector
        request.remaining -= 1
        if request.remaining == 0:
            request.future.set_result(list(request.results))  # type: ignore[arg-type]

    async def drain(self, timeout: float = 30.0) -> None:
        """Refuse new work, finish what is queued, stop the worker."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except asyncio.TimeoutError:
                self._task.cancel()
        self._executor.shutdown(wait=True)
