"""Any service of the catalogue, for a client of its own (an OpenAI client for a vLLM server):
its live URLs, found the way the embed client finds its replicas.

    from openai import OpenAI
    from codex_console.client import endpoints
    llm = OpenAI(base_url=endpoints("llm")[0] + "/v1", api_key="unused")
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

from ..config import Config
from .discovery import Locator
from .errors import NotAllowed, ServicesUnavailable


async def async_endpoints(service: str, cfg: Config | None = None, *, environ: Mapping[str, str] | None = None,
                          wait: float = 0.0) -> list[str]:
    """The ready URLs of `service` (on a laptop: its tunnel's local URL), waiting up to `wait` s
    for one; raises ServicesUnavailable saying what the endpoints file said, NotAllowed when it
    may not be read."""
    locator = Locator(cfg, environ, service)
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + wait
        while True:
            found = await locator.find()
            if found.endpoints.embed_urls:
                return list(found.endpoints.embed_urls)
            if found.denied:
                raise NotAllowed("cannot read the endpoints file: " + "; ".join(found.denied))
            if loop.time() >= until:
                ep = found.endpoints
                said = (f"{ep.source}: job {ep.job_id or '?'}, " + ("STALE" if ep.stale else "serving")
                        + (f" ({ep.reason})" if ep.reason else "")) if ep.source else "no endpoints file"
                raise ServicesUnavailable(f"no ready instance of {service!r}: {said}. Looked at: "
                                          + ("; ".join(found.notes) or "nothing"))
            await asyncio.sleep(min(2.0, max(0.05, until - loop.time())))
    finally:
        await locator.close()


def endpoints(service: str, cfg: Config | None = None, *, environ: Mapping[str, str] | None = None,
              wait: float = 0.0) -> list[str]:
    """`async_endpoints` for code that does not use asyncio (a thread of its own: this works
    where a loop already runs, in Jupyter)."""
    with ThreadPoolExecutor(1, thread_name_prefix="codex-endpoints") as pool:
        return pool.submit(asyncio.run, async_endpoints(service, cfg, environ=environ, wait=wait)).result()
