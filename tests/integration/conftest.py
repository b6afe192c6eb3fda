"""Fixtures for tests that run real jobs on the sandbox."""

from __future__ import annotations

import pytest

from codex_console.backends.cluster import Cluster

from ..helpers import wait_for


@pytest.fixture
async def cleanup_jobs():
    """Cancel every job of the test's clusters at the end, whatever happened."""
    clusters: list[Cluster] = []
    yield clusters
    for cluster in clusters:
        try:
            jobs = await cluster.slurm.jobs()
            if jobs:
                await cluster.runner.run(cluster.slurm.cancel_argv([j.job_id for j in jobs]))

            async def gone() -> bool:  # its GPU is free again for the next test
                return not await cluster.slurm.jobs()

            await wait_for(gone, 60)
        finally:
            await cluster.close()
