"""The Neo4j query benchmark: the configured Cypher queries, each run N times over Bolt on the
probe's driver (through the login node, like the probe), with p50/p95 latency and rows/s each.

A query may use `$id`: node ids sampled from the graph, one per run in turn. On an empty graph
there is nothing to measure, and it says so (EmptyGraph); `seed=N` builds a test graph of about
N nodes under a label of its own (`CodexBench`) for the run, and removes it after, whatever happens.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import neo4j

from ..models import QueryPoint
from ..readings import percentile
from .neo4j_extras import NODE_COUNT, rows, scalar

QueryProgress = Callable[[int, int, QueryPoint], Awaitable[None] | None]
SEED_LABEL = "CodexBench"
SEED_BATCH = 2500  # groups per transaction
# Groups of four nodes: a -> b -> c and a -> d, so each `a` reaches a node two hops away.
SEED = (f"UNWIND range($first, $last) AS g CREATE (a:{SEED_LABEL} {{g: g}})-[:CODEX_BENCH]->"
        f"(:{SEED_LABEL} {{g: g}})-[:CODEX_BENCH]->(:{SEED_LABEL} {{g: g}}), "
        f"(a)-[:CODEX_BENCH]->(:{SEED_LABEL} {{g: g}})")
UNSEED = f"MATCH (n:{SEED_LABEL}) DETACH DELETE n"
SAMPLE_IDS = "MATCH (n) RETURN id(n) AS id LIMIT 100"
LABELLED = re.compile(r"([A-Za-z0-9_.-]{1,32}): (.*)", re.S)


class EmptyGraph(Exception):
    """The graph has no nodes: the queries would measure nothing."""


@dataclass(frozen=True)
class GraphBench:
    nodes: int  # the graph's size while measured (test nodes included)
    seeded: int  # test nodes made for the run (0: the graph as it was)
    points: tuple[QueryPoint, ...]


def parse_query(entry: str, index: int) -> tuple[str, str]:
    """`label: cypher` -> (label, cypher); an entry without a label is named by its place (q1...)."""
    found = LABELLED.fullmatch(entry.strip())
    return (found.group(1), found.group(2).strip()) if found else (f"q{index + 1}", entry.strip())


async def run_graph_benchmark(driver: neo4j.AsyncDriver, queries: list[str], runs: int, *, seed: int = 0,
                              timeout: float = 60.0, progress: QueryProgress | None = None,
                              clock: Callable[[], float] = time.perf_counter) -> GraphBench:
    """Each query once to warm up, then `runs` times; `timeout` s for each run."""
    nodes = int(await scalar(driver, NODE_COUNT))  # type: ignore[arg-type]
    if nodes == 0 and seed <= 0:
        raise EmptyGraph("the graph is empty (0 nodes): nothing to measure. A test graph for the run: "
                         "`bench --neo4j --seed 1000` (its nodes are removed after)")
    seeded = 0
    try:
        if seed > 0:
            seeded = await make_test_graph(driver, seed)
            nodes = int(await scalar(driver, NODE_COUNT))  # type: ignore[arg-type]
        ids = [record["id"] for record in await rows(driver, SAMPLE_IDS)]
        points: list[QueryPoint] = []
        for i, entry in enumerate(queries):
            label, query = parse_query(entry, i)
            points.append(await measure(driver, label, query, runs, ids, timeout, clock))
            if progress is not None and asyncio.iscoroutine(result := progress(i + 1, len(queries), points[-1])):
                await result
    finally:
        if seed > 0:  # also after a seed that failed half-way
            await remove_test_graph(driver)
    return GraphBench(nodes, seeded, tuple(points))


async def measure(driver: neo4j.AsyncDriver, label: str, query: str, runs: int, ids: list[int], timeout: float,
                  clock: Callable[[], float]) -> QueryPoint:
    times: list[float] = []
    total = last = 0
    error = ""
    try:
        for i in range(runs + 1):  # the first run warms caches and plans; it is not counted
            params = {"id": ids[i % len(ids)]} if ids and "$id" in query else {}
            start = clock()
            async with asyncio.timeout(timeout):
                last = len(await rows(driver, query, **params))
            if i:
                times.append(clock() - start)
                total += last
    except TimeoutError:
        error = f"a run took longer than {timeout:g}s"
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
        error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
    ms = [t * 1000 for t in times]
    return QueryPoint(label, query, len(times), percentile(ms, 50), percentile(ms, 95),
                      total / sum(times) if times and sum(times) > 0 else None, last, error)


async def make_test_graph(driver: neo4j.AsyncDriver, nodes: int) -> int:
    """About `nodes` test nodes (groups of four) under SEED_LABEL, after removing any left over."""
    await remove_test_graph(driver)
    groups = max(1, -(-nodes // 4))
    for first in range(0, groups, SEED_BATCH):
        async with driver.session() as session:
            await (await session.run(SEED, first=first, last=min(groups, first + SEED_BATCH) - 1)).consume()
    return 4 * groups


async def remove_test_graph(driver: neo4j.AsyncDriver) -> None:
    async with driver.session() as session:
        await (await session.run(UNSEED)).consume()
