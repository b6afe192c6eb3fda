"""The tools' client against the real services job: a replica killed halfway through 2,000
texts, and a requeue in the middle of a call (waited out within the deadline, or one clear error)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from codex_console.backends.cluster import Cluster
from codex_console.client import AsyncEmbedClient, ServicesUnavailable

from ..helpers import embed_pids, read_endpoints, service_config, start_now, submit, wait_endpoints, wait_for

WORDS = "plasma equilibrium tokamak graph slurm vector embedding node query magnetic field coil".split()


def corpus(n: int) -> list[str]:
    """Distinct texts of 3 to 14 words."""
    return [f"{i} " + " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(2 + i % 12)) for i in range(n)]


async def one_by_one(url: str, key: str, texts: list[str]) -> np.ndarray:
    """The reference: each text in a request of its own (a few requests in flight)."""
    rows: list[list[float]] = [[] for _ in texts]
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        async def one(i: int) -> None:
            async with gate:
                r = await http.post(url + "/embed", json={"texts": [texts[i]]})
                r.raise_for_status()
                rows[i] = r.json()["embeddings"][0]
        await asyncio.gather(*(one(i) for i in range(len(texts))))
    return np.array(rows, dtype=np.float32)


def on_login_node(cfg):
    """The client runs where the endpoints file is (the sandbox's login node is this machine)."""
    cfg.login.local = True
    return cfg


async def test_2000_texts_while_one_of_two_replicas_is_killed_halfway(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "client-kill", slurm__gpus=2)
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    ep = await wait_endpoints(cfg, await submit(cluster))

    async def both() -> bool:  # the file lists a replica as soon as it is ready: the second may follow
        return len(read_endpoints(cfg).embed_urls) == 2

    assert await wait_for(both, 60), read_endpoints(cfg)
    ep = read_endpoints(cfg)
    texts, killed = corpus(2000), []

    def kill_the_second_halfway(done: int, total: int) -> None:
        if done >= total // 2 and not killed:
            [pid] = embed_pids(cfg.services.embed_port + 1)
            os.kill(pid, signal.SIGKILL)
            killed.append(done)

    async with AsyncEmbedClient.from_environment(on_login_node(cfg), environ={}, batch_size=16) as client:
        result = await client.embed_detailed(texts, on_progress=kill_the_second_halfway)
    key = Path(cfg.services.api_key_file).read_text().strip()
    want = await one_by_one(ep.embed_urls[0], key, texts)
    assert killed and result.vectors.shape == want.shape
    assert np.allclose(result.vectors, want, atol=1e-5), float(np.abs(result.vectors - want).max())
    assert set(result.stats.by_replica) == set(ep.embed_urls) and result.stats.failovers >= 1
    print(f"\n2000 texts, replica killed at {killed[0]}: {result.elapsed:.1f} s, {result.stats}, "
          f"max |diff| {float(np.abs(result.vectors - want).max()):.2e}")


async def test_a_requeue_in_the_middle_of_a_call(sandbox, tmp_path, cleanup_jobs):
    cfg = on_login_node(service_config(sandbox, tmp_path, "client-requeue"))
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    ep = await wait_endpoints(cfg, job_id)
    texts, going = corpus(1500), asyncio.Event()
    deadline = 150.0
    client = AsyncEmbedClient.from_environment(cfg, environ={}, batch_size=2, concurrency=1, deadline=deadline)
    call = asyncio.create_task(client.embed_detailed(texts, on_progress=lambda done, _: done >= 40 and going.set()))
    async with asyncio.timeout(60):
        await going.wait()
    await cluster.runner.run(cluster.slurm.requeue_argv(job_id))
    requeued_at = time.monotonic()

    async def stale() -> bool:
        found = read_endpoints(cfg)
        return bool(found and found.stale and not found.embed_urls)

    assert await wait_for(stale, 30)
    # While the job is away, a call whose deadline is shorter than the requeue says what it tried.
    async with AsyncEmbedClient.from_environment(cfg, environ={}, deadline=3) as short:
        with pytest.raises(ServicesUnavailable) as failed:
            await short.embed(texts[:3])
    message = str(failed.value)
    assert "within the 3 s deadline" in message and f"says job {job_id}" in message and "STALE" in message
    assert f"job {job_id} is ending" in message and f"{cfg.services.endpoints_file}: read" in message
    assert not call.done(), "the long call waits for the new job"

    await start_now(cluster, job_id)
    try:
        async with asyncio.timeout(deadline):
            result = await call
    finally:
        await client.aclose()
    away = time.monotonic() - requeued_at
    fresh = read_endpoints(cfg)
    assert fresh.job_id == job_id and fresh.started != ep.started
    assert client.found.endpoints.started == fresh.started, "the call finished against the new run"
    key = Path(cfg.services.api_key_file).read_text().strip()
    want = await one_by_one(fresh.embed_url, key, texts)
    assert np.allclose(result.vectors, want, atol=1e-5), float(np.abs(result.vectors - want).max())
    assert result.elapsed < deadline
    print(f"\nrequeue mid-call: call {result.elapsed:.1f} s (deadline {deadline:.0f} s), {away:.1f} s of "
          f"it from the requeue to the end; {result.stats.requests} requests, "
          f"{result.stats.retries} retries, {result.stats.failovers} failovers")
