"""All sources polling together share one SSH connection and never overlap themselves."""

from __future__ import annotations

import asyncio

from codex_console.backends.cluster import Cluster


async def test_polling_everything_uses_one_connection(sandbox_config):
    cfg = sandbox_config
    for name in ("slurm", "gpu", "embed", "graph", "tunnels"):
        setattr(cfg.poll, name, 0.2)
    cluster = Cluster(cfg)
    in_flight = {"max": 0, "now": 0}
    real = cluster.slurm.jobs

    async def counted():
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        try:
            await asyncio.sleep(0.5)  # slower than its interval: must not pile up
            return await real()
        finally:
            in_flight["now"] -= 1

    cluster.jobs.fetch = counted
    cluster.start()
    try:
        await asyncio.sleep(4)
        polls = {s.name: s.polls for s in cluster.sources}
        assert all(n >= 3 for n in polls.values()), polls
        assert in_flight["max"] == 1
        assert cluster.runner.connections_opened == 1
    finally:
        await cluster.close()
