"""Helpers for tests that run real jobs on the sandbox: per-test job names, ports and files."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Awaitable, Callable

import pytest

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.backends.endpoints import endpoints_from, parse_env_file
from codex_console.sandbox.bolt import falkordb_argv

_slot = itertools.count()


def service_config(sandbox, tmp_path: Path, name: str, **overrides: object) -> config.Config:
    """The sandbox config with this test's own job name, ports, endpoints file and log dir."""
    import shlex

    cfg = config.load(str(sandbox.config_file), environ={})
    slot = next(_slot)
    cfg.slurm.job_name = f"codex-t-{name}"[:60]
    cfg.services.embed_port = 18800 + 10 * slot
    cfg.services.bolt_port = 7700 + slot
    cfg.services.endpoints_file = str(tmp_path / "services.env")
    cfg.services.log_dir = str(tmp_path / "logs")
    cfg.services.neo4j_command = shlex.join(falkordb_argv(
        cfg.services.bolt_port, daemonize=False, workdir="/tmp",
        socket=f"/tmp/codex-t-{cfg.services.bolt_port}.sock"))
    cfg.slurm.gpus = 0
    cfg.tunnels.state_dir = str(tmp_path / "tunnels")
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        setattr(getattr(cfg, section), field, value)
    return cfg


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return await predicate()


def read_endpoints(cfg: config.Config):
    path = Path(cfg.services.endpoints_file)
    if not path.exists():
        return None
    return endpoints_from(parse_env_file(path.read_text()), str(path))


async def wait_endpoints(cfg: config.Config, job_id: str, timeout: float = 90, started: str = ""):
    """The endpoints file of `job_id`, fresh (not stale, newer than `started`)."""
    async def fresh() -> bool:
        ep = read_endpoints(cfg)
        return bool(ep and ep.job_id == job_id and not ep.stale and ep.started != started)

    assert await wait_for(fresh, timeout), f"no fresh endpoints for job {job_id}: {read_endpoints(cfg)}"
    return read_endpoints(cfg)


@pytest.fixture
async def cleanup_jobs():
    """Cancel every job of the test's clusters at the end, whatever happened."""
    clusters: list[Cluster] = []
    yield clusters
    for cluster in clusters:
        try:
            for job in await cluster.slurm.jobs():
                await cluster.slurm.cancel(job.job_id)

            async def gone() -> bool:  # its GPU is free again for the next test
                return not await cluster.slurm.jobs()

            await wait_for(gone, 60)
        finally:
            await cluster.close()
