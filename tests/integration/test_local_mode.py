"""`local = true` (the console on the login node itself): the same backends, no SSH."""

from __future__ import annotations

from codex_console.backends.cluster import Cluster
from codex_console.backends.runner import LocalRunner
from codex_console.check import State, run_check

from ..helpers import partition_options


async def test_local_mode_lists_jobs_and_checks_without_ssh(sandbox_config, tmp_path):
    sandbox_config.login.local = True
    sandbox_config.login.port = 1  # would fail if anything tried SSH
    sandbox_config.slurm.job_name = "codex-t-local"
    sandbox_config.services.endpoints_file = str(tmp_path / "none.env")
    cluster = Cluster(sandbox_config)
    assert isinstance(cluster.runner, LocalRunner)
    assert "tunnels" not in {s.name for s in cluster.sources.all()}
    try:
        res = await cluster.runner.run(["sbatch", "--parsable", "--job-name=codex-t-local", "--output=/dev/null",
                                        *partition_options()],
                                       input="#!/bin/sh\nsleep 60\n")
        job_id = res.stdout.strip()
        assert job_id in {j.job_id for j in await cluster.slurm.jobs()}
        result = await run_check(cluster, 10)
        assert result.job is not None and result.job.job_id == job_id
        assert {p.name for p in result.probes} >= {"job", "embed", "neo4j"}
        assert result.state is State.CRITICAL  # no endpoints file: services are not there
        await cluster.runner.run(["scancel", job_id])
    finally:
        await cluster.close()
