"""Slurm through the SSH runner: list, submit, requeue, cancel, detail, partitions, logs."""

from __future__ import annotations

import pytest

from codex_console.backends.slurm import SlurmClient, SlurmError
from codex_console.backends.slurm_parse import parse_squeue_text
from codex_console.backends.ssh import SshRunner
from codex_console.models import JobState

from ..helpers import partition_options, wait_for


@pytest.mark.parametrize("use_json", [False, True], ids=["text", "json"])
async def test_list_submit_requeue_cancel(sandbox_config, tmp_path, use_json):
    sandbox_config.slurm.job_name = f"codex-t-slurm-{use_json}"
    runner = SshRunner(sandbox_config.login)
    slurm = SlurmClient(runner, sandbox_config, use_json=use_json)
    log = tmp_path / "job.log"
    try:
        job_id = await submit(runner, f"#!/bin/sh\n#SBATCH --job-name={slurm.job_name}\n"
                              f"#SBATCH --output={log}\n#SBATCH --requeue\n{partition_lines()}"
                              "echo started $SLURM_RESTART_COUNT\nsleep 300\n", "tok-" + str(use_json))

        async def state() -> JobState | None:
            jobs = {j.job_id: j for j in await slurm.jobs()}
            return jobs[job_id].state if job_id in jobs else None

        async def running() -> bool:
            return await state() is JobState.RUNNING

        assert await wait_for(running, 30)
        job = (await slurm.jobs())[0]
        assert job.node and job.partition == sandbox_config.slurm.partitions[0] and job.time_limit and job.time_left
        assert (await slurm.job_with_token("tok-" + str(use_json))).job_id == job_id
        assert await slurm.job_with_token("another") is None
        assert await wait_for(lambda: _has(slurm, job_id, "started"), 10)
        assert (await runner.run(slurm.requeue_argv(job_id))).ok
        assert await wait_for(lambda: _restarts(slurm, job_id, 1), 20)
        assert await state() in (JobState.PENDING, JobState.COMPLETING, JobState.RUNNING)
        assert (await runner.run(slurm.cancel_argv([job_id]))).ok
        assert await wait_for(lambda: _gone(slurm, job_id), 30)
    finally:
        await runner.close()


def partition_lines() -> str:
    return "".join(f"#SBATCH {option}\n" for option in partition_options())


async def submit(runner: SshRunner, script: str, token: str) -> str:
    res = await runner.run(SlurmClient.submit_argv(token), input=script)
    assert res.ok, res.stderr
    return res.stdout.strip().split(";")[0]


async def _has(slurm: SlurmClient, job_id: str, text: str) -> bool:
    try:
        return text in (await slurm.runner.poll(["cat", await slurm.log_path(job_id)])).stdout
    except SlurmError:
        return False


async def _restarts(slurm: SlurmClient, job_id: str, n: int) -> bool:
    return (await slurm.job(job_id)).restarts == n


async def _gone(slurm: SlurmClient, job_id: str) -> bool:
    return job_id not in {j.job_id for j in await slurm.jobs()}


async def test_partitions_and_bad_ids(sandbox_config):
    runner = SshRunner(sandbox_config.login)
    slurm = SlurmClient(runner, sandbox_config)
    try:
        parts = {p.name: p for p in await slurm.partitions()}
        assert {"titan", "rigel"} <= parts.keys() and parts["titan"].available
        for bad in ("1; scancel -u root", "$(id)", ""):
            with pytest.raises(SlurmError, match="not a Slurm job id"):
                slurm.cancel_argv([bad])
            with pytest.raises(SlurmError, match="not a Slurm job id"):
                slurm.signal_argv(bad, "USR1")
        with pytest.raises(SlurmError, match="not a signal name"):
            slurm.signal_argv("12", "USR1; reboot")
    finally:
        await runner.close()


async def test_a_user_squeue_format_cannot_break_parsing(sandbox_config):
    sandbox_config.slurm.job_name = "codex-t-format"
    runner = SshRunner(sandbox_config.login)
    slurm = SlurmClient(runner, sandbox_config)
    try:
        job_id = await submit(runner, "#!/bin/sh\n#SBATCH --job-name=codex-t-format\n"
                              "#SBATCH --output=/dev/null\nsleep 60\n", "fmt")
        # The user's SQUEUE_FORMAT (exported in their shell) does not change what we read.
        res = await runner.poll(["env", "SQUEUE_FORMAT=%.5i %Z", "SQUEUE_SORT=-t", *slurm.squeue_argv()])
        assert [j.job_id for j in parse_squeue_text(res.stdout)] == [job_id]
        await runner.run(slurm.cancel_argv([job_id]))
    finally:
        await runner.close()
