"""Every operation on the services, defined once: its key, label, whether it needs a yes, the
exact commands it will run for the jobs at hand, and how they run.

The dashboard's key bindings, its command palette and confirmations, and the CLI's `serve` and
`tunnel` subcommands are all made from `OPERATIONS`, so a verb means the same everywhere:

    start    submit the services job (refused while one exists; the check runs on the cluster)
    stop     cancel every job of the service (all of them: the hand-over pair too)
    requeue  `scontrol requeue` the service job: same job id, a new allocation (~2 min wait)
    restart  restart the embed replicas inside the running job, one at a time (no new job);
             `restart SERVICE` any other service of the catalogue
    restart-neo4j   restart Neo4j inside the running job
    neo4j-dump / neo4j-load PATH   a Neo4j dump now / a dump loaded (the job stops Neo4j for it)
    resubmit cancel every job of the service, then submit a new one (when the node is bad)
    tunnel start / tunnel stop     the tunnel keeper on this machine
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Awaitable, Callable

from . import deploy
from .backends.cluster import Cluster, home_path
from .backends.runner import RemoteError
from .backends.slurm import SlurmClient
from .catalogue import resolve
from .models import Job
from .neo4j_operations import plan_neo4j_dump, plan_neo4j_load, run_neo4j_request
from .plans import NotPossible, OperationFailed, Outcome, Plan, Step, execute, job_of, where
from .protocol import (
    APPEND_REQUEST,
    DEFAULT_RESTART,
    NEO4J_RESTART_SIGNAL,
    RESTART_SIGNAL,
    Request,
    request_file,
    request_line,
)

__all__ = ["OPERATIONS", "NotPossible", "Operation", "OperationFailed", "Outcome", "Plan", "Step", "operation",
           "perform"]


Planner = Callable[..., Awaitable[Plan]]  # (cluster, jobs) -> Plan; a restart also takes `service`
Performer = Callable[[Cluster, Plan], Awaitable[Outcome]]  # an operation's own way to carry out its plan


@dataclass(frozen=True)
class Operation:
    name: str  # the CLI word: `codex-console <group> <name>`
    key: str  # the dashboard key
    label: str  # the footer's word
    description: str  # help, palette, `--help`
    destructive: bool  # asks first (Cancel is the default), shows the commands
    plan: Planner
    run: Performer | None = None  # None: run the plan's steps in order (`execute`)
    group: str = "serve"
    target: str = ""  # what the CLI may name after it: "service" (restart), "path" (neo4j-load)


async def plan_start(cluster: Cluster, jobs: list[Job]) -> Plan:
    alive = [j for j in jobs if j.state.alive]
    if alive:
        raise NotPossible(f"{where(alive[-1])} exists already; a second one would only wait (singleton)")
    return await submission(cluster, "submit the services job")


async def submission(cluster: Cluster, what: str) -> Plan:
    """Render for the best partition and submit through the guard: under a lock next to the
    endpoints file, sbatch runs only if no job of the name exists (any state not finished)."""
    cfg = cluster.cfg
    try:
        place = deploy.placement(cfg, await cluster.slurm.partitions())
    except RemoteError:
        place = deploy.Placement(cfg.slurm.partitions[0], cfg.slurm.template)
    home = await cluster.remote_home()
    script = deploy.render(cfg, place.template, partition=place.partition, home=home,
                           api_key_file=cluster.api_key_file)
    token = uuid.uuid4().hex[:16]
    steps = [Step(("mkdir", "-p", deploy.absolute(cfg.services.log_dir, home)))]
    if cluster.api_key_file != "none":
        steps.append(Step(deploy.keygen_argv(cluster.api_key_file, cfg.services.endpoints_mode,
                                             cfg.services.group)))
    lock = home_path(cfg.services.endpoints_file) + ".lock"
    steps.append(Step(tuple(deploy.guarded_argv(lock, cfg.slurm.job_name, SlurmClient.submit_argv(token))),
                      stdin=script))
    note = f" ({place.note})" if place.note else ""
    return Plan(tuple(steps), f"{what}: {place.template} on {place.partition}{note}", token)


async def plan_stop(cluster: Cluster, jobs: list[Job]) -> Plan:
    """By name, not by the ids last seen: a successor submitted a moment ago goes too."""
    alive = [j for j in jobs if j.state.alive]
    if not alive:
        raise NotPossible("no service job")
    argv = SlurmClient.cancel_name_argv(cluster.cfg.slurm.job_name, await cluster.slurm.user())
    return Plan((Step(tuple(argv)),), f"cancel every {cluster.cfg.slurm.job_name} job: "
                + ", ".join(where(j) for j in alive))


async def plan_requeue(cluster: Cluster, jobs: list[Job]) -> Plan:
    job = job_of(jobs, running=True)
    return Plan((Step(tuple(SlurmClient.requeue_argv(job.job_id))),),
                f"requeue {where(job)}: it stops, waits about 2 minutes, then starts on a new allocation")


def _restart_plan(signal: str, default: str, what: str) -> Planner:
    """A restart in place: the signal alone restarts `default`; another service of the catalogue
    is named in the job's request file first (the supervisor reads it on the signal)."""
    async def plan(cluster: Cluster, jobs: list[Job], service: str = "") -> Plan:
        job = job_of(jobs, running=True)
        steps: tuple[Step, ...] = ()
        if service and service != default:
            names = [s.name for s in resolve(cluster.cfg.services, cluster.cfg.slurm, cluster.cfg.catalogue)]
            if service not in names:
                raise NotPossible(f"no service {service!r} in the catalogue ({', '.join(names)})")
            path = home_path(request_file(cluster.cfg.services.endpoints_file, job.job_id))
            line = request_line(Request.RESTART, service)
            steps = (Step(("sh", "-c", APPEND_REQUEST, "sh", path, line)),)
            what_now = f"restart {service} in place, one instance at a time"
        else:
            what_now = what
        return Plan(steps + (Step(tuple(SlurmClient.signal_argv(job.job_id, signal))),),
                    f"{what_now} inside {where(job)}; the job and its allocation stay")
    return plan


