"""Service discovery: the endpoints file the job writes, overridden by environment variables."""

from __future__ import annotations

import os
import shlex
from typing import Mapping

from ..models import Endpoints
from .runner import Runner

EMBED_ENV = "IMAS_CODEX_EMBED_REMOTE_URL"
NEO4J_ENV = "NEO4J_URI"


def parse_env_file(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value]
        values[key.strip()] = parts[0] if parts else ""
    return values


def endpoints_from(values: Mapping[str, str], source: str) -> Endpoints:
    urls = values.get("EMBED_URLS", "") or values.get("EMBED_URL", "")
    return Endpoints(embed_urls=tuple(u for u in urls.replace(",", " ").split() if u),
                     neo4j_uri=values.get("NEO4J_URI", ""), job_id=values.get("JOB_ID", ""),
                     node=values.get("NODE", ""), started=values.get("STARTED", ""),
                     stale=values.get("STALE", "0") not in ("", "0"), source=source)


def apply_overrides(found: Endpoints, environ: Mapping[str, str] | None = None) -> Endpoints:
    env = os.environ if environ is None else environ
    embed = env.get(EMBED_ENV)
    neo4j = env.get(NEO4J_ENV)
    if not embed and not neo4j:
        return found
    return Endpoints(embed_urls=(embed,) if embed else found.embed_urls,
                     neo4j_uri=neo4j or found.neo4j_uri, job_id=found.job_id, node=found.node,
                     started=found.started, stale=found.stale and not (embed and neo4j),
                     source=f"{found.source} + env" if found.source else "env")


class EndpointsReader:
    def __init__(self, runner: Runner, path: str = "~/.codex-services.env") -> None:
        self.runner = runner
        self.path = path

    async def read(self, environ: Mapping[str, str] | None = None) -> Endpoints:
        # `~` must expand on the cluster, not here: pass it to the remote shell unquoted-safe.
        target = self.path
        argv = ["sh", "-c", 'cat "$HOME/$1" 2>/dev/null || true', "sh", target.removeprefix("~/")] \
            if target.startswith("~/") else ["sh", "-c", 'cat "$1" 2>/dev/null || true', "sh", target]
        res = await self.runner.poll(argv)
        found = endpoints_from(parse_env_file(res.stdout), self.path) if res.stdout.strip() else Endpoints()
        return apply_overrides(found, environ)
