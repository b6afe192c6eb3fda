"""What the console and the services job agree on, defined once and imported by both.

The job (`codex_console.node`, on the compute node) and the console (laptop, login node, cron)
run the same package, so each fact lives here: what a signal to the job means, the files the
job writes next to the endpoints file and their keys, the states of a service instance and of a
hand-over, the Bolt handshake, the embed server's exit code for a broken GPU. Standard library
only: the job imports it without the console's packages.
"""

from __future__ import annotations

import enum

# -- signals to the job's supervisor (`scancel --signal=NAME --batch JOB`) ----------------------
RESTART_SIGNAL = "USR1"  # restart in place: the services named in the request file, else `embed`
NEO4J_RESTART_SIGNAL = "USR2"  # restart Neo4j in place
END_SIGNAL = "XCPU"  # the end-of-time signal (`--signal=B:XCPU@lead`): stop cleanly, maybe requeue
SIGNAL_SLACK = 10  # the signal comes this long before Neo4j's stop_timeout would run out
SIGNAL_EARLY = 60  # Slurm may send it up to a minute early (sbatch(1), --signal)
DEFAULT_RESTART = "embed"  # what a bare RESTART_SIGNAL restarts


def signal_lead(stop_timeout: int) -> int:
    """Seconds before the time limit at which the job asks for its end-of-time signal."""
    return int(stop_timeout) + SIGNAL_SLACK


def shortest_lead(stop_timeout: int) -> int:
    """The shortest rollover lead that can work: the hand-over must begin before the end-of-time
    signal, which comes `signal_lead` before the limit, or up to a minute earlier."""
    return signal_lead(stop_timeout) + SIGNAL_EARLY


# -- the job's Slurm side ------------------------------------------------------------------------
ROLLOVER_COMMENT = "codex-rollover:"  # a successor's --comment: codex-rollover:<predecessor id>
PREDECESSOR_ENV = "CODEX_PREDECESSOR"  # set in the successor's environment
SPEC_ENV = "CODEX_JOB_SPEC"  # the job's settings and catalogue, as JSON, in the sbatch script
SPEC_FORMAT = 1  # bumped when the spec changes shape: a job refuses one it cannot read
EXIT_DEVICE = 3  # codex-embed-server's exit code when the GPU itself is unusable
PORT_BLOCK = 8  # a successor on its predecessor's node takes the next block of ports
PORT_BLOCKS = 3  # blocks tried: a service's ports are port + b * PORT_BLOCK + i, b < PORT_BLOCKS

# -- files next to the endpoints file ------------------------------------------------------------
JSON_SUFFIX = ".json"  # the endpoints file's JSON twin: every service, instance, node and state


def json_twin(endpoints_file: str) -> str:
    return endpoints_file + JSON_SUFFIX


def state_file(endpoints_file: str, job_id: str, node: str = "") -> str:
    """A job's own state (JSON), read by the other job of a hand-over and by the job's first node
    (a node of a job of several writes its own)."""
    return f"{endpoints_file}.job-{job_id}" + (f".node-{node}" if node else "") + ".json"


def request_file(endpoints_file: str, job_id: str) -> str:
    """What the job is asked to do, one request a line; the RESTART_SIGNAL says to read it."""
    return f"{endpoints_file}.job-{job_id}.restart"


class Request(str, enum.Enum):
    """A line of the request file: `<verb> <args>` (a bare service name is a restart)."""

    RESTART = "restart"  # restart NAME: one service in place
    NEO4J_DUMP = "neo4j-dump"  # neo4j-dump ID: stop Neo4j, dump system and neo4j, start it again
    NEO4J_LOAD = "neo4j-load"  # neo4j-load ID PATH: stop Neo4j, load the dump at PATH, start it again


REQUEST_MAX_AGE = 600  # seconds: an older request (its signal never came) is not carried out
# Appends one request to the file, stamped with the login node's clock (the job's agrees: NTP).
APPEND_REQUEST = 'umask 077; printf "@%s %s\\n" "$(date +%s)" "$2" >>"$1"'


def request_line(verb: Request, *args: str) -> str:
    if any(not a or any(c.isspace() for c in a) for a in args):
        raise ValueError(f"a request's words may hold no spaces: {args!r}")
    return " ".join((verb.value, *args))


