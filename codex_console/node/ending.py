"""How the job ends: a cancel or requeue (TERM), the end-of-time signal (XCPU), a node whose GPUs
are broken (requeue off it, or give up past the limit), or a hand-over done.

In every case the endpoints file says so first (STALE=1, with the reason), then the model
servers stop in parallel while Neo4j gets its whole stop time, and the job leaves with the exit
code Slurm should record.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..catalogue import Kind
from ..protocol import HandoverPhase, requeues_file
from . import policy

if TYPE_CHECKING:
    from .supervisor import Supervisor


class JobEnds(Exception):
    """The job is done: the supervisor exits with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Ending:
    async def end(self: Supervisor, why: str) -> None:  # type: ignore[misc]
        """TERM (a cancel or a requeue: Slurm kills what is left after KillWait) or XCPU (the end of
        time, sent stop_timeout + 10 s before the limit: Neo4j gets its whole stop time)."""
        self.stopping = True
        self.log(f"{why}: stopping services (Neo4j gets up to {self.spec.stop_timeout}s), "
                 f"marking {self.endpoints_file} stale")
        cancelled = why != "end of time"
        if cancelled:
            await self.handover.on_cancel()
            reason, requeue = "", False
        else:
            reason, requeue = await self.handover.at_time_limit()
        self.final_reason = reason or f"job {self.job_id} is ending ({why})"
        self.closing = True
        self.publish(force=True)
        await self.stop_all()
        if cancelled:  # after the other nodes were told to stop through it
            self.state.remove()
        if requeue and (await self.slurm.requeue(self.job_id)).ok:
            self.log(f"requeued: {self.final_reason}")
        raise_end(0)

    async def stop_all(self: Supervisor) -> None:  # type: ignore[misc]
        """Model servers in parallel; Neo4j with its whole stop_timeout; the other nodes' too."""
        if self.restarts is not None:
            self.restarts.cancel()
        steps = [i.stop(self.spec.stop_timeout if i.spec.kind is Kind.NEO4J else policy.REPLICA_STOP)
                 for i in self.instances]
        if self.workers is not None:
            steps.append(self.workers.stop())
        await asyncio.gather(*steps, return_exceptions=True)

    async def requeue_or_give_up(self: Supervisor, why: str) -> None:  # type: ignore[misc]
        """No model server works on this node's GPUs: requeue the job off the node, unless it was
        requeued `requeue_limit` times within `requeue_window` already; then end as FAILED."""
        spec, now = self.spec, self.clock.time()
        path = requeues_file(self.endpoints_file)
        past = read_requeues(path)
        try:
            with open(path, "a") as fh:
                fh.write(f"{now:.0f} {self.job_id} {self.node} {why}\n")
        except OSError as exc:  # the count goes on from what was read: requeueing matters more
            self.log(f"cannot write {path}: {exc.strerror or exc}")
        decision = policy.requeue(past, now, spec.requeue_window, spec.requeue_limit)
        self.stopping = True
        await self.handover.on_cancel()  # a successor waiting to take over goes with this job
        if decision.give_up:
            self.final_reason = f"gave up after {decision.recent - 1} requeues in {spec.requeue_window}s: {why}"
        else:
            self.final_reason = (f"requeued off {self.node} ({decision.recent}/{spec.requeue_limit} in "
                                 f"{spec.requeue_window}s): {why}")
        self.closing = True
        self.event(self.final_reason)
        await self.stop_all()
        if decision.give_up:
            self.log(f"ending as FAILED: {self.final_reason}")
            raise_end(1)
        await self.slurm.requeue(self.job_id)
        if spec.exclude_failed_node:
            await self.keep_off_this_node()
        await self.clock.sleep(600)  # Slurm ends this run of the job
        raise_end(1)

    async def keep_off_this_node(self: Supervisor) -> None:  # type: ignore[misc]
        if not await self.slurm.other_nodes(self.spec.partitions, self.node):
            self.log(f"not excluding {self.node}: no other node in {','.join(self.spec.partitions)} could take the job")
            return
        for _ in range(40):  # accepted once the requeue is under way
            if (await self.slurm.exclude(self.job_id, self.node)).ok:
                return
            await self.clock.sleep(0.25)
        self.log(f"could not keep the job off {self.node}")

    async def finish_handover(self: Supervisor, successor: str) -> None:  # type: ignore[misc]
        """The successor serves: our model servers go once the tools had time to re-read the file."""
        self.stopping = True
        self.handover.phase = HandoverPhase.DONE
        self.event(f"hand-over done: successor {successor} serves; job {self.job_id} ends")
        await self.clock.sleep(policy.DRAIN + policy.HANDOVER_LINGER)
        if self.restarts is not None:
            self.restarts.cancel()
        steps = [i.stop(policy.REPLICA_STOP) for i in self.model_servers]
        if self.workers is not None:
            steps.append(self.workers.stop())
        await asyncio.gather(*steps, return_exceptions=True)
        self.state.remove()
        raise_end(0)


def raise_end(code: int) -> None:
    raise JobEnds(code)


def read_requeues(path: str) -> list[float]:
    """Earlier requeues of the service (epoch seconds), from the file beside the endpoints file."""
    try:
        with open(path) as fh:
            return [float(line.split()[0]) for line in fh if line.split() and line.split()[0].isdigit()]
    except OSError:
        return []

