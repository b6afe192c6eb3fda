"""`codex-console bench --neo4j`: the Cypher query benchmark from the shell, as text or --json."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from . import bench_log
from .backends.cluster import Cluster
from .config import ConfigError
from .models import QueryPoint


async def graph_bench(cluster: Cluster, args: argparse.Namespace) -> int:
    as_json = bool(args.sub_json)
    if args.seed < 0 or args.seed > 1_000_000 or (args.runs is not None and not 1 <= args.runs <= 10000):
        raise ConfigError("--seed is 0 to 1000000 nodes and --runs 1 to 10000")

    def progress(done: int, total: int, q: QueryPoint) -> None:
        if not as_json:
            print(f"  {query_line(q)}  ({done}/{total})", flush=True)

    run = await cluster.graph_benchmark(progress, uri=args.uri, seed=args.seed, runs=args.runs)
    if as_json:
        print(json.dumps(asdict(run)))
        return 0 if not any(q.error for q in run.queries) else 1
    seeded = f", {run.seeded} of them test nodes (removed)" if run.seeded else ""
    print(f"{run.label}, {run.path}: {run.runs} runs each on {run.nodes} nodes{seeded}; "
          f"saved to {bench_log.log_path()}")
    return 0 if not any(q.error for q in run.queries) else 1


def query_line(q: QueryPoint) -> str:
    if q.error:
        return f"{q.label:<12} failed: {q.error}"
    rate = f"{q.rows_per_s:10.1f} rows/s" if q.rows_per_s is not None else "        N/A rows/s"
    return f"{q.label:<12} p50 {q.p50_ms:8.2f} ms  p95 {q.p95_ms:8.2f} ms  {rate}"
