"""Neo4j health over Bolt: a `RETURN 1` round trip with a deadline; then the graph's counts, and
version, databases, memory settings and store size when the server is Neo4j (see `neo4j_extras.py`)."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import neo4j

from ..models import Neo4jHealth
from .neo4j_extras import ServerFacts, counts, scalar, server_facts
from .runner import Runner, ServiceDown

Auth = tuple[str, str] | None
AuthSource = Callable[[], Awaitable[Auth]]
FACTS_TTL = 300.0  # seconds a server's version, settings and store size are kept before asking again
FACTS_RETRY = 60.0  # ... and when it did not say (not Neo4j, or no answer in time)
FACTS_BUDGET, COUNTS_BUDGET = 3.0, 1.5  # seconds at most for the extras, well within the source's deadline


class Neo4jProbe:
    """Probes Neo4j through the login node; raises ServiceDown when it cannot."""

    def __init__(self, runner: Runner, auth: AuthSource | None = None, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runner = runner
        self.auth = auth
        self.timeout = timeout
        self.clock = clock
        self._drivers: dict[str, neo4j.AsyncDriver] = {}
        self._facts: dict[str, tuple[float, ServerFacts]] = {}  # per target: when asked, what it said

    async def driver(self, uri: str) -> neo4j.AsyncDriver:
        """The driver the probe uses for `uri` (through the login node): the benchmark runs on it."""
        return await self._driver(uri)

    async def _driver(self, uri: str) -> neo4j.AsyncDriver:
        parts = urlsplit(uri)
        host, port = await self.runner.forward(parts.hostname or "localhost", parts.port or 7687)
        target = f"bolt://{host}:{port}"
        driver = self._drivers.get(target)
        if driver is None:
            auth = await self.auth() if self.auth is not None else None
            driver = neo4j.AsyncGraphDatabase.driver(
                target, auth=auth, connection_timeout=self.timeout,
                connection_acquisition_timeout=self.timeout, max_connection_pool_size=2)
            self._drivers[target] = driver
        return driver

    async def probe(self, uri: str) -> Neo4jHealth:
        """`RETURN 1` with a deadline. The first try gets part of the time and one retry the
        rest: FalkorDB (the sandbox's Bolt server) leaves the first handshake after another
        client's GOODBYE unanswered, and a lost first SYN is not a dead database either."""
        first = min(2.0, self.timeout / 2)
        try:
            return await self._probe_once(uri, first)
        except (neo4j.exceptions.ServiceUnavailable, TimeoutError, OSError):
            await self._reset()
        try:
            return await self._probe_once(uri, self.timeout - first)
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError, ValueError,
                TimeoutError) as exc:
            await self._reset()
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ServiceDown(f"{uri}: {reason}") from None

    async def _probe_once(self, uri: str, timeout: float) -> Neo4jHealth:
        async with asyncio.timeout(timeout):
            driver = await self._driver(uri)
            start = time.perf_counter()
            value = await scalar(driver, "RETURN 1 AS ok")
            latency = (time.perf_counter() - start) * 1000
            if value != 1:
                raise ValueError(f"RETURN 1 returned {value!r}")
            info = await driver.get_server_info()
        facts = await self._server_facts(uri, driver)
        nodes, relationships = await counts(driver, min(COUNTS_BUDGET, self.timeout))
        return Neo4jHealth(url=uri, ready=True, latency_ms=latency, server=info.agent,
                           version=facts.version or info.agent.partition("/")[2], databases=facts.databases,
                           nodes=nodes, relationships=relationships, heap=facts.heap, pagecache=facts.pagecache,
                           store_bytes=facts.store_bytes)

    async def _server_facts(self, uri: str, driver: neo4j.AsyncDriver) -> ServerFacts:
        """Neo4j-only procedures, asked every FACTS_TTL s; other Bolt servers (FalkorDB) fail them."""
        asked = self._facts.get(uri)
        if asked is None or self.clock() - asked[0] > (FACTS_TTL if asked[1].version else FACTS_RETRY):
            asked = (self.clock(), await server_facts(driver, min(FACTS_BUDGET, self.timeout)))
            self._facts[uri] = asked
        return asked[1]

    async def _reset(self) -> None:
        """Drop cached drivers: after a failure the next probe reconnects from scratch."""
        drivers, self._drivers = list(self._drivers.values()), {}
        self._facts.clear()
        for driver in drivers:
            await driver.close()

    async def close(self) -> None:
        await self._reset()
