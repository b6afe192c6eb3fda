"""A catalogue of services on the real sandbox Slurm: the default embed service, a second embed
service with another model (a tiny Qwen3), an http service started from its command, and Neo4j;
a killed http server restarted by the supervisor, one service restarted in place while the others
serve; and a job of two nodes with replicas on both."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys

import httpx

from codex_console.backends.cluster import Cluster
from codex_console.backends.tunnels import TunnelManager
from codex_console.catalogue import ServiceTable
from codex_console.client import AsyncEmbedClient, async_endpoints

from ..helpers import (
    embed_calls,
    embed_pids,
    free_port,
    pids_of,
    read_endpoints,
    service_config,
    submit,
    tiny_qwen3,
    wait_endpoints,
    wait_for,
    write_config,
)


def cli(path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), *args],
                          capture_output=True, text=True, timeout=120)


def http_pids(port: int) -> list[int]:
    return pids_of(b"http.server", b"\0" + str(port).encode() + b"\0")


def local(cfg):
    here = copy.deepcopy(cfg)
    here.login.local = True  # the client runs where the endpoints file is: this machine
    return here


async def test_a_catalogue_of_four_services(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "catalogue", services__api_key_file="none")
    base = cfg.services.embed_port
    web = tmp_path / "web"
    web.mkdir()
    cfg.catalogue = [
        ServiceTable(name="embed-qwen", kind="embed", model=str(tiny_qwen3(tmp_path / "qwen")), port=base + 30,
                     gpus=0, dimension=64, local_port=free_port()),  # the sandbox's login node is its node
        ServiceTable(name="demo-http", kind="http", port=base + 60, gpus=0, health="/", local_port=free_port(),
                     command=f"{sys.executable} -m http.server {{port}} --bind {{host}} --directory {web}")]
    cfg.tunnels.embed_local_port, cfg.tunnels.bolt_local_port = free_port(), free_port()
    path = write_config(cfg, tmp_path / "config.toml")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)

    async def all_four() -> bool:
        ep = read_endpoints(cfg)
        return bool(ep and not ep.stale and ep.job_id == job_id and ep.get("EMBED_QWEN_URLS")
                    and ep.get("DEMO_HTTP_URLS") and ep.embed_urls and ep.neo4j_uri)

    assert await wait_for(all_four, 120), read_endpoints(cfg)
    status = json.loads(cli(path, "serve", "status", "--json").stdout)
    services = {s["name"]: s for s in status["endpoints"]["services"]}
    assert sorted(services) == ["demo-http", "embed", "embed-qwen", "neo4j"]
    assert all(i["state"] == "ready" for s in services.values() for i in s["instances"])
    probes = {p["name"]: p for p in status["probes"]}  # one probe, and perfdata, per service
    for name in ("embed", "embed-qwen", "demo-http", "neo4j"):
        assert probes[name]["state"] == "OK", probes[name]
        assert [d["label"] for d in probes[name]["perfdata"]][0] == f"{name}_latency"

    # The other embed service, through the tools' client; the http one for a client of its own.
    client = AsyncEmbedClient.from_environment(local(cfg), environ={}, service="embed-qwen", deadline=60)
    try:
        vectors = await client.embed(["a tokamak", "a stellarator"], as_numpy=False)
    finally:
        await client.aclose()
    assert len(vectors) == 2 and len(vectors[0]) == 64
    [url] = await async_endpoints("demo-http", local(cfg), environ={})
    assert url.endswith(f":{base + 60}") and httpx.get(url + "/", timeout=5).status_code == 200

    # A laptop reaches it through a tunnel of its own, on its configured local port.
    tunnels = TunnelManager(cfg)
    try:
        up = {t.name: t for t in await tunnels.start()}
        assert up["demo-http"].up and up["demo-http"].local_port == cfg.catalogue[1].local_port, up
        [there] = await async_endpoints("demo-http", cfg, environ={})
        assert there == f"http://127.0.0.1:{cfg.catalogue[1].local_port}"
        assert httpx.get(there + "/", timeout=5).status_code == 200
    finally:
        await asyncio.to_thread(tunnels.stop)

    # Killed: the supervisor starts it again.
    [pid] = http_pids(base + 60)
    os.kill(pid, signal.SIGKILL)

    async def back() -> bool:
        pids = http_pids(base + 60)
        ep = read_endpoints(cfg)
        return bool(pids and pids != [pid] and ep.get("DEMO_HTTP_URLS") and "demo-http0 exited (137)" in ep.get("EVENTS"))

    assert await wait_for(back, 30), read_endpoints(cfg)

    # Restarted in place alone: the embed replica and Neo4j serve throughout.
    before_http, before_embed = http_pids(base + 60), embed_pids(base)
    async with embed_calls(lambda n: read_endpoints(cfg).embed_url, "in place") as calls:
        out = await asyncio.to_thread(cli, path, "serve", "restart", "demo-http", "--yes")
        assert out.returncode == 0, out.stderr

        async def restarted() -> bool:
            ep = read_endpoints(cfg)
            now = http_pids(base + 60)
            return bool(now and not set(now) & set(before_http) and ep.get("DEMO_HTTP_URLS")
                        and "demo-http restarted in place" in ep.get("EVENTS"))

        assert await wait_for(restarted, 60), read_endpoints(cfg)
    assert calls.failures == [] and calls.made > 10 and embed_pids(base) == before_embed
    ep = read_endpoints(cfg)
    assert not ep.stale and ep.neo4j_uri and ep.job_id == job_id


async def test_a_job_of_two_nodes_serves_from_both(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "twonodes", slurm__gpus=1, slurm__nodes=2, slurm__partitions=["pair"],
                         services__api_key_file="none")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    ep = await wait_endpoints(cfg, job_id, timeout=120)

    async def both() -> bool:
        return len(read_endpoints(cfg).embed_urls) == 2

    assert await wait_for(both, 60), read_endpoints(cfg)
    ep = read_endpoints(cfg)
    nodes = {url.split("//")[1].split(":")[0] for url in ep.embed_urls}
    assert nodes == set(ep.get("NODES").split(",")) and len(nodes) == 2
    assert ep.neo4j_uri.startswith(f"bolt://{ep.node}:")  # Neo4j on the first node only
    twin = json.loads(open(cfg.services.endpoints_file + ".json").read())
    embed = next(s for s in twin["services"] if s["name"] == "embed")
    assert sorted(i["node"] for i in embed["instances"]) == sorted(nodes)
    client = AsyncEmbedClient.from_environment(local(cfg), environ={}, deadline=60, batch_size=4)
    try:
        result = await client.embed_detailed([f"text {i}" for i in range(64)], as_numpy=False)
    finally:
        await client.aclose()
    assert len(result.vectors) == 64
    served = {url: n for url, n in result.stats.by_replica.items() if n}
    assert set(served) == set(ep.embed_urls), result.stats
