"""An app fed with recorded readings (fixtures), not polling: for snapshot and key tests."""

from __future__ import annotations

from pathlib import Path

from codex_console import history as check_history
from codex_console.backends.gpu import parse_report
from codex_console.backends.slurm_parse import parse_squeue_json
from codex_console.backends.sources import embed_samples, gpu_samples, latency_samples, services_samples
from codex_console.bench_log import BenchRun
from codex_console.models import (
    BenchPoint,
    EmbedHealth,
    Endpoints,
    GpuReport,
    Neo4jHealth,
    ReplicaHealth,
    ServiceHealth,
    ServiceReading,
    Tunnel,
)
from codex_console.readings import History, Reading
from codex_console.tui.app import CodexApp

FIX = Path(__file__).parent.parent / "fixtures"
NOW = 1000.0  # the app's monotonic clock
WALL = 1795905000.0  # its wall clock, a few minutes after the recorded week of checks
NODE = "98dci4-gpu-0002"
EMBED_URLS = (f"http://{NODE}:18765", f"http://{NODE}:18766")  # one replica per GPU


def _history(samples, values) -> History:
    """A minute of samples, one every 2 s, ending now."""
    history = History()
    for i, value in enumerate(values):
        history.add(WALL - 2 * (len(values) - i), *samples(value))
    return history


def recorded_readings(stale_neo4j: bool = False) -> dict[str, Reading]:
    jobs = [j for j in parse_squeue_json((FIX / "slurm" / "squeue_23.11.json").read_text(), now=1795903723)
            if j.name == "codex-services" and j.state.alive]
    report = parse_report(NODE, (FIX / "nvidia_smi" / "p100x8_query_gpu.csv").read_text() + "@@gpu 0\n"
                          + (FIX / "nvidia_smi" / "p100x8_query_apps.csv").read_text() + "@@apps 0\n")
    report = GpuReport(report.node, report.gpus[:2], report.processes[:1])
    latencies = [12.0 + (i * 7) % 9 for i in range(30)]
    embeds = [ServiceReading(replicas=tuple(
        ReplicaHealth(url=url, health=EmbedHealth(
            url=url, ready=True, latency_ms=lat + 3 * gpu, model="Qwen3-Embedding-0.6B", device=f"cuda:{gpu}",
            dimension=256, queue_depth=float((i + gpu) % 3), requests=18000.0 + (40 - 10 * gpu) * i,
            texts=90000.0 + 900 * i, errors=0.0, rejected=float(i // 10)))
        for gpu, url in enumerate(EMBED_URLS))) for i, lat in enumerate(latencies)]
    neo4js = [Neo4jHealth(url=f"bolt://{NODE}:7687", ready=True, latency_ms=lat / 5, server="Neo4j/5.26.0",
                          version="5.26.0 community", databases=("neo4j", "system"), nodes=1_234_567,
                          relationships=4_567_890, heap="31g", pagecache="160g", store_bytes=18_200_000_000,
                          last_dump=WALL - 3 * 3600) for lat in latencies]
    gpu_history = _history(gpu_samples, [GpuReport(NODE, tuple(
        type(g)(**{**g.__dict__, "utilization": float(50 + (i * 13) % 50)}) for g in report.gpus))
        for i in range(30)])
    neo4j_history = _history(latency_samples, neo4js)
    neo4j = (Reading(neo4js[-1], NOW - 40, "ServiceUnavailable: connection refused", "error", NOW - 2,
                     history=neo4j_history)
             if stale_neo4j else Reading(neo4js[-1], NOW - 2, history=neo4j_history))
    llm = f"http://{NODE}:18800"  # the catalogue's other services: an LLM behind vLLM, an 8B embedder
    services = [{"llm": ServiceReading(replicas=(ReplicaHealth(url=llm, health=ServiceHealth(
        url=llm, ready=True, latency_ms=2.0 + i % 3)),)), "embed-8b": ServiceReading(replicas=(ReplicaHealth(
            url=f"http://{NODE}:18900", error="ConnectError: connection refused"),))} for i in range(30)]
    return {
        "jobs": Reading(jobs, NOW - 3),
        "services": Reading(services[-1], NOW - 1, history=_history(services_samples, services)),
        "endpoints": Reading(Endpoints(embed_urls=EMBED_URLS, neo4j_uri=f"bolt://{NODE}:7687",
                                       job_id="812345", node=NODE), NOW - 3),
        "gpu": Reading(report, NOW - 1, history=gpu_history),
        "embed": Reading(embeds[-1], NOW - 1, history=_history(embed_samples, embeds)),
        "neo4j": neo4j,
        "health": Reading(check_history.summarize(
            check_history.parse((FIX / "history" / "week.jsonl").read_text()), WALL, since=7 * 86400), NOW - 30),
        "tunnels": Reading([
            Tunnel(name="embed", local_port=18765, remote_host=NODE, remote_port=18765, up=True, pid=4242,
                   started=WALL - 3600, checked=WALL - 5),
            Tunnel(name="bolt", local_port=17687, remote_host=NODE, remote_port=7687, up=True, pid=4242,
                   started=WALL - 3600, checked=WALL - 5, restarts=1)], NOW - 4),
    }


def recorded_app(*, stale_neo4j: bool = False, **kwargs) -> CodexApp:
    app = CodexApp(None, clock=lambda: NOW, wallclock=lambda: WALL, where="alice@98dci4-srv-1001", **kwargs)
    app.readings.update(recorded_readings(stale_neo4j))
    app.bench_runs = [
        BenchRun(WALL - 86400 * 2, "Qwen3-Embedding-0.6B", "cuda:0", 256, "/embed", "ssh forward via 98dci4-srv-1001",
                 tuple(BenchPoint(b, t, 1.0) for b, t in ((1, 20.0), (10, 190.0), (50, 430.0), (100, 470.0),
                                                          (200, 490.0), (500, 480.0)))),
        BenchRun(WALL - 600, "Qwen3-Embedding-0.6B", "cuda:0", 256, "/embed", "ssh forward via 98dci4-srv-1001",
                 tuple(BenchPoint(b, t, 1.0) for b, t in ((1, 21.0), (10, 201.0), (50, 455.0), (100, 498.0),
                                                          (200, 510.0), (500, 505.0))))]
    return app
