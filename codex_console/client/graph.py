"""Neo4j for the tools: a `neo4j` driver for the URI and credentials discovery finds."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from ..config import Config
from .discovery import Locator
from .errors import NotAllowed, ServicesUnavailable


async def locate_graph(locator: Locator, wait: float) -> tuple[str, tuple[str, str] | None]:
    """The Bolt URI (waiting up to `wait` s for one to be published) and the credentials."""
    until = time.monotonic() + wait
    while True:
        found = await locator.find()
        uri = found.endpoints.neo4j_uri
        if uri:
            return uri, await locator.neo4j_auth()
        if found.denied:
            raise NotAllowed("cannot read the endpoints file: " + "; ".join(found.denied))
        if time.monotonic() >= until:
            ep = found.endpoints
            said = (f"{ep.source} names no Neo4j (job {ep.job_id or '?'}, " + ("STALE" if ep.stale else "serving")
                    + (f": {ep.reason}" if ep.reason else "") + ")") if ep.source else "no endpoints file"
            raise ServicesUnavailable(f"no Neo4j to connect to after {wait:g} s: {said}; set $NEO4J_URI to "
                                      f"choose one. Looked at: {'; '.join(found.notes) or 'nothing'}")
        await asyncio.sleep(min(2.0, max(0.05, until - time.monotonic())))


async def _locate(cfg: Config | None, environ: Mapping[str, str] | None, wait: float) -> tuple[str, Any]:
    locator = Locator(cfg, environ)
    try:
        return await locate_graph(locator, wait)
    finally:
        await locator.close()


def graph_driver(cfg: Config | None = None, *, environ: Mapping[str, str] | None = None, wait: float = 0.0,
                 **driver_options: Any) -> Any:
    """A `neo4j.Driver` for the services' Bolt URI (`$NEO4J_URI` wins over the endpoints file),
    with `services.neo4j_user` and its password (or password file). `wait`: seconds to wait
    for a Neo4j to be published (a job starting, a requeue). Close it when done."""
    import neo4j

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: works where a loop runs (notebooks)
        uri, auth = pool.submit(asyncio.run, _locate(cfg, environ, wait)).result()
    return neo4j.GraphDatabase.driver(uri, auth=auth, **driver_options)


async def async_graph_driver(cfg: Config | None = None, *, environ: Mapping[str, str] | None = None,
                             wait: float = 0.0, **driver_options: Any) -> Any:
    """The same as graph_driver, as a `neo4j.AsyncDriver`."""
    import neo4j

    uri, auth = await _locate(cfg, environ, wait)
    return neo4j.AsyncGraphDatabase.driver(uri, auth=auth, **driver_options)
