"""Slurm over the runner: reading jobs, partitions and logs, and the argv of every Slurm action."""

from __future__ import annotations

import re

from ..config import Config
from ..models import CommandResult, Job, JobState, Partition
from .accounting import PastJob, cancelling_uids, check_answer, parse_sacct, sacct_argv
from .runner import RemoteError, Runner
from .slurm_parse import (
    SINFO_FORMAT,
    SQUEUE_FORMAT,
    job_from_scontrol,
    parse_scontrol,
    parse_sinfo,
    parse_squeue_json,
    parse_squeue_text,
)

JOB_ID = re.compile(r"^\d+(_\d+)?$")
SUBMIT_TOKEN = "codex-submit:"


class SlurmError(RemoteError):
    pass


def check_job_id(job_id: str) -> str:
    if not JOB_ID.match(job_id):
        raise SlurmError(f"not a Slurm job id: {job_id!r}")
    return job_id


def service_job(jobs: list[Job] | None) -> Job | None:
    """The job that stands for the service: the oldest running one, else the newest waiting one.

    The console, the check and every operation pick the job by this one rule."""
    alive = [j for j in jobs or [] if j.state.alive]
    if not alive:
        return None
    running = [j for j in alive if j.state is JobState.RUNNING]
    return running[0] if running else alive[-1]


class SlurmClient:
    def __init__(self, runner: Runner, cfg: Config, use_json: bool = False) -> None:
        self.runner = runner
        self.cfg = cfg
        self.use_json = use_json
        self._user: str | None = None

    @property
    def job_name(self) -> str:
        return self.cfg.slurm.job_name

    @staticmethod
    def ok(res: CommandResult) -> CommandResult:
        if not res.ok:
            raise SlurmError(res.error_text())
        return res

    async def user(self) -> str:
        if self._user is None:
            self._user = self.ok(await self.runner.poll(["id", "-un"])).stdout.strip()
        return self._user

    # -- reading ----------------------------------------------------------------------------
    async def jobs(self) -> list[Job]:
        """This user's jobs named like the service job that are not finished, oldest first."""
        if self.use_json:
            res = self.ok(await self.runner.poll(["squeue", "--json", "--me"]))
            user = await self.user()
            jobs = [j for j in parse_squeue_json(res.stdout) if j.name == self.job_name and j.user == user]
        else:
            jobs = parse_squeue_text(self.ok(await self.runner.poll(self.squeue_argv())).stdout)
        return sorted((j for j in jobs if j.state.alive), key=lambda j: int(j.job_id.split("_")[0]))

    def squeue_argv(self) -> list[str]:
        # --states=all: the default filter hides states that are not finished (SPECIAL_EXIT,
        # REQUEUE_HOLD...); `alive` decides instead.
        return ["squeue", "--me", "--noheader", "--states=all", f"--name={self.job_name}",
                f"--Format={SQUEUE_FORMAT}"]

    async def detail(self, job_id: str) -> dict[str, str]:
        res = await self.runner.poll(["scontrol", "show", "job", "--oneliner", check_job_id(job_id)])
        return parse_scontrol(self.ok(res).stdout)

    async def job(self, job_id: str) -> Job:
        return job_from_scontrol(await self.detail(job_id))

    async def partitions(self) -> list[Partition]:
        res = await self.runner.poll(["sinfo", "--noheader", "--Node", f"--Format={SINFO_FORMAT}"])
        return parse_sinfo(self.ok(res).stdout)

    async def past_jobs(self, since_seconds: float = 7 * 86400) -> list[PastJob]:
        """The service's jobs that accounting knows of since then, every run of a requeued job
        a row; raises AccountingUnavailable where the cluster has no `sacct` for us."""
        res = await self.runner.poll(sacct_argv(self.job_name, await self.user(), since_seconds))
        text = check_answer(res.returncode, res.stdout, res.stderr)
        users: dict[str, str] = {}
        uids = sorted(cancelling_uids(text))
        if uids:  # "CANCELLED by 1000": say who
            found = await self.runner.poll(["getent", "passwd", *uids])
            entries = [line.split(":") for line in found.stdout.splitlines()]
            users = {e[2]: e[0] for e in entries if len(e) > 2}
        return parse_sacct(text, users)

    async def log_path(self, job_id: str) -> str:
        path = (await self.detail(job_id)).get("StdOut", "")
        if not path or path == "/dev/null":
            raise SlurmError(f"job {job_id} has no log file")
        return path

    # -- the argv of each action (the confirmations show these, the operations run them) ------
    @staticmethod
    def submit_argv(token: str) -> list[str]:
        """sbatch reading the script from stdin; the token finds the job after a lost answer."""
        return ["sbatch", "--parsable", f"--comment={SUBMIT_TOKEN}{token}"]

    @staticmethod
    def cancel_argv(job_ids: list[str]) -> list[str]:
        return ["scancel", *(check_job_id(j) for j in job_ids)]

    @staticmethod
    def cancel_name_argv(name: str, user: str) -> list[str]:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name) or not re.fullmatch(r"[A-Za-z0-9_.-]+", user):
            raise SlurmError(f"not a job name and user: {name!r} {user!r}")
        return ["scancel", f"--name={name}", f"--user={user}"]

    @staticmethod
    def requeue_argv(job_id: str) -> list[str]:
        return ["scontrol", "requeue", check_job_id(job_id)]

    @staticmethod
    def signal_argv(job_id: str, signal: str) -> list[str]:
        """A signal to the job's batch shell only (its supervisor), not to its services."""
        if not re.fullmatch(r"[A-Z0-9]+", signal):
            raise SlurmError(f"not a signal name: {signal!r}")
        return ["scancel", f"--signal={signal}", "--batch", check_job_id(job_id)]

    async def job_with_token(self, token: str) -> Job | None:
        """The job a submission with this token created, if Slurm accepted it."""
        for job in await self.jobs():
            if job.comment == SUBMIT_TOKEN + token:
                return job
        return None
