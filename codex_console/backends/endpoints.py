"""Service discovery: the endpoints file the job writes, overridden by environment variables."""

from __future__ import annotations

import os
import shlex
from dataclasses import replace
from typing import Mapping

from ..models import Endpoints
from .runner import Runner

EMBED_ENV = "IMAS_CODEX_EMBED_REMOTE_URL"
NEO4J_ENV = "NEO4J_URI"
KNOWN = {"EMBED_URL", "EMBED_URLS", "NEO4J_URI", "JOB_ID", "NODE", "STARTED", "STALE", "REASON",
         "EMBED_DOWN"}
MTIME_MARK = "@@codex-mtime "


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
        values[key.strip()] = " ".join(parts)
    return values


def _words(text: str) -> tuple[str, ...]:
    return tuple(u for u in text.replace(",", " ").split() if u)


def endpoints_from(values: Mapping[str, str], source: str, written: float | None = None) -> Endpoints:
    return Endpoints(
        embed_urls=_words(values.get("EMBED_URLS", "") or values.get("EMBED_URL", "")),
        neo4j_uri=values.get("NEO4J_URI", ""), job_id=values.get("JOB_ID", ""),
        node=values.get("NODE", ""), started=values.get("STARTED", ""),
        stale=values.get("STALE", "0") not in ("", "0"), source=source,
        reason=values.get("REASON", ""), down=_words(values.get("EMBED_DOWN", "")), written=written,
        extra=tuple(sorted((k, v) for k, v in values.items() if k not in KNOWN)))


def apply_overrides(found: Endpoints, environ: Mapping[str, str] | None = None) -> Endpoints:
    env = os.environ if environ is None else environ
    embed, neo4j = env.get(EMBED_ENV), env.get(NEO4J_ENV)
    if not embed and not neo4j:
        return found
    return replace(found, embed_urls=_words(embed) if embed else found.embed_urls,
                   neo4j_uri=neo4j or found.neo4j_uri, stale=found.stale and not (embed and neo4j),
                   source=f"{found.source} + env" if found.source else "env")


def read_argv(path: str) -> list[str]:
    """Print the file, then its mtime; `~/` expands on the cluster, nothing else does."""
    script = f'cat -- "$1" 2>/dev/null && printf "\\n{MTIME_MARK}%s\\n" "$(stat -c %Y -- "$1")"; true'
    for prefix in ("~/", "$HOME/", "${HOME}/"):
        if path.startswith(prefix):
            return ["sh", "-c", 'cd && ' + script, "sh", path.removeprefix(prefix)]
    return ["sh", "-c", script, "sh", path]


def parse_read(text: str, source: str) -> Endpoints:
    body, _, mtime = text.rpartition(MTIME_MARK)
    if not _:
        body, mtime = text, ""
    values = parse_env_file(body)
    if not values:
        return Endpoints()
    written = float(mtime.strip()) if mtime.strip().isdigit() else None
    return endpoints_from(values, source, written)


class EndpointsReader:
    def __init__(self, runner: Runner, path: str = "~/.codex-services.env") -> None:
        self.runner = runner
        self.path = path

    async def read(self, environ: Mapping[str, str] | None = None) -> Endpoints:
        res = await self.runner.poll(read_argv(self.path))
        return apply_overrides(parse_read(res.stdout, self.path), environ)
