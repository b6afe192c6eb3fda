"""Slurm over the runner: the service job's state, submit, cancel, requeue, logs, partitions."""

from __future__ import annotations

import re

from ..config import Config
from ..models import CommandResult, Job, Partition
from .runner import RemoteError, Runner
from .slurm_parse import (SINFO_FORMAT, SQUEUE_FORMAT, job_from_scontrol, parse_scontrol,
                          parse_sinfo, parse_squeue_json, parse_squeue_text)

JOB_ID = re.compile(r"^\d+(_\d+)?$")


class SlurmError(RemoteError):
    pass


def check_job_id(job_id: str) -> str:
    if not JOB_ID.match(job_id):
        raise SlurmError(f"not a Slurm job id: {job_id!r}")
    return job_id


class SlurmClient:
    def __init__(self, runner: Runner, cfg: Config, use_json: bool = False) -> None:
        self.runner = runner
        self.cfg = cfg
        self.use_json = use_json
        self._user: str | None = None

    @property
    def job_name(self) -> str:
        return self.cfg.slurm.job_name

    def _ok(self, res: CommandResult) -> CommandResult:
        if not res.ok:
            raise SlurmError(res.error_text())
        return res

    async def user(self) -> str:
        if self._user is None:
            self._user = self._ok(await self.runner.poll(["id", "-un"])).stdout.strip()
        return self._user

    # -- reading ----------------------------------------------------------------------------
    async def jobs(self) -> list[Job]:
        """This user's jobs named like the service job that are not finished, oldest first."""
        if self.use_json:
            res = self._ok(await self.runner.poll(["squeue", "--json", "--me"]))
            user = await self.user()
            jobs = [j for j in parse_squeue_json(res.stdout)
                    if j.name == self.job_name and j.user == user and j.state.alive]
        else:
            jobs = parse_squeue_text(self._ok(await self.runner.poll(self.squeue_argv())).stdout)
        return sorted(jobs, key=lambda j: int(j.job_id.split("_")[0]))

    def squeue_argv(self) -> list[str]:
        return ["squeue", "--me", "--noheader", f"--name={self.job_name}", f"--format={SQUEUE_FORMAT}"]

    async def detail(self, job_id: str) -> dict[str, str]:
        res = await self.runner.poll(["scontrol", "show", "job", "--oneliner", check_job_id(job_id)])
        return parse_scontrol(self._ok(res).stdout)

    async def job(self, job_id: str) -> Job:
        return job_from_scontrol(await self.detail(job_id))

    async def partitions(self) -> list[Partition]:
        res = await self.runner.poll(["sinfo", "--noheader", "--Node", f"--Format={SINFO_FORMAT}"])
        return parse_sinfo(self._ok(res).stdout)

    async def log_path(self, job_id: str) -> str:
        return (await self.detail(job_id)).get("StdOut", "")

    async def log_tail(self, job_id: str, lines: int = 200) -> str:
        path = await self.log_path(job_id)
        if not path or path == "/dev/null":
            raise SlurmError(f"job {job_id} has no log file")
        res = await self.runner.poll(["tail", "-n", str(int(lines)), path])
        return self._ok(res).stdout

    # -- acting -----------------------------------------------------------------------------
    async def submit(self, script: str, extra_args: list[str] | None = None) -> str:
        """sbatch the script through stdin; returns the job id."""
        res = self._ok(await self.runner.run(["sbatch", "--parsable", *(extra_args or [])], input=script))
        job_id = res.stdout.strip().split(";")[0]
        return check_job_id(job_id)

    async def cancel(self, job_id: str) -> None:
        self._ok(await self.runner.run(self.cancel_argv(job_id)))

    async def requeue(self, job_id: str) -> None:
        self._ok(await self.runner.run(self.requeue_argv(job_id)))

    # The commands the confirmations show are the ones these run.
    @staticmethod
    def cancel_argv(job_id: str) -> list[str]:
        return ["scancel", check_job_id(job_id)]

    @staticmethod
    def requeue_argv(job_id: str) -> list[str]:
        return ["scontrol", "requeue", check_job_id(job_id)]
