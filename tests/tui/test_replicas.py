"""The embed panel has a row per replica of the endpoints file (both jobs' during a hand-over),
probed together against real embed servers; the totals are the users' traffic on every route,
never the console's own probes."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.backends.embed import metric_value
from codex_console.check import snapshot
from codex_console.check.judge import Thresholds, judge_replicas
from codex_console.check.nagios import State
from codex_console.tui.app import CodexApp
from codex_console.tui.messages import ReadingArrived
from codex_console.tui.widgets.replicas import replica_names

from ..helpers import LiveServer, free_port, live, minilm_path
from .test_panels import panel_text


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two real embed servers (MiniLM on CPU), as two replicas."""
    with live(minilm_path(), dimension=None) as one, live(minilm_path(), dimension=None) as two:
        yield one, two


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The console on the login node (no tunnels), its endpoints file in a home of the test's own."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("IMAS_CODEX_EMBED_REMOTE_URL", raising=False)
    cfg = config.load(search=False, environ={})
    cfg.login.local = True
    cfg.services.api_key_file = "none"
    return Cluster(cfg)


def write_endpoints(home: Path, urls: list[str], **extra: str) -> None:
    lines = [f"EMBED_URLS={','.join(urls)}", "JOB_ID=100", "NODE=gpu-2", "STALE=0"]
    (home / ".codex-services.env").write_text("\n".join(lines + [f"{k}={v}" for k, v in extra.items()]) + "\n")


async def embed_panel_text(cluster: Cluster) -> str:
    await cluster.sources.endpoints.poll_once()
    reading = await cluster.sources.embed.poll_once()
    app = CodexApp(None)  # the real clocks: the readings were taken now
    async with app.run_test(size=(200, 60)) as pilot:
        app.post_message(ReadingArrived("embed", reading))
        await pilot.pause(0.3)
        return panel_text(app, app.screen.query_one("#embed-panel"))


async def test_every_replica_of_the_endpoints_file_has_a_row(servers, cluster, tmp_path):
    urls = [s.url for s in servers]
    write_endpoints(tmp_path, urls)
    try:
        text = await embed_panel_text(cluster)
        replicas = cluster.sources.embed.reading.value.replicas
    finally:
        await cluster.close()
    assert [r.url for r in replicas] == urls and all(r.ready for r in replicas)
    assert "READY 2/2" in text
    names = replica_names(urls)
    for url in urls:
        row = next(line for line in text.splitlines() if names[url] + " " in line)
        assert "READY" in row and " ms" in row and "req/s" in row, row


async def test_a_hand_over_shows_both_jobs_replicas_and_the_one_that_left(servers, cluster, tmp_path):
    """During a hand-over the old job lists its replica and its successor's; when the old one's
    server has gone (a port nothing listens on), its row says so and the other still serves."""
    gone = f"http://127.0.0.1:{free_port()}"
    write_endpoints(tmp_path, [servers[0].url, servers[1].url], HANDOVER="ready", SUCCESSOR="101")
    try:
        both = await embed_panel_text(cluster)
        write_endpoints(tmp_path, [gone, servers[1].url], HANDOVER="neo4j-moving", SUCCESSOR="101")
        one_left = await embed_panel_text(cluster)
        th = Thresholds.from_config(cluster.cfg.thresholds)
        snap = snapshot(cluster)
        judged = judge_replicas("embed", snap.embed, snap.endpoints, th.embed_warn, th.embed_crit, th)
    finally:
        await cluster.close()
    names = replica_names([servers[0].url, servers[1].url, gone])
    assert "READY 2/2" in both and names[servers[0].url] in both and names[servers[1].url] in both
    assert "READY 1/2" in one_left
    down = next(line for line in one_left.splitlines() if names[gone] + " " in line)
    up = next(line for line in one_left.splitlines() if names[servers[1].url] + " " in line)
    assert "DOWN" in down and "READY" in up
    assert judged.state is State.WARNING and f"{gone} down" in judged.summary


async def test_totals_count_every_route_and_never_the_probe(servers, cluster, tmp_path):
    server = servers[0]
    write_endpoints(tmp_path, [server.url])
    try:
        await cluster.sources.endpoints.poll_once()
        for _ in range(3):  # the console's probes: each one posts a text to /embed
            await cluster.sources.embed.poll_once()
        before = cluster.sources.embed.reading.value.first
        async with httpx.AsyncClient(base_url=server.url) as users:
            (await users.post("/embed", json={"texts": ["one", "two"]})).raise_for_status()
            (await users.post("/v1/embeddings", json={"input": ["three"]})).raise_for_status()
            assert (await users.post("/v1/embeddings", json={"input": []})).status_code == 422
            metrics = (await users.get("/metrics")).text
        after = (await cluster.sources.embed.poll_once()).value.first
    finally:
        await cluster.close()
    assert after.requests - before.requests == 3  # /embed, /v1/embeddings and the 422: every route alike
    assert after.texts - before.texts == 3 and after.errors == before.errors == 0
    assert metric_value(metrics, "codex_embed_probe_requests_total", route="/embed") >= 3
