"""GPU readings cost Slurm nothing per poll: one long-lived step streams nvidia-smi, however often
the console asks (Slurm's MaxStepCount is 40,000 steps per job)."""

from __future__ import annotations

import asyncio

from codex_console.backends.cluster import Cluster

from ..helpers import wait_for


async def next_step_id(cluster: Cluster, job_id: str) -> int:
    """The id Slurm hands the next step (this probe is a step of its own)."""
    res = await cluster.runner.run(["srun", f"--jobid={job_id}", "--overlap", "--gres=none", "--quiet",
                                    "sh", "-c", "echo $SLURM_STEP_ID"], timeout=30)
    return int(res.stdout.strip())


async def test_polling_gpus_fast_creates_at_most_two_steps(sandbox_config):
    cfg = sandbox_config
    cfg.slurm.job_name = "codex-t-gpusteps"
    cfg.poll.gpu = 0.2
    cluster = Cluster(cfg, stream_gpu=True)
    res = await cluster.runner.run(["sbatch", "--parsable", "--job-name=codex-t-gpusteps", "--gres=gpu:1",
                                    "--output=/dev/null"], input="#!/bin/sh\nsleep 300\n")
    job_id = res.stdout.strip()
    try:
        async def running() -> bool:
            await cluster.sources.jobs.poll_once()
            job = cluster.sources.job
            return job is not None and job.state.name == "RUNNING"

        assert await wait_for(running, 30)
        frames: list = []
        cluster.gpu_stream.listeners.append(frames.append)  # beside the source: what it is pushed
        before = await next_step_id(cluster, job_id)
        polled = []
        for _ in range(100):  # 20 s of polling every 0.2 s: hours of a console, compressed
            reading = await cluster.sources.gpu.poll_once()
            assert reading.error == "", reading.error
            polled.append(reading.value)
            await asyncio.sleep(0.2)
        after = await next_step_id(cluster, job_id)
        # Frames come as the loop prints them (every 0.2 s here), each as it arrives: the source's
        # reading is the last frame pushed, not one fetched at its poll.
        assert len(frames) >= 20 and cluster.sources.gpu.reading.value is frames[-1]
        assert {g.name for g in frames[-1].gpus} == {"Tesla P100-PCIE-16GB (sandbox)"}
        assert sum(v is not None for v in polled) >= 66  # from the first frame on, every poll has one
        assert after - before - 1 <= 2, f"{after - before - 1} steps for 100 GPU polls"
        assert cluster.gpu_stream.starts == 1
    finally:
        await cluster.runner.run(["scancel", job_id])
        await cluster.close()
