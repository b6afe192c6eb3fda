"""Every setting of the console and the services job: its type, default, allowed range, doc."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .readings import WINDOWS


def setting(default: Any, *, min: float | None = None, max: float | None = None,
            choices: tuple[str, ...] | None = None, pattern: str | None = None,
            secret: bool = False) -> Any:
    """A dataclass field that knows its allowed values (checked when the config is loaded)."""
    meta = {"min": min, "max": max, "choices": choices, "pattern": pattern, "secret": secret}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


PORT = {"min": 1, "max": 65535}
DURATION = r"\d+[smhd]?"  # 30, 30s, 15m, 8h, 2d
RANGE = r"@?(~|[-+]?\d+(\.\d+)?)?(:([-+]?\d+(\.\d+)?)?)?"  # monitoring-plugins range syntax


@dataclass
class LoginConfig:
    host: str = setting("98dci4-srv-1001", pattern=r"[A-Za-z0-9_.@:%+-]+")  # name or ~/.ssh/config alias
    port: int = setting(0, min=0, max=65535)  # 0: as ~/.ssh/config says (else 22)
    user: str = setting("")  # "": as ~/.ssh/config says (else the local user)
    identity: str = setting("")  # "": as ~/.ssh/config says
    known_hosts: str = setting("")  # "": as ~/.ssh/config says (UserKnownHostsFile)
    ssh_config: str = setting("")  # "": ~/.ssh/config (aliases, ProxyJump...); a path; or "none"
    transport: str = setting("asyncssh", choices=("asyncssh", "openssh"))
    control_persist: str = setting("8h", pattern=DURATION)  # openssh transport: master lifetime
    local: bool = setting(False)  # already on the login node: run commands here, no SSH
    connect_timeout: float = setting(10.0, min=1, max=300)
    command_timeout: float = setting(20.0, min=1, max=600)
    keepalive: float = setting(15.0, min=1, max=600)


@dataclass
class SlurmConfig:
    job_name: str = setting("codex-services", pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
    partitions: list[str] = setting(["titan", "rigel", "sun", "sirius"])
    template: str = setting("services", choices=("services", "embed", "neo4j"))
    gpus: int = setting(1, min=0, max=16)
    cpus_per_gpu: int = setting(4, min=1, max=256)
    mem: str = setting("64G", pattern=r"\d+[KMGT]?")
    time_limit: str = setting("7-00:00:00", pattern=r"(\d+-)?\d{1,2}(:\d{2}){0,2}|UNLIMITED")
    nodelist: str = setting("", pattern=r"[A-Za-z0-9_.,\[\]-]{0,256}")
    gpu_query: str = setting("srun", choices=("srun", "ssh"))  # how nvidia-smi reaches the node
    nodes: int = setting(1, min=1, max=64)  # one supervisor per node; Neo4j on the first


@dataclass
class ServicesConfig:
    embed_port: int = setting(18765, **PORT)
    bolt_port: int = setting(7687, **PORT)
    http_port: int = setting(7474, **PORT)
    endpoints_file: str = setting("~/.codex-services.env")
    endpoints_mode: str = setting("0600", choices=("0600", "0640"))  # 0640: the group reads it
    group: str = setting("", pattern=r"[A-Za-z0-9_.-]{0,64}")  # team group of the shared files
    log_dir: str = setting("~/.local/share/codex-console/services", pattern=r"[A-Za-z0-9_./%+~$-]{1,512}")
    python: str = setting("python3")  # on the cluster, with codex-console installed: runs the job
    embed_command: str = setting("codex-embed-server")
    model: str = setting("~/models/Qwen3-Embedding-0.6B")
    embed_device: str = setting("auto", pattern=r"auto|cpu|cuda(:\d+)?")
    embed_dimension: int = setting(256, min=1, max=65536)
    neo4j_command: str = setting(
        "apptainer exec --bind $HOME/neo4j/data:/data $HOME/neo4j/neo4j.sif neo4j console")
    neo4j_lock: str = setting("$HOME/neo4j/data/databases/store_lock")
    neo4j_user: str = setting("")
    neo4j_password: str = setting("", secret=True)
    neo4j_password_file: str = setting("")  # on the cluster; read through the login node
    api_key_file: str = setting("")  # "": created by `serve start` when the server is not local
    restart_limit: int = setting(5, min=0, max=1000)  # restarts in a row before a replica is down
    requeue_limit: int = setting(3, min=0, max=100)  # self-requeues in requeue_window, then FAILED
    requeue_window: str = setting("24h", pattern=DURATION)
    exclude_failed_node: bool = setting(True)  # a requeue after a GPU failure avoids that node
    ready_timeout: int = setting(600, min=10, max=7200)  # seconds a service may take to get ready
    stop_timeout: int = setting(110, min=5, max=3600)  # seconds Neo4j gets to stop on SIGTERM
    rollover_lead: str = setting("30m", pattern=DURATION)  # hand over this long before the limit


@dataclass
class TunnelsConfig:
    embed_local_port: int = setting(18765, **PORT)
    bolt_local_port: int = setting(17687, **PORT)
    http_local_port: int = setting(17474, **PORT)
    state_dir: str = setting("")  # "": $XDG_STATE_HOME/codex-console/tunnels
    forwards: list[str] = setting(["embed", "bolt", "http"])
    check_interval: float = setting(5.0, min=0.5, max=300)


@dataclass
class PollConfig:
    """Seconds between two polls of each source. The embed probe is a real /embed round trip
    through the tunnel (with /ready and /metrics) and redraws the embed panel: the dearest poll.
    Every 5 s, an idle console with the charts on screen uses under 1% of a core (every 2 s:
    1.8%); set it lower to watch a load test."""

    slurm: float = setting(15.0, min=0.2, max=3600)
    gpu: float = setting(3.0, min=0.2, max=3600)
    embed: float = setting(5.0, min=0.2, max=3600)
    neo4j: float = setting(5.0, min=0.2, max=3600)
    tunnels: float = setting(5.0, min=0.2, max=3600)
    health: float = setting(60.0, min=0.2, max=3600)  # the watchdog's check history


@dataclass
class ThresholdsConfig:
    """Nagios ranges (`10`, `10:`, `~:10`, `10:20`, `@10:20`): alert when outside (or inside, @)."""

    embed_latency_warn: str = setting("500", pattern=RANGE)  # ms
    embed_latency_crit: str = setting("3000", pattern=RANGE)
    neo4j_latency_warn: str = setting("250", pattern=RANGE)  # ms
    neo4j_latency_crit: str = setting("2000", pattern=RANGE)
    gpu_temp_warn: str = setting("85", pattern=RANGE)  # C
    gpu_temp_crit: str = setting("92", pattern=RANGE)
    check_timeout: float = setting(20.0, min=1, max=600)
    timeout_state: str = setting("UNKNOWN", choices=("OK", "WARNING", "CRITICAL", "UNKNOWN"))


@dataclass
class UiConfig:
    readonly: bool = setting(False)
    chart_window: str = setting("5m", choices=tuple(WINDOWS))


# A benchmark query: an optional `label: ` and Cypher; `$id` is given node ids sampled from the graph.
# Each runs on real Neo4j (5.x and 4.x) and on FalkorDB's Cypher (the sandbox's Bolt server).
BENCH_QUERIES = [
    "point: MATCH (n) WHERE id(n) = $id RETURN n",
    "2-hop: MATCH (n)--()--(m) WHERE id(n) = $id RETURN count(m) AS reached",
    "aggregate: MATCH (n) RETURN labels(n)[0] AS label, count(*) AS nodes ORDER BY nodes DESC",
]


@dataclass
class Neo4jConfig:
    """Neo4j operations: its memory, dumps by the job (see codex_console/node/neo4j_dump.py) and the
    query benchmark.

    `admin_command` is the `neo4j-admin` prefix, split like a shell would (quotes, `$VAR`, `~`), never
    run through a shell; `database dump ... --to-path=<dump_dir>/<UTC time>` follows it. With apptainer
    the dump directory is reached at the same path inside the image: apptainer binds $HOME by default,
    so a `dump_dir` under $HOME needs nothing; elsewhere add `--bind <dir>` to `admin_command`.
    """

    dump_dir: str = setting("~/neo4j/dumps", pattern=r"[A-Za-z0-9_./%+~$-]{1,512}")
    dump_every: str = setting("24h", pattern=DURATION)  # "0": no scheduled dumps
    dump_keep: int = setting(7, min=1, max=1000)  # complete dumps kept; older ones are removed
    admin_command: str = setting(
        "apptainer exec --bind $HOME/neo4j/data:/data $HOME/neo4j/neo4j.sif neo4j-admin")
    bench_queries: list[str] = setting(BENCH_QUERIES, pattern=r"(?s)([A-Za-z0-9_.-]{1,32}: )?\S.{0,4000}")
    bench_runs: int = setting(20, min=1, max=10000)  # times each query runs (after one warm-up)
    heap: str = setting("", pattern=r"(\d+[kmgKMG]?)?")  # initial = max; "": sized from the job's memory
    pagecache: str = setting("", pattern=r"(\d+[kmgKMG]?)?")  # "": what the heap and the system leave


SECTIONS = {"login": LoginConfig, "slurm": SlurmConfig, "services": ServicesConfig,
            "tunnels": TunnelsConfig, "poll": PollConfig, "thresholds": ThresholdsConfig,
            "ui": UiConfig, "neo4j": Neo4jConfig}
