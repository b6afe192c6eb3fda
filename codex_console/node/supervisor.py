"""The supervisor: every instance on this node, the endpoints file, Slurm's signals, the job's end.

One task per instance keeps it up (`instance.py`); this loop publishes what they say, runs the
hand-over (`handover.py`), follows the job's other nodes (`workers.py`) and acts on signals:
TERM is a cancel or requeue, XCPU the end-of-time signal (stop cleanly, Neo4j with its whole
`stop_timeout`, then maybe requeue), USR1/USR2 restarts in place. A node whose every model
server fails on a broken GPU requeues the job off itself, within `requeue_limit`.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Awaitable, Callable

from ..catalogue import Kind
from ..job_spec import JobSpec
from ..protocol import EXIT_DEVICE, InstanceState, request_file, state_file
from .clock import Clock, within
from .ending import Ending, JobEnds
from .files import StateFile, expand, read_json, remove
from .handover import Handover
from .instance import Hooks, Instance, command_argv
from .neo4j_ops import Neo4jOps
from .placement import free_block, place
from .processes import Launcher
from .publisher import Publisher, View
from .readiness import bolt_ready, http_ready
from .restarts import Restarts
from .slurm_ops import SlurmOps

if TYPE_CHECKING:
    from .workers import Workers

State = InstanceState


@dataclass(frozen=True)
class Where:
    """This job and node, as Slurm told the process (its environment)."""

    job_id: str
    node: str
    nodes: tuple[str, ...] = ()
    node_index: int = 0
    restart_count: int = 0
    gpu_ids: tuple[str, ...] = ()
    predecessor: str = ""
    mem_mb: int = 0  # the job's memory on this node (SLURM_MEM_PER_NODE)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


@dataclass
class Parts:
    clock: Clock
    launcher: Launcher
    slurm: SlurmOps
    out: Callable[[str], None] = print
    ready: Callable[[Instance], Awaitable[bool]] | None = None  # default: HTTP path or Bolt handshake
    port_taken: Callable[[int], bool] = lambda port: False
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


async def default_ready(instance: Instance) -> bool:
    if instance.spec.kind is Kind.NEO4J:
        return await bolt_ready(instance.node, instance.port)
    return await http_ready(instance.node, instance.port, instance.spec.health or "/ready")


class Supervisor(Ending, Restarts, Neo4jOps):
    def __init__(self, spec: JobSpec, where: Where, parts: Parts) -> None:
        self.spec, self.where, self.parts = spec, where, parts
        self.job_id, self.node = where.job_id, where.node
        self.clock, self.slurm = parts.clock, parts.slurm
        self.endpoints_file = expand(spec.endpoints_file)
        self.state = StateFile(state_file(self.endpoints_file, self.job_id), spec.endpoints_mode, spec.group)
        self.publisher = Publisher(self.endpoints_file, spec.endpoints_mode, spec.group)
        self.handover = Handover(self, where.predecessor)
        self.instances: list[Instance] = []
        self.events: list[str] = []
        self.warnings: list[str] = []
        self.neo4j_info: dict[str, object] = {}
        self.log_file = ""
        self.final_reason = ""
        self.closing = False  # the job is ending: nothing is listed any more
        self.stopping = False  # signals that would start something are ignored
        self.signals: list[str] = []
        self.wake = asyncio.Event()
        self.restarts: asyncio.Task[None] | None = None
        self.workers: Workers | None = None  # on the first node of a job of several
        self.next_dump_look = 0.0  # monotonic: when the dump schedule is looked at again
        self.dump_failures = 0  # scheduled dumps that failed in a row: the next waits longer
        self.dump_failed_at = 0.0
        self.covered_signals = 0  # restart signals whose requests an earlier signal already took
        self.write_error = ""  # why the endpoints file could not be written, said once
        self.started_at = self.clock.time()

    # -- saying things ------------------------------------------------------------------------------
    def log(self, text: str) -> None:
        when = time.strftime("%H:%M:%S", time.localtime(self.clock.time()))
        try:
            self.parts.out(f"{when} [codex-services {self.job_id}] {text}")
        except OSError:  # the job log's filesystem is full: supervising goes on
            pass

    def event(self, text: str) -> None:
        """Logged, and kept (the last 5) in the endpoints file's EVENTS."""
        self.log(text)
        self.events = (self.events + [f"{time.strftime('%H:%M:%SZ', time.gmtime(self.clock.time()))} {text}"])[-5:]
        self.publish()

    @property
    def neo4j(self) -> Instance | None:
        return next((i for i in self.instances if i.spec.kind is Kind.NEO4J), None)

    @property
    def model_servers(self) -> list[Instance]:
        return [i for i in self.instances if i.spec.kind is not Kind.NEO4J]

    @property
    def neo4j_ready_timeout(self) -> int:
        return self.neo4j.spec.ready_timeout if self.neo4j is not None else 0

    def all_instances(self) -> list[dict[str, object]]:
        theirs = self.workers.instances() if self.workers is not None else []
        return [i.describe() for i in self.instances] + theirs

    def ready_urls(self, model_servers: bool = False) -> dict[str, list[str]]:
        """Every service's ready instances (this job's, all its nodes); only the model servers'."""
        kinds = {s.name: s.kind for s in self.spec.services}
        urls: dict[str, list[str]] = {}
        for i in self.all_instances():
            if i["state"] == State.READY.value and not (model_servers and kinds.get(str(i["service"])) is Kind.NEO4J):
                urls.setdefault(str(i["service"]), []).append(str(i["url"]))
        return urls

    def serving(self) -> bool:
        """Every service of the job has something ready."""
        ready = self.ready_urls()
        return all(ready.get(s.name) for s in self.spec.services)

    def reason(self) -> str:
        if self.final_reason:
            return self.final_reason
        out = "; ".join(dict.fromkeys(str(i["why"]) for i in self.all_instances() if i["why"]))
        return out or ("" if self.serving() else "starting: waiting for the services to be ready")

    def view(self) -> View:
        instances = self.all_instances()
        if self.closing:
            instances = [{**i, "state": State.STOPPING.value} if i["state"] == State.READY.value else i
                         for i in instances]
        handover = self.handover.describe()
        partner = self.handover.partner_urls if self.handover.taken_over else {}
        keep = self.handover.hands_over_at_end  # the end of time: the successor's are the ones left
        return View(self.job_id, self.node, list(self.where.nodes) or [self.node], self.where.started,
                    self.where.restart_count, self.spec.services, instances, self.log_file,
                    {} if self.closing and not keep else partner, self.reason(), self.events, handover, self.neo4j_info,
                    self.warnings, stale=self.closing or not self.serving())

    def publish(self, force: bool = False) -> None:
        """Write the endpoints file if it changed. A write that fails (a full home, an NFS hiccup,
        a group the user is not in) is said once and tried again at the next change; supervising
        goes on."""
        if not self.handover.may_publish():
            return
        try:
            self.publisher.publish(self.view(), force)
        except OSError as exc:
            self.publisher.forget()
            said = f"cannot write {self.endpoints_file}: {exc.strerror or exc}"
            if said != self.write_error:
                self.write_error = said
                self.log(said + "; trying again")
        else:
            self.write_error = ""

    def file_job_id(self) -> str:
        """Whose the endpoints file is, as the tools read it (the KEY=VALUE file, not its twin)."""
        try:
            with open(self.publisher.path) as fh:
                return next((line.strip().split("=", 1)[1] for line in fh if line.startswith("JOB_ID=")), "")
        except OSError:
            return ""

    # -- start -------------------------------------------------------------------------------------------
    def hooks(self) -> Hooks:
        return Hooks(self.clock, self.parts.launcher, self.parts.ready or default_ready, self.log, self.event,
                     self._changed, self._may_start, self._marked_down, self.spec.restart_limit, self.parts.env)

    first_node = True  # the node that runs Neo4j, writes the endpoints file and hands over

    def predecessor_file(self) -> str:
        """Where the predecessor of a hand-over said which ports it holds on this node."""
        return state_file(self.endpoints_file, self.where.predecessor)

    def setup(self) -> None:
        spec, where = self.spec, self.where
        self.state.remove()  # nothing of an earlier life of this job id is trusted, nor asked of it
        if self.first_node:
            old = request_file(self.endpoints_file, self.job_id)
            remove(old)
            remove(old + ".taken")
        owned: set[int] = set()
        if where.predecessor:
            told = read_json(self.predecessor_file())
            owned = set((told.get("ports") or {}).get(self.node, []))
        block = free_block(spec.services, len(where.gpu_ids), lambda p: p in owned or self.parts.port_taken(p))
        slots = place(spec.services, list(where.gpu_ids), where.node_index, block, first_node=self.first_node)
        slots.sort(key=lambda s: s.spec.kind is not Kind.NEO4J)  # Neo4j first: it takes longest
        hooks = self.hooks()
        key = expand(spec.api_key_file)
        for slot in slots:
            argv = command_argv(replace(slot.spec, model=expand(slot.spec.model)), slot.port, self.node, slot.gpus, key)
            self.instances.append(Instance(slot.spec, slot.index, self.node, slot.port, slot.gpus, hooks, argv,
                                           waiting=slot.spec.kind is Kind.NEO4J and bool(where.predecessor),
                                           hide_gpus=bool(where.gpu_ids)))
        self.state.update(node=self.node, ports={self.node: [i.port for i in self.model_servers]})
        if self.neo4j is not None:
            self._size_neo4j()
        self.log(f"node {self.node}, restart {where.restart_count}, GPUs '{','.join(where.gpu_ids) or 'none'}', "
                 f"services: {' '.join(i.name for i in self.instances)}"
                 + (f" (successor of job {where.predecessor})" if where.predecessor else ""))

    def start(self) -> None:
        self.publish(force=True)
        for instance in self.instances:
            if instance.state is State.WAITING:
                self.log(f"{instance.name} waits for job {self.where.predecessor} to release the store")
            else:
                instance.begin()

    def _changed(self, instance: Instance) -> None:
        self.publish()
        self.wake.set()

    def _marked_down(self, instance: Instance) -> None:
        replicas = [i for i in self.instances if i.spec.kind is Kind.EMBED]
        if instance.spec.kind is Kind.EMBED and all(i.state is State.DOWN for i in replicas) and \
                any(i.last_rc == EXIT_DEVICE for i in replicas):
            self.signal(f"DEVICE:no working GPU on {self.node} (embed exit {EXIT_DEVICE}: device unusable)")

    # -- the loop --------------------------------------------------------------------------------------
    def signal(self, name: str) -> None:
        """Called from the signal handlers (and for a broken GPU): acted on by the loop."""
        self.signals.append(name)
        self.wake.set()

    async def run(self) -> int:
        """Supervise until the job ends; the exit code for Slurm."""
        try:
            self.setup()
            self.log_file = await self.slurm.log_file(self.job_id)
            self.start()
            if self.workers is not None:
                await self.workers.start()
            while True:
                await self._signals()
                try:
                    await self.tick()
                except (JobEnds, asyncio.CancelledError):
                    raise
                except Exception as exc:  # noqa: BLE001 - one failed pass must not end a week-long job
                    self.log(f"this pass failed ({type(exc).__name__}: {exc}); going on")
                self.publish()
                self.wake.clear()
                await within(self.clock, self.wake.wait(), self.handover.pause())
        except JobEnds as end:
            return end.code

    async def tick(self) -> None:
        await self.handover.tick()
        if self.workers is not None:
            await self.workers.tick()
        self.schedule_dumps()

    async def _signals(self) -> None:
        while self.signals:
            name = self.signals.pop(0)
            if name.startswith("DEVICE:"):
                await self.requeue_or_give_up(name.removeprefix("DEVICE:"))
            elif name in ("TERM", "INT"):
                await self.end("cancel or requeue")
            elif name == "XCPU":
                await self.end("end of time")
            elif self.stopping:
                self.log(f"{name} ignored: the job is stopping")
            elif name == "USR1":
                self._on_restart_signal()
            elif name == "USR2":
                self._queue_restart(["neo4j"])
