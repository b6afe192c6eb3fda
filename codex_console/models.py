"""Frozen dataclasses the backends return and the UI renders. No I/O here."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_text(self) -> str:
        text = (self.stderr or self.stdout).strip().splitlines()
        return f"{self.argv[0]} exited {self.returncode}" + (f": {text[-1]}" if text else "")


class JobState(enum.Enum):
    PENDING = "PD"
    RUNNING = "R"
    CONFIGURING = "CF"
    COMPLETING = "CG"
    COMPLETED = "CD"
    CANCELLED = "CA"
    FAILED = "F"
    TIMEOUT = "TO"
    NODE_FAIL = "NF"
    PREEMPTED = "PR"
    SUSPENDED = "S"
    REQUEUED = "RQ"
    REQUEUE_HOLD = "RH"
    REQUEUE_FED = "RF"
    RESIZING = "RS"
    STOPPED = "ST"
    OUT_OF_MEMORY = "OOM"
    BOOT_FAIL = "BF"
    DEADLINE = "DL"
    UNKNOWN = "?"

    @classmethod
    def parse(cls, text: str) -> JobState:
        """Accept short (`R`) or long (`RUNNING`) forms, any case, with flags like `CANCELLED by 0`."""
        word = text.strip().split()[0].upper() if text.strip() else ""
        for state in cls:
            if word in (state.value, state.name):
                return state
        return cls.UNKNOWN

    @property
    def alive(self) -> bool:
        """The job holds or waits for resources: resubmitting now would make a second one."""
        return self in _ALIVE


_ALIVE = {JobState.PENDING, JobState.RUNNING, JobState.CONFIGURING, JobState.COMPLETING,
          JobState.SUSPENDED, JobState.REQUEUED, JobState.REQUEUE_HOLD, JobState.REQUEUE_FED,
          JobState.RESIZING, JobState.STOPPED}


@dataclass(frozen=True)
class Job:
    job_id: str
    name: str
    state: JobState
    user: str = ""
    partition: str = ""
    node: str = ""
    reason: str = ""
    elapsed: str = ""
    time_limit: str = ""
    gpus: str = ""
    submit_time: str = ""
    restarts: int = 0


@dataclass(frozen=True)
class Partition:
    name: str
    available: bool
    nodes: int
    idle_nodes: int
    gres: str
    free_gpus: int


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    uuid: str
    utilization: float | None  # percent; None = N/A
    memory_used: float | None  # MiB
    memory_total: float | None
    temperature: float | None  # C
    power: float | None  # W


@dataclass(frozen=True)
class GpuProcess:
    gpu_uuid: str
    pid: int
    name: str
    memory_used: float | None


@dataclass(frozen=True)
class GpuReport:
    node: str
    gpus: tuple[GpuSample, ...]
    processes: tuple[GpuProcess, ...] = ()


@dataclass(frozen=True)
class Endpoints:
    embed_urls: tuple[str, ...] = ()
    neo4j_uri: str = ""
    job_id: str = ""
    node: str = ""
    started: str = ""
    stale: bool = False
    source: str = ""

    @property
    def embed_url(self) -> str:
        return self.embed_urls[0] if self.embed_urls else ""


@dataclass(frozen=True)
class EmbedHealth:
    url: str
    ready: bool
    latency_ms: float | None
    model: str = ""
    device: str = ""
    dimension: int | None = None
    queue_depth: float | None = None
    requests: float | None = None
    error: str = ""


@dataclass(frozen=True)
class GraphHealth:
    uri: str
    ok: bool
    latency_ms: float | None
    server: str = ""
    version: str = ""
    databases: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Tunnel:
    name: str
    local_port: int
    remote_host: str
    remote_port: int
    pid: int | None
    up: bool
    started: float | None = None
    checked: float | None = None
    error: str = ""


@dataclass(frozen=True)
class BenchPoint:
    batch_size: int
    texts_per_s: float
    seconds: float


@dataclass(frozen=True)
class Reading(Generic[T]):
    """A source's last good value, when it was taken, and the last error since."""

    value: T | None = None
    taken: float | None = None  # monotonic
    error: str = ""
    error_at: float | None = None
    history: tuple[float, ...] = field(default=())
    note: str = ""  # why there is no value, when that is not an error (no running job yet)

    def age(self, now: float | None = None) -> float | None:
        return None if self.taken is None else (now or time.monotonic()) - self.taken

    @property
    def stale(self) -> bool:
        return bool(self.error) and (self.taken is None or (self.error_at or 0) >= self.taken)
