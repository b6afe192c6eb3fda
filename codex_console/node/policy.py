"""The supervisor's rules, as pure functions: when to restart, when to give up on a service, when
to requeue the job and when to stop trying, how often to look. No I/O, no clock of their own."""

from __future__ import annotations

from dataclasses import dataclass

BACKOFF_CAP = 30  # seconds between restarts at most (1, 2, 4 ... 30)
GOOD_RUN = 600  # a service that ran this long before it exited starts a new count of failures
DOWN_RETRY = 600  # a service marked down is tried again this often (a passing cause may clear)
LOCKED_RETRY = 2  # Neo4j's store is locked: look again this soon
READY_EVERY = 5  # a ready service is checked this often
STARTING_EVERY = 1.0  # a starting one, this often
MOVING_EVERY = 0.1  # while Neo4j moves (Bolt is down) both jobs look this often
MISSES = 3  # checks in a row without an answer before a ready service counts as not ready
DRAIN = 2  # a replica leaves the endpoints file this long before it is stopped (in place)
REPLICA_STOP = 30  # seconds a model server gets to stop
HANDOVER_LINGER = 3  # the old job's replicas serve this much longer than DRAIN after the take-over


@dataclass(frozen=True)
class AfterExit:
    fails: int  # failures in a row, counted on
    down: bool  # marked down: tried again after DOWN_RETRY
    delay: float  # else: restart after this many seconds


def backoff(fails: int) -> int:
    return min(BACKOFF_CAP, 1 << max(0, fails - 1))


def after_exit(fails: int, ran_for: float, limit: int) -> AfterExit:
    """A service exited after `ran_for` seconds with `fails` failures in a row before: restart it
    after a pause that doubles, or mark it down past `limit` restarts (one more failure after a
    retry then marks it down again)."""
    fails = (0 if ran_for > GOOD_RUN else fails) + 1
    if fails > limit:
        return AfterExit(limit, True, DOWN_RETRY)
    return AfterExit(fails, False, backoff(fails))


@dataclass(frozen=True)
class RequeueDecision:
    give_up: bool
    recent: int  # requeues in the window, this one included


def requeue(past: list[float], now: float, window: float, limit: int) -> RequeueDecision:
    """This job's node cannot serve (no working GPU): requeue it, unless it has already been
    requeued `limit` times within `window` seconds. `past`: earlier requeues (epoch seconds)."""
    recent = sum(1 for t in past if t >= now - window) + 1
    return RequeueDecision(recent > limit, recent)


def check_every(ready: bool, moving: bool) -> float:
    """How long until a service's readiness is checked again."""
    if moving and not ready:
        return MOVING_EVERY
    return READY_EVERY if ready else STARTING_EVERY
