"""Frozen dataclasses that the backends return and the UI and the check read; no I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .endpoints_info import Endpoints, FileAccess, InstanceInfo, ServiceEndpoints

__all__ = ["Endpoints", "FileAccess", "InstanceInfo", "ServiceEndpoints"]  # and every class below


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
    RESV_DEL_HOLD = "RD"
    SPECIAL_EXIT = "SE"
    SIGNALING = "SI"
    STAGE_OUT = "SO"
    RESIZING = "RS"
    STOPPED = "ST"
    REVOKED = "RV"
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
        """Not finished: the job holds or waits for resources, so a second one would be a
        duplicate. A state this version does not know counts as alive: resubmitting beside a
        job we cannot read is the worse mistake."""
        return self not in FINISHED_STATES


FINISHED_STATES = {JobState.COMPLETED, JobState.CANCELLED, JobState.FAILED, JobState.TIMEOUT,
             JobState.NODE_FAIL, JobState.PREEMPTED, JobState.OUT_OF_MEMORY, JobState.BOOT_FAIL,
             JobState.DEADLINE, JobState.REVOKED}


@dataclass(frozen=True, kw_only=True)
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
    time_left: str = ""
    gpus: str = ""  # per node (tres_per_node / --gres)
    gpus_per_job: str = ""  # --gpus (tres_per_job)
    submit_time: str = ""
    start_time: str = ""  # running: when it started; pending: when Slurm expects it to ("" unknown)
    restarts: int = 0  # Slurm's restart count: how often the job was requeued
    comment: str = ""


@dataclass(frozen=True)
class Partition:
    name: str
    available: bool
    nodes: int
    idle_nodes: int
    gres: str
    free_gpus: int


def mib_to_gb(mib: float | None) -> float | None:
    """GPU memory has one unit in the console, the check and the charts: GB (10^9 bytes; a
    Nagios unit, which MiB is not). nvidia-smi reports MiB."""
    return None if mib is None else round(mib * 2**20 / 1e9, 3)


@dataclass(frozen=True, kw_only=True)
class GpuSample:
    index: int
    name: str
    uuid: str
    utilization: float | None  # percent; None = N/A
    memory_used: float | None  # MiB, as nvidia-smi reports it (shown as GB: memory_used_gb)
    memory_total: float | None  # MiB
    temperature: float | None  # C
    power: float | None  # W

    @property
    def memory_used_gb(self) -> float | None:
        return mib_to_gb(self.memory_used)

    @property
    def memory_total_gb(self) -> float | None:
        return mib_to_gb(self.memory_total)


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
class ServiceHealth:
    """What a probe of a service found: it answered, whether it serves, and how fast."""

    url: str
    ready: bool
    latency_ms: float | None
    detail: str = ""  # why it is not ready ("loading", ...)


@dataclass(frozen=True, kw_only=True)
class EmbedHealth(ServiceHealth):
    model: str = ""
    device: str = ""
    dimension: int | None = None
    queue_depth: float | None = None
    # Counters from /metrics, totals since the server started (the UI turns them into rates).
    requests: float | None = None
    texts: float | None = None
    errors: float | None = None  # 5xx answers
    rejected: float | None = None  # 429 answers


@dataclass(frozen=True, kw_only=True)
class ReplicaHealth:
    """One replica of a service (one URL) as its probe found it: its health, or why it did not
    answer."""

    url: str
    health: ServiceHealth | None = None
    error: str = ""

    @property
    def ready(self) -> bool:
        return self.health is not None and self.health.ready


@dataclass(frozen=True, kw_only=True)
class ServiceReading:
    """Every replica of one service, probed together, in the order the endpoints file lists
    them (during a hand-over: both jobs' replicas)."""

    replicas: tuple[ReplicaHealth, ...] = ()

    @property
    def ready(self) -> tuple[ReplicaHealth, ...]:
        return tuple(r for r in self.replicas if r.ready)

    @property
    def first(self) -> ServiceHealth | None:
        """The first replica that answered (for what they share: the model, the device)."""
        return next((r.health for r in self.replicas if r.health is not None), None)


@dataclass(frozen=True, kw_only=True)
class Neo4jHealth(ServiceHealth):
    server: str = ""  # the Bolt agent ("Neo4j/5.26.0"; FalkorDB says "Neo4j/5.13.0" too)
    version: str = ""  # "5.26.0 community": only a real Neo4j answers dbms.components()
    databases: tuple[str, ...] = ()
    # The graph's health: optional extras, each None or "" when not known (N/A on the panel). The
    # probe fills what the server says; the job's report (endpoints JSON) may fill the rest.
    nodes: int | None = None
    relationships: int | None = None
    heap: str = ""  # max heap in use, as configured ("31g"; "auto" when Neo4j sizes it)
    pagecache: str = ""  # page cache size in use
    store_bytes: int | None = None  # the store's size on disk
    last_dump: float | None = None  # epoch of the newest complete dump

    @property
    def is_neo4j(self) -> bool:
        return " " in self.version

    @property
    def server_label(self) -> str:
        """`Neo4j 5.26.0 community`, or the agent of a Bolt server that is not Neo4j (or did not say)."""
        return f"Neo4j {self.version}" if self.is_neo4j else (self.server or "Bolt server")


@dataclass(frozen=True, kw_only=True)
class Tunnel:
    name: str
    local_port: int
    remote_host: str
    remote_port: int
    up: bool
    pid: int | None = None
    started: float | None = None  # epoch
    checked: float | None = None  # epoch
    restarts: int = 0
    error: str = ""


@dataclass(frozen=True)
class BenchPoint:
    batch_size: int
    texts_per_s: float
    seconds: float


@dataclass(frozen=True)
class QueryPoint:
    """One benchmark query, run `runs` times after a warm-up: latency percentiles and rows/s."""

    label: str
    query: str
    runs: int
    p50_ms: float | None
    p95_ms: float | None
    rows_per_s: float | None
    rows: int  # rows per run (the last run's)
    error: str = ""  # why it could not be measured
