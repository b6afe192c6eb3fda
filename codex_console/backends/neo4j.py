"""Neo4j health over Bolt: a `RETURN 1` round trip with a deadline; version and databases if Neo4j."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import neo4j

from ..models import Neo4jHealth
from .runner import Runner, ServiceDown

Auth = tuple[str, str] | None
AuthSource = Callable[[], Awaitable[Auth]]


class Neo4jProbe:
    """Probes Neo4j through the login node; raises ServiceDown when it cannot."""

    def __init__(self, runner: Runner, auth: AuthSource | None = None, timeout: float = 5.0) -> None:
        self.runner = runner
        self.auth = auth
        self.timeout = timeout
        self._drivers: dict[str, neo4j.AsyncDriver] = {}

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
            value = await self._scalar(driver, "RETURN 1 AS ok")
            latency = (time.perf_counter() - start) * 1000
            if value != 1:
                raise ValueError(f"RETURN 1 returned {value!r}")
            info = await driver.get_server_info()
        version, databases = await self._extras(driver)
        return Neo4jHealth(url=uri, ready=True, latency_ms=latency, server=info.agent,
                           version=version or info.agent.partition("/")[2], databases=databases)

    @staticmethod
    async def _scalar(driver: neo4j.AsyncDriver, query: str, database: str | None = None) -> object:
        # An auto-commit query: execute_query() would retry for 30 s, hiding a dead server.
        async with driver.session(database=database) as session:
            record = await (await session.run(query)).single()
            return record[0] if record else None

    async def _extras(self, driver: neo4j.AsyncDriver) -> tuple[str, tuple[str, ...]]:
        """Neo4j-only procedures; other Bolt servers (FalkorDB) fail them, which is fine."""
        try:
            async with asyncio.timeout(self.timeout):
                version = await self._scalar(
                    driver, "CALL dbms.components() YIELD versions, edition "
                            "RETURN versions[0] + ' ' + edition")
                async with driver.session(database="system") as session:
                    dbs = [r["name"] async for r in await session.run("SHOW DATABASES YIELD name")]
                return str(version or ""), tuple(sorted(set(dbs)))
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError, TimeoutError,
                KeyError, IndexError):
            return "", ()

    async def _reset(self) -> None:
        """Drop cached drivers: after a failure the next probe reconnects from scratch."""
        drivers, self._drivers = list(self._drivers.values()), {}
        for driver in drivers:
            await driver.close()

    async def close(self) -> None:
        await self._reset()