async def plan_resubmit(cluster: Cluster, jobs: list[Job]) -> Plan:
    stop = await plan_stop(cluster, jobs)
    fresh = await submission(cluster, "then submit a new job")
    # The guard would refuse while the old job ends: it waits for none to be left first.
    wait = Step(("sh", "-c", deploy.WAIT_GONE, "sh", cluster.cfg.slurm.job_name), timeout=150)
    return Plan(stop.steps + (wait,) + fresh.steps, f"{stop.summary}; {fresh.summary}", fresh.token)


async def plan_tunnels_open(cluster: Cluster, jobs: list[Job]) -> Plan:
    if cluster.cfg.login.local:
        raise NotPossible("local mode: the services are reachable without tunnels")
    return Plan((Step(tuple(cluster.tunnels.spawn_argv()), local=True),),
                f"start the tunnel keeper ({', '.join(cluster.tunnels.forward_names())})")


async def plan_tunnels_close(cluster: Cluster, jobs: list[Job]) -> Plan:
    pid = cluster.tunnels.keeper_pid()
    if pid is None:
        raise NotPossible("no tunnel keeper runs")
    return Plan((Step(("kill", "-TERM", str(pid)), local=True),), "stop the tunnel keeper and its ssh")


async def run_tunnels_open(cluster: Cluster, plan: Plan) -> Outcome:
    tunnels = await cluster.tunnels.start()
    up = [t.name for t in tunnels if t.up]
    down = [f"{t.name} ({t.error or 'down'})" for t in tunnels if not t.up]
    return Outcome("tunnels up: " + (", ".join(up) or "none") + ("; down: " + ", ".join(down) if down else ""))


async def run_tunnels_close(cluster: Cluster, plan: Plan) -> Outcome:
    stopped = await asyncio.to_thread(cluster.tunnels.stop)
    return Outcome("tunnels closed" if stopped else "no tunnels were open")


OPERATIONS: tuple[Operation, ...] = (
    Operation("start", "s", "Start", "Submit the services job", False, plan_start),
    Operation("stop", "c", "Cancel job", "Stop the service: cancel every job of it", True, plan_stop),
    Operation("requeue", "r", "Requeue", "Requeue the job (new allocation, same id)", True, plan_requeue),
    Operation("restart", "R", "Restart", "Restart the embed replicas in place, one at a time", True,
              _restart_plan(RESTART_SIGNAL, DEFAULT_RESTART, "restart the embed replicas one at a time"),
              target="service"),
    Operation("restart-neo4j", "N", "Neo4j", "Restart Neo4j in place", True,
              _restart_plan(NEO4J_RESTART_SIGNAL, "neo4j", "restart Neo4j")),
    Operation("resubmit", "X", "Resubmit", "Cancel the job and submit a new one", True, plan_resubmit),
    Operation("neo4j-dump", "D", "Dump", "Dump Neo4j now (it stops while neo4j-admin runs)", True,
              plan_neo4j_dump, run_neo4j_request),
    Operation("neo4j-load", "", "Load", "Load a Neo4j dump, replacing its databases", True,
              plan_neo4j_load, run_neo4j_request, target="path"),
    Operation("start", "t", "Open tunnels", "Open the tunnels (a keeper keeps them up)", False,
              plan_tunnels_open, run_tunnels_open, group="tunnel"),
    Operation("stop", "T", "Close tunnels", "Close the tunnels (the job keeps running)", False, plan_tunnels_close,
              run_tunnels_close, group="tunnel"),
)
BY_NAME = {f"{op.group} {op.name}": op for op in OPERATIONS}


def operation(group: str, name: str) -> Operation:
    return BY_NAME[f"{group} {name}"]


async def perform(cluster: Cluster, op: Operation, plan: Plan) -> Outcome:
    """Run what the plan says, the way the confirmation showed it."""
    outcome = await (op.run or execute)(cluster, plan)
    cluster.sources.refresh()
    return outcome
