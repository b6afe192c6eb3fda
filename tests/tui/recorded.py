"""An app fed with recorded readings (fixtures), not polling: for snapshot tests."""

from __future__ import annotations

from pathlib import Path

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.backends.gpu import parse_report
from codex_console.backends.runner import LocalRunner
from codex_console.backends.slurm_parse import parse_squeue_json
from codex_console.models import BenchPoint, EmbedHealth, Endpoints, GraphHealth, Reading, Tunnel
from codex_console.tui.app import CodexApp

FIX = Path(__file__).parent.parent / "fixtures"
NOW = 1000.0
WALL = 1795903838.0


def recorded_cluster(stale_graph: bool = False) -> Cluster:
    cfg = config.load(None, {"login.host": "98dci4-srv-1001", "login.user": "alice"}, environ={},
                      search=False)
    cluster = Cluster(cfg, runner=LocalRunner())
    jobs = [j for j in parse_squeue_json((FIX / "slurm" / "squeue_23.11.json").read_text(), now=1795903723)
            if j.name == "codex-services" and j.state.alive]
    gpus = parse_report("98dci4-gpu-0002", (FIX / "nvidia_smi" / "p100x8_query_gpu.csv").read_text()
                        + "@@gpu 0\n" + (FIX / "nvidia_smi" / "p100x8_query_apps.csv").read_text()
                        + "@@apps 0\n")
    gpus = type(gpus)(gpus.node, gpus.gpus[:2], gpus.processes[:1])
    lat = tuple(12 + (i * 7) % 9 for i in range(60))
    cluster.jobs.reading = Reading(jobs, NOW - 3)
    cluster.endpoints.reading = Reading(Endpoints(("http://98dci4-gpu-0002:18765",), "bolt://98dci4-gpu-0002:7687",
                                                  "812345", "98dci4-gpu-0002"), NOW - 3)
    cluster.gpus.reading = Reading(gpus, NOW - 1, history=tuple(50 + (i * 13) % 50 for i in range(60)))
    cluster.embed_health.reading = Reading(
        EmbedHealth("http://98dci4-gpu-0002:18765", True, 14.2, "Qwen3-Embedding-0.6B", "cuda:0", 256,
                    0.0, 18734.0), NOW - 1, history=lat)
    graph = GraphHealth("bolt://98dci4-gpu-0002:7687", True, 2.4, "Neo4j/5.26.0", "5.26.0 community",
                        ("neo4j", "system"))
    cluster.graph_health.reading = (
        Reading(graph, NOW - 40, "ServiceUnavailable: connection refused", NOW - 2, lat)
        if stale_graph else Reading(graph, NOW - 2, history=tuple(x / 5 for x in lat)))
    cluster.tunnel_status.reading = Reading([
        Tunnel("embed", 18765, "98dci4-gpu-0002", 18765, 4242, True, WALL - 3600, WALL - 5),
        Tunnel("bolt", 17687, "98dci4-gpu-0002", 7687, 4243, True, WALL - 3600, WALL - 5),
        Tunnel("http", 17474, "", 7474, None, False)], NOW - 4)
    return cluster


def recorded_app(**kwargs) -> CodexApp:
    stale = kwargs.pop("stale_graph", False)
    app = CodexApp(recorded_cluster(stale), poll=False, clock=lambda: NOW, wallclock=lambda: WALL, **kwargs)
    app.bench_results = [BenchPoint(b, t, 1.0) for b, t in
                         ((1, 21.0), (10, 201.0), (50, 455.0), (100, 498.0), (200, 510.0), (500, 505.0))]
    return app
