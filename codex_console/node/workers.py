"""A job of several nodes: one supervisor per node.

The first node (the batch step) runs Neo4j, writes the endpoints file and hands over; it starts
`python -m codex_console.node --worker` on every other node with one `srun --ntasks-per-node=1`
step. Each of those supervises its own instances by the same rules and writes what it has in a
state file of its own next to the endpoints file; the first node lists them all. Orders go the
other way through the first node's state file: a restart in place (`restart`, counted by
`restart_seq`) and the end (`stop`). Slurm's own TERM (a cancel, a requeue) reaches every step.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..catalogue import Kind
from ..protocol import state_file
from . import policy
from .clock import within
from .ending import raise_end
from .files import StateFile, read_json, remove
from .processes import stop
from .supervisor import Supervisor

if TYPE_CHECKING:
    from .processes import Proc

HEARTBEAT = 10.0  # a node's supervisor rewrites its file at least this often
HEARTBEAT_LOST = 35.0  # a file older than this is a supervisor gone: its instances are not listed


class Workers:
    """The first node's side: start the other nodes' supervisors, read them, give them orders."""

    def __init__(self, job: Supervisor) -> None:
        self.job = job
        self.others = [n for n in job.where.nodes if n != job.node]
        self.proc: Proc | None = None
        self.seq = 0
        self.fails = 0
        self.next_start = 0.0
        self.stopping = False

    def argv(self) -> list[str]:
        n = len(self.others)  # --ntasks too: the job's own SLURM_NTASKS would count the first node
        return ["srun", f"--nodes={n}", f"--ntasks={n}", "--ntasks-per-node=1", "--relative=1", "--kill-on-bad-exit=0",
                f"--job-name={self.job.spec.job_name}-nodes", sys.executable, "-m", "codex_console.node", "--worker"]

    async def start(self) -> None:
        for node in self.others:  # an earlier run of this job id said nothing that still holds
            remove(state_file(self.job.endpoints_file, self.job.job_id, node))
        self.job.state.update(restart_seq=self.seq, restart=[], restart_node="", stop=False)
        self.proc = await self.job.parts.launcher.spawn(self.argv(), self.job.parts.env)
        self.job.log(f"supervisors started on {', '.join(self.others)} (pid {self.proc.pid})")

    async def tick(self) -> None:
        proc, clock = self.proc, self.job.clock
        if self.stopping or proc is None or proc.returncode is None:
            return
        if self.next_start == 0.0:
            self.fails += 1
            self.next_start = clock.monotonic() + policy.backoff(self.fails)
            self.job.event(f"the supervisors of {', '.join(self.others)} ended ({proc.returncode}); "
                           f"started again in {policy.backoff(self.fails)}s")
        elif clock.monotonic() >= self.next_start:
            self.next_start = 0.0
            await self.start()

    def told(self, node: str) -> dict[str, Any]:
        """What a node last said, if it said it lately (a supervisor that died says nothing)."""
        told = read_json(state_file(self.job.endpoints_file, self.job.job_id, node))
        fresh = self.job.clock.time() - float(told.get("alive_at") or 0) <= HEARTBEAT_LOST
        return told if fresh else {}

    def instances(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for node in self.others:
            out += [i for i in self.told(node).get("instances") or [] if isinstance(i, dict) and "service" in i]
        return out

    async def restart_each(self, which: list[str]) -> None:
        """The other nodes' instances after the first node's, one node at a time: each node's
        restart ends before the next begins, so a service with one replica a node keeps serving."""
        for node in self.others:
            self.seq += 1
            self.job.state.update(restart_seq=self.seq, restart=which, restart_node=node)
            deadline = self.job.clock.monotonic() + 2 * max(s.ready_timeout for s in self.job.spec.services) + 60
            while int(self.told(node).get("restarted_seq") or 0) < self.seq:
                if self.job.clock.monotonic() > deadline or self.stopping:
                    self.job.log(f"{node} did not say its restart of {', '.join(which)} ended: going on")
                    break
                await self.job.clock.sleep(1.0)

    async def stop(self) -> None:
        """Tell them to stop and let them (each gives its services their stop time), then end srun:
        TERM to srun would kill its tasks before they stopped anything."""
        self.stopping = True
        self.job.state.update(stop=True)
        if self.proc is not None:
            done, _ = await within(self.job.clock, self.proc.wait(), self.job.spec.stop_timeout + policy.REPLICA_STOP)
            if not done:
                await stop(self.proc, policy.REPLICA_STOP, self.job.clock)


class NodeSupervisor(Supervisor):
    """Another node of the job: its model servers, supervised like the first node's; no Neo4j,
    no endpoints file, no hand-over of its own."""

    first_node = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node_state = StateFile(state_file(self.endpoints_file, self.job_id, self.node),
                                    self.spec.endpoints_mode, self.spec.group)
        self.state = self.node_state  # this node's own file; the first node's holds the orders
        self.seen_seq = 0

    def predecessor_file(self) -> str:
        return state_file(self.endpoints_file, self.where.predecessor, self.node)

    def publish(self, force: bool = False) -> None:
        """This node's instances, in its own file; rewritten at least every HEARTBEAT seconds."""
        described = [i.describe() for i in self.instances]
        now = self.clock.time()
        if force or described != self.node_state.data.get("instances") or \
                now - float(self.node_state.data.get("alive_at") or 0) >= HEARTBEAT:
            self.node_state.update(node=self.node, instances=described, alive_at=now,
                                   ports={self.node: [i.port for i in self.instances]})

    async def tick(self) -> None:
        orders = read_json(state_file(self.endpoints_file, self.job_id))
        if orders.get("stop") and not self.stopping:
            self.signal("TERM")
        seq = int(orders.get("restart_seq") or 0)
        if seq > self.seen_seq and orders.get("restart_node") == self.node:
            self.seen_seq = seq
            which = [n for n in orders.get("restart") or [] if isinstance(n, str)]
            if not self.stopping:
                self._queue(lambda: self._restart_and_say(which, seq))

    async def _restart_and_say(self, which: list[str], seq: int) -> None:
        await self.restart_in_place(which)
        self.node_state.update(restarted_seq=seq)

    async def end(self, why: str) -> None:
        self.stopping = self.closing = True
        self.log(f"{why}: stopping this node's services")
        self.publish(force=True)
        await self.stop_all()
        self.node_state.remove()
        raise_end(0)

    def _marked_down(self, instance: Any) -> None:
        replicas = [i for i in self.instances if i.spec.kind is Kind.EMBED]
        if replicas and all(i.state.value == "down" for i in replicas):
            self.event(f"no embed replica works on {self.node}: every one is marked down")