def parse_request(line: str) -> tuple[Request, tuple[str, ...], float | None] | None:
    """`@<epoch> <verb> <args>` -> (verb, args, when); a bare name is a restart of it."""
    words = line.split()
    at = None
    if words and words[0].startswith("@") and words[0][1:].isdigit():
        at, words = float(words[0][1:]), words[1:]
    if not words:
        return None
    verb = next((r for r in Request if r.value == words[0]), None)
    return (verb, tuple(words[1:]), at) if verb is not None else (Request.RESTART, (words[0],), at)


def requeues_file(endpoints_file: str) -> str:
    return f"{endpoints_file}.requeues"


def urls_key(service: str) -> str:
    """The endpoints file's line for a service: `embed-8b` -> `EMBED_8B_URLS`."""
    return service.upper().replace("-", "_") + "_URLS"


class Key(str, enum.Enum):
    """The endpoints file's keys (KEY=VALUE lines that tools `source`), besides `<NAME>_URLS`."""

    EMBED_URL = "EMBED_URL"  # the first ready embed replica (older tools read one URL)
    EMBED_URLS = "EMBED_URLS"
    NEO4J_URI = "NEO4J_URI"
    EMBED_DOWN = "EMBED_DOWN"  # instances marked down, every service's
    JOB_ID = "JOB_ID"
    NODE = "NODE"  # the first node
    NODES = "NODES"
    STARTED = "STARTED"
    RESTART_COUNT = "RESTART_COUNT"  # Slurm's requeues of this job
    SERVICE_RESTARTS = "SERVICE_RESTARTS"  # restarts of its services so far (after an exit, or in place)
    LOG_FILE = "LOG_FILE"
    REASON = "REASON"  # why not everything serves, in words
    EVENTS = "EVENTS"  # the supervisor's last few events, `|`-separated
    HANDOVER = "HANDOVER"  # `<phase>` or `<phase>: <detail>`
    SUCCESSOR = "SUCCESSOR"
    PREDECESSOR = "PREDECESSOR"
    NEO4J_MOVED = "NEO4J_MOVED"  # when and how fast Neo4j moved in the last hand-over, in words
    WARNINGS = "WARNINGS"  # things to fix that do not stop serving (a store on NFS...)
    STALE = "STALE"  # 0 only while every service has something ready


# -- states -------------------------------------------------------------------------------------
class InstanceState(str, enum.Enum):
    """One service instance, as its supervisor sees it."""

    WAITING = "waiting"  # may not start yet: its store is still the predecessor's
    STARTING = "starting"  # launched, not (or no longer) answering its readiness check
    READY = "ready"
    STOPPING = "stopping"  # being stopped: out of the endpoints file
    BACKOFF = "backoff"  # exited; starts again after a pause
    DOWN = "down"  # failed too often in a row: tried again every DOWN_RETRY seconds
    STOPPED = "stopped"  # stopped by the supervisor (the job ends, a restart in place)
    HANDED_OVER = "handed-over"  # Neo4j, given to the successor of a hand-over


class HandoverPhase(str, enum.Enum):
    """Where a hand-over to the next job stands, as the job that hands over reports it."""

    SUBMITTED = "submitted"
    PENDING = "pending"  # the successor waits for resources (detail: Slurm's reason)
    STARTING = "starting"  # the successor runs, its services are not ready yet
    READY = "ready"  # its services are ready and listed beside ours
    NEO4J_MOVING = "neo4j-moving"
    DONE = "done"
    FAILED = "failed"  # detail: why, and when it is tried again

    @property
    def under_way(self) -> bool:
        """A successor is ready or taking over: nothing to warn about."""
        return self in (HandoverPhase.READY, HandoverPhase.NEO4J_MOVING, HandoverPhase.DONE)

    @classmethod
    def parse(cls, text: str) -> HandoverPhase | None:
        """`pending: successor 12 waits (Resources)` -> PENDING; None for anything else."""
        word = text.split(":", 1)[0].strip()
        return next((p for p in cls if p.value == word), None)


# -- the Bolt handshake: magic and four protocol versions (5.x, 4.4, 4.3, 3) --------------------
BOLT_HANDSHAKE = bytes.fromhex("6060b017" "00000405" "00000404" "00000304" "00000003")
