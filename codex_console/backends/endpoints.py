"""Service discovery: the endpoints file the job writes, overridden by environment variables."""

from __future__ import annotations

import os
import shlex
from dataclasses import replace
from typing import Mapping

from ..models import Endpoints, FileAccess
from .runner import Runner

EMBED_ENV = "IMAS_CODEX_EMBED_REMOTE_URL"
NEO4J_ENV = "NEO4J_URI"
KNOWN = {"EMBED_URL", "EMBED_URLS", "NEO4J_URI", "JOB_ID", "NODE", "STARTED", "STALE", "REASON",
         "EMBED_DOWN"}
MTIME_MARK = "@@codex-mtime "
ACCESS_MARK = "@@codex-access "


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


def read_argv(path: str, *shared: str) -> list[str]:
    """Print the file, then its mtime, then who can read it and each of `shared` (mode, owner,
    group; a missing file prints nothing); `~/` and `$HOME/` expand on the cluster, nothing else does."""
    from .cluster import home_path  # here: the cluster facade imports this module

    script = (f'cat -- "$1" 2>/dev/null && printf "\\n{MTIME_MARK}%s\\n" "$(stat -c %Y -- "$1")"; i=0; '
              f'for f in "$@"; do stat -c "{ACCESS_MARK}$i %a %U %G" -- "$f" 2>/dev/null; i=$((i+1)); done; true')
    paths = [home_path(p) for p in (path, *shared)]
    if any(p != q for p, q in zip(paths, (path, *shared))):
        return ["sh", "-c", 'cd && ' + script, "sh", *paths]
    return ["sh", "-c", script, "sh", *paths]


def parse_access(text: str, paths: list[str]) -> tuple[str, tuple[FileAccess, ...]]:
    """The output without its access lines, and those lines read (for the paths, in order)."""
    kept, found = [], []
    for line in text.splitlines(keepends=True):
        if not line.startswith(ACCESS_MARK):
            kept.append(line)
            continue
        words = line[len(ACCESS_MARK):].split()
        if len(words) == 4 and words[0].isdigit() and int(words[0]) < len(paths):
            found.append(FileAccess(paths[int(words[0])], words[1].zfill(4), words[2], words[3]))
    return "".join(kept), tuple(found)


def parse_read(text: str, source: str, shared: tuple[str, ...] = ()) -> Endpoints:
    text, access = parse_access(text, [source, *shared])
    body, _, mtime = text.rpartition(MTIME_MARK)
    if not _:
        body, mtime = text, ""
    values = parse_env_file(body)
    if not values:
        return Endpoints(access=access)
    written = float(mtime.strip()) if mtime.strip().isdigit() else None
    return replace(endpoints_from(values, source, written), access=access)


class EndpointsReader:
    """Reads the endpoints file on the login node; `shared` are other files whose readers the
    console shows beside it (the API key file)."""

    def __init__(self, runner: Runner, path: str = "~/.codex-services.env", shared: tuple[str, ...] = ()) -> None:
        self.runner = runner
        self.path = path
        self.shared = tuple(p for p in shared if p and p != "none")

    async def read(self, environ: Mapping[str, str] | None = None) -> Endpoints:
        res = await self.runner.poll(read_argv(self.path, *self.shared))
        return apply_overrides(parse_read(res.stdout, self.path, self.shared), environ)
