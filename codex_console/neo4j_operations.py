"""Neo4j's operations from the console: a dump now, and a load of a dump, done by the job.

The console writes the request in the job's request file and sends the restart signal; the job
stops Neo4j, runs neo4j-admin, starts it again, and reports in the endpoints file (EVENTS, and
the JSON twin's `neo4j` facts, by the request's id). The confirmation says what stops and for how
long (the last outage), or what a load replaces with which dump; the CLI waits for the job's
report, and a load is verified by counting the graph through Bolt.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone

from .backends.cluster import Cluster, home_path
from .backends.runner import RemoteError
from .backends.slurm import SlurmClient
from .models import Endpoints, Job
from .plans import NotPossible, OperationFailed, Outcome, Plan, Step, execute, job_of, where
from .protocol import APPEND_REQUEST, RESTART_SIGNAL, HandoverPhase, Request, request_file, request_line
from .units import human_bytes

REPORT_WAIT = 6 * 3600.0  # how long the console waits for the job to say how it went


async def _endpoints(cluster: Cluster, job: Job) -> Endpoints:
    ep = await cluster.endpoints_reader.read()
    if ep.job_id != job.job_id:
        raise NotPossible(f"the endpoints file is not job {job.job_id}'s yet ({ep.job_id or 'none'})")
    if ep.handover is not None and ep.handover is not HandoverPhase.FAILED and ep.handover is not HandoverPhase.DONE:
        raise NotPossible(f"a hand-over to the next job is under way ({ep.get('HANDOVER')}): Neo4j moves")
    facts = dict(ep.neo4j)
    if facts.get("operation_state") == "running":
        raise NotPossible(f"a Neo4j {facts.get('operation')} runs already: {facts.get('operation_message')}")
    if not ep.neo4j_uri:
        raise NotPossible("the job's Neo4j is not serving: " + (ep.reason or "see the job log"))
    return ep


def _request_steps(cluster: Cluster, job: Job, verb: Request, *args: str) -> tuple[str, tuple[Step, ...]]:
    request = uuid.uuid4().hex[:12]
    path = home_path(request_file(cluster.cfg.services.endpoints_file, job.job_id))
    line = request_line(verb, request, *args)
    return request, (Step(("sh", "-c", APPEND_REQUEST, "sh", path, line)),
                     Step(tuple(SlurmClient.signal_argv(job.job_id, RESTART_SIGNAL))))


async def plan_neo4j_dump(cluster: Cluster, jobs: list[Job]) -> Plan:
    job = job_of(jobs, running=True)
    ep = await _endpoints(cluster, job)
    facts = dict(ep.neo4j)
    last = (f"Bolt was down {facts['bolt_down']}s the last time" if facts.get("bolt_down")
            else "a clean stop, the dump, and a start")
    request, steps = _request_steps(cluster, job, Request.NEO4J_DUMP)
    return Plan(steps, f"dump Neo4j of {where(job)} to {cluster.cfg.neo4j.dump_dir}/<UTC time>: Neo4j stops and "
                       f"Bolt is down while neo4j-admin dumps system and neo4j ({last}); the embed service keeps "
                       "serving", request=request)


def describe_dump(listing: str, path: str, now: float) -> tuple[str, list[str]]:
    """`stat -c '%n %s %Y'` lines of a dump's archives -> (its date, age and size, the databases)."""
    rows = [line.rsplit(" ", 2) for line in listing.splitlines() if line.count(" ") >= 2]
    archives = [(name.rsplit("/", 1)[-1].removesuffix(".dump"), int(size), int(mtime)) for name, size, mtime in rows
                if name.endswith(".dump") and size.isdigit() and mtime.isdigit()]
    if not archives:
        raise NotPossible(f"{path}: no <database>.dump archive there on the cluster")
    folder = path.rstrip("/") if not path.endswith(".dump") else path.rsplit("/", 1)[0]
    try:
        taken = datetime.strptime(folder.rsplit("/", 1)[-1], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        taken = max(m for _, _, m in archives)
    hours = (now - taken) / 3600
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(taken)) + f" ({hours:.1f}h ago)"
    sizes = ", ".join(f"{db} {human_bytes(size)}" for db, size, _ in archives)
    return f"{when}, {human_bytes(sum(s for _, s, _ in archives))}: {sizes}", [db for db, _, _ in archives]


async def plan_neo4j_load(cluster: Cluster, jobs: list[Job], path: str = "") -> Plan:
    if not path:
        raise NotPossible("which dump? `serve neo4j-load PATH` (a dump folder, or one <database>.dump in it)")
    if any(c.isspace() for c in path):
        raise NotPossible(f"{path!r}: a dump path with spaces cannot be passed to the job")
    job = job_of(jobs, running=True)
    await _endpoints(cluster, job)
    script = 'if [ -d "$1" ]; then stat -c "%n %s %Y" -- "$1"/*.dump; else stat -c "%n %s %Y" -- "$1"; fi'
    try:
        res = await cluster.runner.poll(["sh", "-c", script, "sh", home_path(path)])
    except RemoteError as exc:
        raise NotPossible(f"cannot look at {path} on the cluster: {exc}") from None
    what, databases = describe_dump(res.stdout, path, time.time())
    health = cluster.sources.neo4j.reading.fresh_value
    now = (f" (now {health.nodes} nodes, {health.relationships} relationships)"
           if health is not None and getattr(health, "nodes", None) is not None else "")
    request, steps = _request_steps(cluster, job, Request.NEO4J_LOAD, path)
    return Plan(steps, f"replace the databases {', '.join(databases)} of {where(job)}'s Neo4j{now} with the dump of "
                       f"{what}; Neo4j stops and Bolt is down while neo4j-admin loads it", request=request)


async def run_neo4j_request(cluster: Cluster, plan: Plan, wait: float | None = None) -> Outcome:
    """Send the request, then wait for the job's answer to it (and verify a load)."""
    await execute(cluster, plan)
    wait = REPORT_WAIT if wait is None else wait
    deadline = time.monotonic() + wait
    job = ""
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        try:
            ep = await cluster.endpoints_reader.read()
        except RemoteError:
            continue  # a passing failure: look again
        job = job or ep.job_id
        if ep.job_id != job:  # requeued, handed over or gone: the job that was asked will not answer
            raise OperationFailed(f"the endpoints file is job {ep.job_id or 'none'}'s now, not job {job}'s, "
                                  "which was asked: see its events and log")
        facts = dict(ep.neo4j)
        if facts.get("operation_id") != plan.request or facts.get("operation_state") in (None, "running"):
            continue
        message = facts.get("operation_message", "")
        if facts.get("operation_state") != "done":
            raise OperationFailed(f"Neo4j {facts.get('operation')} {facts.get('operation_state')}: {message}")
        if facts.get("operation") == "load":
            message += "; " + await _count(cluster, ep.neo4j_uri)
        return Outcome(message)
    raise OperationFailed(f"the job did not report on the request within {wait:.0f}s: see the job log")


async def _count(cluster: Cluster, uri: str) -> str:
    try:
        health = await cluster.neo4j.probe(uri)
    except Exception as exc:  # noqa: BLE001 - the load happened; the count could not be read
        return f"not verified: {exc}"
    return f"verified: {health.nodes} nodes, {health.relationships} relationships"
