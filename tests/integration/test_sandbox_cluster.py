"""The sandbox is real: over real SSH, a real sbatch job appears in squeue, is cancelled, leaves."""

from __future__ import annotations

import asyncio

from codex_console.backends.ssh import SshRunner


async def _wait_for(predicate, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.3)
    return False


async def test_sbatch_squeue_scancel_over_ssh(sandbox_config):
    runner = SshRunner(sandbox_config.login)
    try:
        submit = await runner.run(["sbatch", "--parsable", "--job-name=sandbox-proof",
                                   "--output=/dev/null", "--gres=gpu:1"],
                                  input="#!/bin/sh\necho $CUDA_VISIBLE_DEVICES\nsleep 300\n")
        assert submit.ok, submit.stderr
        job_id = submit.stdout.strip().split(";")[0]
        assert job_id.isdigit()

        async def listed_running() -> bool:
            res = await runner.poll(["squeue", "-h", "-j", job_id, "-o", "%i %t %b"])
            return res.stdout.split()[:2] == [job_id, "R"]

        assert await _wait_for(listed_running, 30), "job never reached R"
        cancel = await runner.run(["scancel", job_id])
        assert cancel.ok, cancel.stderr

        async def gone() -> bool:
            res = await runner.poll(["squeue", "-h", "-j", job_id, "-t", "all", "-o", "%t"])
            return res.stdout.strip() in ("", "CA")

        assert await _wait_for(gone, 30), "job did not leave the queue"
        assert runner.connections_opened == 1
    finally:
        await runner.close()
