"""Stand-ins for what the job's supervisor touches, so that its decisions run in milliseconds:
a clock that only moves when the test says, processes that exit when told, and a Slurm that
answers from a table. Files are real (a temporary folder)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import signal
from dataclasses import dataclass, field
from pathlib import Path

from codex_console.catalogue import Kind, ServiceSpec
from codex_console.job_spec import JobSpec
from codex_console.node.slurm_ops import GONE, UNKNOWN, Result, Waiting
from codex_console.node.supervisor import Parts, Supervisor, Where


async def settle(rounds: int = 30) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    def __init__(self, epoch: float = 1_800_000_000.0) -> None:
        self.now = 0.0
        self.epoch = epoch
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.epoch + self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time on, waking every sleeper on the way in order, letting the loop run between."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            if not future.done():
                future.set_result(None)
            await settle()
        self.now = target
        await settle()

    async def run_until(self, predicate, limit: float, step: float = 0.1) -> bool:
        waited = 0.0
        while not predicate():
            if waited >= limit:
                return False
            await self.advance(step)
            waited += step
        return True


@dataclass
class Behaviour:
    exit_after: float | None = None  # exits by itself this long after its start
    code: int = 0
    stop_takes: float = 0.0  # seconds from TERM to its exit
    ignores_term: bool = False
    ready_after: float | None = 0.5  # None: never ready


class FakeProc:
    def __init__(self, launcher: FakeLauncher, name: str, behaviour: Behaviour, pid: int) -> None:
        self.launcher, self.name, self.behaviour, self.pid = launcher, name, behaviour, pid
        self.started = launcher.clock.monotonic()
        self.returncode: int | None = None
        self.signals: list[tuple[float, int]] = []
        self._done = asyncio.get_running_loop().create_future()
        self._timers: list[asyncio.Task] = []
        if behaviour.exit_after is not None:
            self._later(behaviour.exit_after, behaviour.code)

    def _later(self, seconds: float, code: int) -> None:
        async def go() -> None:
            await self.launcher.clock.sleep(seconds)
            self.finish(code)
        self._timers.append(asyncio.get_running_loop().create_task(go()))

    def finish(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self.launcher.log.append((self.launcher.clock.monotonic(), "exit", self.name, code))
            self._done.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._done)

    def send_signal(self, sig: int) -> None:
        self.signals.append((self.launcher.clock.monotonic(), sig))
        self.launcher.log.append((self.launcher.clock.monotonic(), signal.Signals(sig).name, self.name, None))
        if sig == signal.SIGKILL:
            self.finish(-9)
        elif not self.behaviour.ignores_term:
            self._later(self.behaviour.stop_takes, -15)

    def is_ready(self) -> bool:
        after = self.behaviour.ready_after
        return self.returncode is None and after is not None and self.launcher.clock.monotonic() - self.started >= after


class FakeLauncher:
    """Processes by service name: `behaviours["embed"]` says how each embed instance behaves."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.behaviours: dict[str, Behaviour] = {}
        self.procs: list[FakeProc] = []
        self.log: list[tuple[float, str, str, int | None]] = []  # (time, what, instance service, code)
        self._pids = itertools.count(1000)

    async def spawn(self, argv: list[str], env: dict[str, str]) -> FakeProc:
        # embed: bash -c 'exec PROGRAM "$@"' SERVICE --model ...; the others: bash -c 'exec COMMAND ...'
        name = argv[3] if len(argv) > 3 else argv[-1].removeprefix("exec ").split()[0]
        proc = FakeProc(self, name, self.behaviours.get(name, Behaviour()), next(self._pids))
        proc.env = env  # type: ignore[attr-defined]
        self.procs.append(proc)
        self.log.append((self.clock.monotonic(), "start", name, None))
        return proc

    def of(self, name: str) -> list[FakeProc]:
        return [p for p in self.procs if p.name == name]

    def live(self, name: str) -> list[FakeProc]:
        return [p for p in self.of(name) if p.returncode is None]


@dataclass
class FakeSlurm:
    clock: FakeClock
    limit: float = 7 * 86400.0  # the job's time limit, from its start at epoch
    states: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    others: list[str] = field(default_factory=lambda: ["node-b"])
    calls: list[tuple[str, ...]] = field(default_factory=list)
    next_id: int = 500
    submit_fails: bool = False
    flaky: int = 0  # this many job_state calls fail ("?") before the answers come

    async def job_state(self, job_id: str) -> str:
        if self.flaky:
            self.flaky -= 1
            return UNKNOWN
        return self.states.get(job_id, GONE)

    async def times(self, job_id: str) -> tuple[float, float] | None:
        return self.clock.epoch, self.clock.epoch + self.limit

    async def waiting(self, job_id: str) -> Waiting | None:
        return Waiting(self.states.get(job_id, GONE), self.reasons.get(job_id, "None"), "node-b")

    async def submit_successor(self, job_id: str, partitions: tuple[str, ...]) -> Result:
        self.calls.append(("submit", job_id))
        if self.submit_fails:
            return Result(False, "sbatch: error: Batch job submission failed")
        self.next_id += 1
        self.states[str(self.next_id)] = "PD"
        return Result(True, str(self.next_id))

    async def requeue(self, job_id: str) -> Result:
        self.calls.append(("requeue", job_id))
        return Result(True, "")

    async def exclude(self, job_id: str, node: str) -> Result:
        self.calls.append(("exclude", job_id, node))
        return Result(True, "")

    async def cancel(self, job_id: str) -> Result:
        self.calls.append(("cancel", job_id))
        self.states[job_id] = "CA"
        return Result(True, "")

    async def other_nodes(self, partitions: tuple[str, ...], node: str) -> list[str]:
        return list(self.others)

    async def log_file(self, job_id: str) -> str:
        return f"/logs/{job_id}.log"


def spec(tmp_path: Path, *services: ServiceSpec, **values) -> JobSpec:
    services = services or (ServiceSpec("neo4j", Kind.NEO4J, "neo4j console", 7687, health=""),
                            ServiceSpec("embed", Kind.EMBED, "codex-embed-server", 18765, model="/m"))
    return JobSpec(services=services, endpoints_file=str(tmp_path / "services.env"),
                   **{"rollover_lead": 0, **values})


class Harness:
    """A supervisor with fake parts, run as a task: `await h.start()`, then move the clock."""

    def __init__(self, job_spec: JobSpec, job_id: str = "100", clock: FakeClock | None = None,
                 slurm: FakeSlurm | None = None, launcher: FakeLauncher | None = None, **where) -> None:
        self.clock = clock or FakeClock()
        self.launcher = launcher or FakeLauncher(self.clock)
        self.slurm = slurm or FakeSlurm(self.clock)
        self.lines: list[str] = []
        self.parts = Parts(self.clock, self.launcher, self.slurm, out=self.lines.append, ready=self.ready, env={})
        self.supervisor = Supervisor(job_spec, Where(job_id=job_id, node=where.pop("node", "node-a"), **where),
                                     self.parts)
        self.task: asyncio.Task[int] | None = None

    async def ready(self, instance) -> bool:
        proc = instance.proc
        return proc is not None and proc.is_ready()

    async def start(self) -> None:
        self.slurm.states.setdefault(self.supervisor.job_id, "R")
        self.task = asyncio.get_running_loop().create_task(self.supervisor.run())
        await self.clock.advance(0)

    def log(self) -> str:
        return "\n".join(self.lines)

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        for instance in self.supervisor.instances:
            await instance.halt()
