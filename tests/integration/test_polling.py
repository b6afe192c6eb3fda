"""Polling as the dashboard does it (a ConsoleSession delivering readings): one connection, one
poll in flight per source however slow it is, every source delivered."""

from __future__ import annotations

import asyncio
from collections import Counter

from codex_console.backends.cluster import Cluster
from codex_console.session import ConsoleSession


async def test_polling_everything_uses_one_connection_and_never_overlaps(sandbox_config):
    cfg = sandbox_config
    for name in ("slurm", "gpu", "embed", "neo4j", "tunnels", "health"):
        setattr(cfg.poll, name, 0.2)
    cluster = Cluster(cfg, stream_gpu=True)
    session = ConsoleSession(cluster)
    delivered: Counter[str] = Counter()
    session.subscribe(lambda name, reading: delivered.update([name]))
    in_flight = {"max": 0, "now": 0}
    real = cluster.sources.jobs.fetch

    async def slow():
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        try:
            await asyncio.sleep(0.5)  # slower than its interval: must not pile up
            return await real()
        finally:
            in_flight["now"] -= 1

    cluster.sources.jobs.fetch = slow
    session.start()
    try:
        await asyncio.sleep(4)
        assert set(delivered) == set(session.source_names()) and min(delivered.values()) >= 3, delivered
        assert in_flight["max"] == 1
        assert cluster.runner.connections_opened == 1
    finally:
        await session.close()
