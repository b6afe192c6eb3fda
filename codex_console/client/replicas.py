"""The embed replicas a client may use now: requests in flight per replica, and take-out windows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Replica:
    url: str
    inflight: int = 0
    out_until: float = 0.0  # monotonic time it may be used again
    strikes: int = 0  # failures in a row (connection refused, 5xx); a success clears them
    sent: int = 0
    texts: int = 0
    last_error: str = ""
    errors: int = 0


class ReplicaSet:
    """The replicas the endpoints file lists now, in its order. A failing replica is taken out
    for a window that doubles with each failure in a row (up to `longest`); a busy one (429,
    503) for as long as it asked. A new job (another generation) starts everyone afresh."""

    def __init__(self, take_out: float = 5.0, longest: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.take_out_for, self.longest, self.clock = take_out, longest, clock
        self.listed: list[Replica] = []
        self.seen: dict[str, Replica] = {}  # every replica this client used (stats, errors)
        self.generation: object = None

    def update(self, urls: tuple[str, ...], generation: object) -> None:
        if generation != self.generation:
            self.generation = generation
            for replica in self.seen.values():
                replica.out_until, replica.strikes = 0.0, 0
        self.listed = [self.seen.setdefault(url, Replica(url)) for url in urls]

    def pick(self) -> Replica | None:
        """The usable replica with the fewest requests in flight (then the fewest sent)."""
        now = self.clock()
        usable = [r for r in self.listed if r.out_until <= now]
        return min(usable, key=lambda r: (r.inflight, r.sent)) if usable else None

    def next_back(self) -> float | None:
        """Seconds until the first listed replica may be used again; None when none is listed."""
        if not self.listed:
            return None
        return max(0.0, min(r.out_until for r in self.listed) - self.clock())

    def failed(self, replica: Replica, why: str) -> float:
        """Take a replica out after a refused connection or a 5xx; returns the window."""
        replica.strikes += 1
        window = min(self.longest, self.take_out_for * 2 ** (replica.strikes - 1))
        return self.rest(replica, why, window)

    def rest(self, replica: Replica, why: str, seconds: float) -> float:
        """Leave a replica alone for `seconds` (it asked for it with Retry-After)."""
        replica.out_until = max(replica.out_until, self.clock() + seconds)
        replica.last_error, replica.errors = why, replica.errors + 1
        return seconds

    def served(self, replica: Replica, texts: int) -> None:
        replica.strikes = 0
        replica.texts += texts

    def describe(self) -> str:
        """What happened with each replica, for the error that ends a call."""
        if not self.seen:
            return "no embed server was ever listed"
        return "; ".join(f"{r.url}: {r.texts} texts, {r.errors} errors"
                         + (f" (last: {r.last_error})" if r.errors else "")
                         for r in self.seen.values())
