"""How an operation runs: its plan (the exact commands, shown before it runs), its steps on the
login node or here, and what came of it. A submission carries a token, so that a lost answer
never submits twice."""

from __future__ import annotations

import asyncio
import shlex
import time
from dataclasses import dataclass

from .backends.cluster import Cluster
from .backends.runner import ActionInDoubt, Unreachable
from .backends.slurm import service_job
from .backends.slurm_reasons import explain_refusal
from .models import Job, JobState


class NotPossible(RuntimeError):
    """The operation does not apply now (no job to cancel...); the message says why."""


class OperationFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    stdin: str | None = None  # e.g. the sbatch script
    local: bool = False  # runs on this machine, not on the login node
    timeout: float = 60.0

    def show(self) -> str:
        return shlex.join(self.argv) + (" <services.sbatch" if self.stdin else "")


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    summary: str  # what will happen, in words
    token: str = ""  # a submission's token (its --comment), to find it after a lost answer
    request: str = ""  # a request to the job (a Neo4j dump or load): its id, to find the job's answer

    @property
    def commands(self) -> list[str]:
        return [s.show() for s in self.steps]


@dataclass(frozen=True)
class Outcome:
    message: str
    job_id: str = ""


def job_of(jobs: list[Job], *, running: bool = False) -> Job:
    job = service_job(jobs)
    if job is None:
        raise NotPossible("no service job")
    if running and job.state is not JobState.RUNNING:
        raise NotPossible(f"job {job.job_id} is {job.state.name.lower()}, not running")
    return job


def where(job: Job) -> str:
    return f"job {job.job_id} ({job.state.name.lower()}{' on ' + job.node if job.node else ''})"


async def execute(cluster: Cluster, plan: Plan) -> Outcome:
    job_id = ""
    for step in plan.steps:
        try:
            res = await cluster.runner.run(list(step.argv), input=step.stdin, timeout=step.timeout)
        except ActionInDoubt:
            if not plan.token:
                raise
            job_id = await _recover(cluster, plan, step)
            continue
        if not res.ok:
            refused = explain_refusal(res.stderr + res.stdout)
            raise OperationFailed(f"{step.argv[0]} failed: {res.error_text()}"
                                  + (f"\n{refused.means}; what to do: {refused.action}" if refused else ""))
        if plan.token and step.stdin is not None:
            job_id = res.stdout.strip().split(";")[0]
    return Outcome(plan.summary + (f": job {job_id}" if job_id else ""), job_id)


async def _recover(cluster: Cluster, plan: Plan, step: Step) -> str:
    """The connection broke while sbatch ran: ask Slurm whether it took the job before
    submitting again (and the guard would refuse a duplicate anyway)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            found = await cluster.slurm.job_with_token(plan.token)
            break
        except Unreachable:
            if time.monotonic() > deadline:
                raise OperationFailed("the connection broke while sbatch ran and did not come back: "
                                      "check `squeue --me` before submitting again") from None
            await asyncio.sleep(1)
    if found is not None:
        return found.job_id
    res = await cluster.runner.run(list(step.argv), input=step.stdin, timeout=60)
    if not res.ok:
        raise OperationFailed(f"{step.argv[0]} failed after a reconnect: {res.error_text()}")
    return res.stdout.strip().split(";")[0]
