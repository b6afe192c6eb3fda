"""The queue's records (a pending request, its texts, its result) and the policy that picks the next batch."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .encoder import Encoded


@dataclass(frozen=True, slots=True)
class Embedded:
    vectors: np.ndarray  # (texts, dimension) float32
    tokens: int
    truncated: int


@dataclass(eq=False)
class PendingRequest:
    """One request's texts on their way through the queue."""

    texts: list[str]
    dimension: int
    normalize: bool
    truncate: bool
    deadline: float
    future: asyncio.Future[Embedded]
    enqueued: float = field(default_factory=time.monotonic)
    encoded: list[Encoded] = field(default_factory=list)
    rows: list[torch.Tensor | None] = field(default_factory=list)
    remaining: int = 0
    abandoned: bool = False  # set by the loop: the client went away or stopped waiting
    settled: bool = False  # set by the worker: its outcome is decided


@dataclass(eq=False)
class Item:
    request: PendingRequest
    index: int

    @property
    def ids(self) -> list[int]:
        return self.request.encoded[self.index].ids

    @property
    def length(self) -> int:
        return len(self.request.encoded[self.index].ids)


@dataclass
class BatchStats:
    batches: int = 0
    texts: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    dropped: int = 0
    failed: int = 0


@dataclass(frozen=True)
class BatchLimits:
    max_batch_tokens: int
    max_batch_size: int
    packed: bool  # texts share rows (no padding), else each text is a row padded to the longest
    window: int = 1024  # queued texts a padded batch is chosen from

    def padded_tokens(self, lengths: list[int]) -> int:
        return sum(lengths) if self.packed else max(lengths) * len(lengths)


def take_batch(queue: deque[Item], limits: BatchLimits, dead: Callable[[Item, float], bool]) -> list[Item]:
    """Take the next batch off `queue` (oldest first), dropping texts `dead` says nobody wants.

    Packed: the oldest texts, in order, up to the token budget. Padded: the run of similar
    lengths around the oldest text that fits the budget (little padding, and the oldest text
    always goes now); the rest goes back in queue order. A text over the budget goes alone."""
    now = time.monotonic()
    if limits.packed:
        batch: list[Item] = []
        tokens = 0
        while queue and len(batch) < limits.max_batch_size:
            item = queue[0]
            if dead(item, now):
                queue.popleft()
                continue
            if batch and tokens + item.length > limits.max_batch_tokens:
                break
            batch.append(queue.popleft())
            tokens += item.length
        return batch
    window = [queue.popleft() for _ in range(min(limits.window, len(queue)))]
    live = [item for item in window if not dead(item, now)]
    if not live:
        return []
    ordered = sorted(live, key=lambda it: it.length)
    lo = hi = next(i for i, it in enumerate(ordered) if it is live[0])
    while True:
        grew = False
        for cand in (hi + 1, lo - 1):
            if 0 <= cand < len(ordered) and hi - lo + 1 < limits.max_batch_size:
                width = ordered[max(hi, cand)].length
                if width * (hi - lo + 2) <= limits.max_batch_tokens:
                    lo, hi, grew = min(lo, cand), max(hi, cand), True
        if not grew:
            break
    chosen = ordered[lo:hi + 1]
    taken = {id(it) for it in chosen}
    queue.extendleft(reversed([it for it in live if id(it) not in taken]))
    return chosen
