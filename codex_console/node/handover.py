"""No gap at the time limit: the hand-over to a successor job, both sides.

`rollover_lead` before its limit the job (the predecessor) submits its successor: the same
script, same partitions, no singleton. The successor starts its model servers; once they are
ready it claims Neo4j's store (at once when it runs Neo4j alone), the predecessor lists its
servers beside its own and stops Neo4j cleanly, the successor starts Neo4j on the freed store,
takes over the endpoints file, and the predecessor stops its servers and ends by itself. Each
job tells the other how far it got in its own state file; one writes the endpoints file at a
time. A successor that ends first gives Neo4j back; with no room for one the job says so, and at
its end-of-time signal stops cleanly and requeues itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..protocol import HandoverPhase, InstanceState, state_file
from .files import read_json, remove
from .neo4j_move import move_report
from .slurm_ops import UNKNOWN, finished

if TYPE_CHECKING:
    from .supervisor import Supervisor

Phase = HandoverPhase
END_EVERY = 15  # seconds between looks at this job's end time (it can change)
SUCCESSOR_EVERY = 10  # ... at the successor's state
PREDECESSOR_EVERY = 5  # ... at the predecessor's state
RETRY = 60  # a failed submission, or a successor that died, is tried again after this


class Handover:
    def __init__(self, job: Supervisor, predecessor: str = "") -> None:
        self.job = job
        self.lead = job.spec.rollover_lead
        self.lead_checked = False
        self.successor = ""
        self.predecessor = predecessor
        self.phase: Phase | None = None
        self.detail = ""
        self.taken_over = not predecessor
        self.released = False  # the predecessor stopped its Neo4j for the successor
        self.partner_urls: dict[str, list[str]] = {}
        self.told_urls: dict[str, list[str]] = {}  # what the successor told its predecessor
        self.next_submit = 0.0
        self.gone_seen = 0
        self.times: tuple[float, float] | None = None  # the job's start and end (epoch)
        self.times_at = -1e9
        self.partner_at = -1e9
        self.partner_state = ""
        self.claim = self.wait = 0.0  # epoch: the successor claimed the store / launched Neo4j on it
        self.fast_until = 0.0  # monotonic: Neo4j moves, everyone looks ten times a second
        self.taken_at = -1e9
        self.moved: dict[str, Any] = {}
        self.hands_over_at_end = False  # the end-of-time signal came with a successor running

    # -- what the endpoints file says --------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase.value if self.phase else "", "detail": self.detail,
                               "successor": self.successor, "predecessor": self.predecessor}
        if self.moved:
            out["moved"] = self.moved
            out["moved_text"] = self.moved["text"]
        return out

    def _set(self, phase: Phase, detail: str = "") -> None:
        self.phase, self.detail = phase, detail

    def partner(self, job_id: str) -> dict[str, Any]:
        return read_json(state_file(self.job.endpoints_file, job_id))

    def may_publish(self) -> bool:
        """A successor writes the endpoints file once it took over; the predecessor stops as soon
        as its successor did."""
        return self.taken_over and not (self.successor and self.partner(self.successor).get("taken"))

    @property
    def moving(self) -> bool:
        return self.job.clock.monotonic() < self.fast_until

    def pause(self) -> float:
        """Seconds to the next pass: a tenth while Neo4j moves, a quarter while the successor starts
        (it may claim the store any moment), else one."""
        neo4j = self.job.neo4j
        if neo4j is not None and not neo4j.ready and self.moving:
            return 0.1
        if neo4j is not None and self.successor and not self.released and self.phase is Phase.STARTING:
            return 0.25
        return 1.0

    async def seconds_left(self) -> float:
        clock = self.job.clock
        if clock.monotonic() - self.times_at >= END_EVERY:
            self.times, self.times_at = await self.job.slurm.times(self.job.job_id), clock.monotonic()
        return self.times[1] - clock.time() if self.times else float("inf")

    # -- every pass ---------------------------------------------------------------------------------
    async def tick(self) -> None:
        if not self.taken_over:
            await self._successor_tick()
            return
        self._recheck_takeover()
        if not self.lead_checked:
            await self._lead_fits()
        if self.lead <= 0:
            return
        if self.successor:
            await self._predecessor_tick()
        elif self.job.clock.monotonic() >= self.next_submit and await self.seconds_left() <= self.lead \
                and not self.job.in_place_busy():  # a restart, dump or load of Neo4j finishes first
            await self._submit()

    async def _lead_fits(self) -> None:
        """Once: a time limit within the lead would hand over at once, and so would every successor."""
        left = await self.seconds_left()
        self.lead_checked = True
        if self.times and self.lead > 0 and self.times[1] - self.times[0] <= self.lead and left != float("inf"):
            limit = round(self.times[1] - self.times[0])
            self.job.event(f"no hand-over: the time limit ({limit}s) is within rollover_lead ({self.lead}s); "
                           "requeue at the limit")
            self.lead = 0

    async def _submit(self) -> None:
        job = self.job
        job.state.update(neo4j="held")  # our ports: a successor on this node takes the next block
        res = await job.slurm.submit_successor(job.job_id, job.spec.partitions)
        if res.ok and res.out.split(";")[0].isdigit():
            self.successor = res.out.split(";")[0]
            self.gone_seen = 0
            self._set(Phase.SUBMITTED)
            job.event(f"hand-over: successor {self.successor} submitted, {await self.seconds_left():.0f}s "
                      "before the limit")
        else:
            self.next_submit = job.clock.monotonic() + RETRY
            self._set(Phase.FAILED, f"{' '.join(res.out.split())}; trying again in {RETRY}s")
            job.event(f"hand-over failed: {self.detail}")
        job.publish()

    async def _predecessor_tick(self) -> None:
        job = self.job
        told = self.partner(self.successor)
        if told.get("taken"):
            await job.finish_handover(self.successor)
        urls = {k: v for k, v in (told.get("urls") or {}).items() if v}
        if urls and urls != self.partner_urls:
            self.partner_urls = urls
            self._set(Phase.READY)
            job.event(f"hand-over: successor {self.successor} is ready ({', '.join(sum(urls.values(), []))})")
            job.publish()
        if not self.released and told.get("claimed"):
            await self.release_neo4j()
        if job.clock.monotonic() - self.partner_at < SUCCESSOR_EVERY:
            return
        self.partner_at = job.clock.monotonic()
        state = await job.slurm.job_state(self.successor)
        if finished(state):
            self.gone_seen += 1
            if self.gone_seen >= 2:  # twice: not one odd answer
                await self._successor_lost(state)
            return
        self.gone_seen = 0
        if urls:
            return
        waiting = await job.slurm.waiting(self.successor)
        if waiting is not None and state == "PD":
            self._set(Phase.PENDING, f"successor {self.successor} waits ({waiting.reason})")
        elif waiting is not None and state in ("R", "CF"):
            self._set(Phase.STARTING, f"successor {self.successor} on {waiting.nodes}")
        job.publish()

    async def _successor_lost(self, state: str) -> None:
        job = self.job
        job.event(f"hand-over: successor {self.successor} ended ({state}) before taking over; this job serves on")
        remove(state_file(job.endpoints_file, self.successor))
        self.successor, self.partner_urls = "", {}
        self._set(Phase.FAILED, f"the successor ended ({state}); trying again in {RETRY}s")
        self.next_submit = job.clock.monotonic() + RETRY
        if self.released and job.neo4j is not None:
            self.released = False
            job.neo4j.why = ""
            job.neo4j.begin()
        job.state.update(neo4j="held")
        job.publish()

    async def release_neo4j(self) -> None:
        """Stop Neo4j cleanly so that the successor can open the store; Bolt goes down here."""
        job = self.job
        stopping = job.clock.time()
        neo4j = job.neo4j
        if neo4j is not None:
            self._set(Phase.NEO4J_MOVING)
            why = f"Neo4j is moving to job {self.successor} (hand-over before the time limit)"
            job.event(f"hand-over: stopping Neo4j for successor {self.successor}")
            await neo4j.stop(job.spec.stop_timeout, InstanceState.HANDED_OVER, why)
        self.released = True
        job.state.update(neo4j="released", released_at=job.clock.time(), stopped_from=stopping)
        job.publish()

    # -- the successor's side ---------------------------------------------------------------------------
    async def _successor_tick(self) -> None:
        job, clock = self.job, self.job.clock
        urls = job.ready_urls(model_servers=True)
        if urls and urls != self.told_urls:
            self.told_urls = urls
            if not self.claim:
                self._claim()
            job.state.update(urls=urls, claimed=True)
            job.event(f"successor of {self.predecessor}: replicas ready ({', '.join(sum(urls.values(), []))})")
        elif not job.model_servers and not self.claim:  # Neo4j alone: nothing to wait for
            self._claim()
            job.state.update(claimed=True)
            job.event(f"successor of {self.predecessor}: claims the Neo4j store")
        if clock.monotonic() - self.partner_at >= PREDECESSOR_EVERY:
            self.partner_state, self.partner_at = await job.slurm.job_state(self.predecessor), clock.monotonic()
        neo4j = job.neo4j
        waiting = neo4j is not None and neo4j.state is InstanceState.WAITING
        if finished(self.partner_state):  # it ended first (cancelled, failed, out of time): serve what we have
            job.event(f"job {self.predecessor} ended ({self.partner_state}) before the hand-over finished: "
                      "taking over as it stands")
            if waiting:
                self._launch_moved_neo4j()
            self._take_over()
            return
        if waiting and self.partner(self.predecessor).get("neo4j") == "released":
            job.event(f"Neo4j store released by job {self.predecessor}: starting Neo4j")
            self._launch_moved_neo4j()
        elif waiting:
            return
        if job.serving():
            self._take_over()

    def _claim(self) -> None:
        """The successor's Neo4j start begins: the old job stops its Neo4j on seeing the claim."""
        self.claim = self.job.clock.time()
        self.fast_until = self.job.clock.monotonic() + self.job.spec.stop_timeout + self.job.neo4j_ready_timeout

    def _launch_moved_neo4j(self) -> None:
        job = self.job
        self.wait = job.clock.time()
        self.fast_until = job.clock.monotonic() + job.neo4j_ready_timeout
        if job.neo4j is not None:
            job.neo4j.moving_until = self.fast_until
            job.neo4j.begin()

    def _take_over(self) -> None:
        job = self.job
        self.taken_over, self.taken_at = True, job.clock.monotonic()
        self._set(Phase.DONE)
        if job.neo4j is not None:
            self.moved = self._move_times()
        job.state.update(urls=self.told_urls, taken=True)  # before the file: the predecessor stops writing it
        job.event(f"took over from job {self.predecessor}")
        job.publisher.forget()
        job.publish()

    def _move_times(self) -> dict[str, Any]:
        job = self.job
        told = self.partner(self.predecessor)
        return move_report(job.clock.time(), self.predecessor, job.neo4j is not None and job.neo4j.ready,
                           self.claim, self.wait, told.get("stopped_from"), told.get("released_at"))

    def _recheck_takeover(self) -> None:
        """A predecessor that wrote the file a moment after our take-over loses."""
        job = self.job
        if self.predecessor and job.clock.monotonic() - self.taken_at <= 15 and job.file_job_id() != job.job_id:
            job.publisher.forget()
            job.publish()

    # -- the end of this job -------------------------------------------------------------------------
    async def on_cancel(self) -> None:
        """A cancel or requeue of this job takes a successor that has not taken over along."""
        if self.taken_over and self.successor and not self.partner(self.successor).get("taken"):
            if (await self.job.slurm.cancel(self.successor)).ok:
                self.job.log(f"cancelled successor {self.successor} with this job")

    async def at_time_limit(self) -> tuple[str, bool]:
        """The end-of-time signal: (why the job ends, whether it requeues itself)."""
        job = self.job
        if not self.taken_over:  # a successor that never took over: its predecessor serves
            return "", False
        state = await job.slurm.job_state(self.successor) if self.successor else ""
        if state == UNKNOWN:  # one failed squeue must not cancel a healthy successor
            state = await job.slurm.job_state(self.successor)
        if self.successor and state in ("R", "CF"):
            self.hands_over_at_end = True
            if not self.released:
                await self.release_neo4j()
            return f"time limit: successor {self.successor} takes over", False
        if self.successor:
            await job.slurm.cancel(self.successor)
        text = f"{self.phase.value}: {self.detail}" if self.phase and self.detail else (
            self.phase.value if self.phase else "no hand-over")
        return f"no successor could start before the time limit ({text}): requeued", True
