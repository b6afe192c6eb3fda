"""The optional extras of a Neo4j probe: the graph's counts, and the version, databases, heap,
page cache and store size that Neo4j reports.

Each has its own deadline and may fail (another Bolt server such as FalkorDB, a user without the
privilege, an older Neo4j, no APOC): a failure leaves its field unknown, never the probe down.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import neo4j

NODE_COUNT = "MATCH (n) RETURN count(n)"  # Neo4j answers both from its count store, at once
RELATIONSHIP_COUNT = "MATCH ()-[r]->() RETURN count(r)"
# setting name -> field, Neo4j 5 (SHOW SETTINGS) and 4.x (dbms.listConfig)
SETTINGS = {"server.memory.heap.max_size": "heap", "server.memory.pagecache.size": "pagecache",
            "dbms.memory.heap.max_size": "heap", "dbms.memory.pagecache.size": "pagecache"}
SETTINGS_QUERIES = ("SHOW SETTINGS YIELD name, value WHERE name IN $names RETURN name, value",
                    "CALL dbms.listConfig() YIELD name, value WHERE name IN $names RETURN name, value")
FAILURES = (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError, TimeoutError, KeyError,
            IndexError, TypeError, ValueError)


@dataclass(frozen=True)
class ServerFacts:
    """What changes only when the server restarts: fetched once in a while, not every probe."""

    version: str = ""  # "5.26.0 community"; "" when dbms.components() is not there
    databases: tuple[str, ...] = ()
    heap: str = ""
    pagecache: str = ""
    store_bytes: int | None = None


async def scalar(driver: neo4j.AsyncDriver, query: str, database: str | None = None, **params: object) -> object:
    # An auto-commit query: execute_query() would retry for 30 s, hiding a dead server.
    async with driver.session(database=database) as session:
        record = await (await session.run(query, params)).single()
        return record[0] if record else None


async def rows(driver: neo4j.AsyncDriver, query: str, database: str | None = None,
               **params: object) -> list[neo4j.Record]:
    async with driver.session(database=database) as session:
        return [record async for record in await session.run(query, params)]


def _deadline(budget: float) -> float:
    return asyncio.get_running_loop().time() + budget


def _passed(deadline: float) -> bool:
    return asyncio.get_running_loop().time() >= deadline


async def counts(driver: neo4j.AsyncDriver, budget: float) -> tuple[int | None, int | None]:
    """(nodes, relationships) within `budget` s for both; each None when it did not answer."""
    deadline = _deadline(budget)

    async def count(query: str) -> int | None:
        try:
            async with asyncio.timeout_at(deadline):
                return int(await scalar(driver, query))  # type: ignore[arg-type]
        except FAILURES:
            return None
    return await count(NODE_COUNT), await count(RELATIONSHIP_COUNT)


async def server_facts(driver: neo4j.AsyncDriver, budget: float) -> ServerFacts:
    """Version and databases (Neo4j only), then, on Neo4j, the memory settings and store size; all
    within `budget` s, so that the extras never hold the probe past its source's deadline."""
    deadline = _deadline(budget)
    try:
        async with asyncio.timeout_at(deadline):
            version = str(await scalar(driver, "CALL dbms.components() YIELD versions, edition "
                                               "RETURN versions[0] + ' ' + edition") or "")
            databases = tuple(sorted({r["name"] for r in await rows(driver, "SHOW DATABASES YIELD name",
                                                                      database="system")}))
    except FAILURES:
        return ServerFacts()
    memory = await _memory_settings(driver, deadline)
    return ServerFacts(version, databases, memory.get("heap", ""), memory.get("pagecache", ""),
                       await _store_bytes(driver, deadline))


async def _memory_settings(driver: neo4j.AsyncDriver, deadline: float) -> dict[str, str]:
    for query in SETTINGS_QUERIES:
        if _passed(deadline):
            break
        try:
            async with asyncio.timeout_at(deadline):
                found = await rows(driver, query, names=list(SETTINGS))
        except FAILURES:
            continue
        # an unset size is Neo4j's own choice from the machine's memory
        return {SETTINGS[r["name"]]: str(r["value"] or "auto") for r in found if r["name"] in SETTINGS}
    return {}


async def _store_bytes(driver: neo4j.AsyncDriver, deadline: float) -> int | None:
    """APOC's store size, where APOC is installed; else the job's report says it."""
    if _passed(deadline):
        return None
    try:
        async with asyncio.timeout_at(deadline):
            value = await scalar(driver, "CALL apoc.monitor.store() YIELD totalStoreSize RETURN totalStoreSize")
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except FAILURES:
        return None
