"""Service discovery: the endpoints file the job writes, overridden by environment variables."""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import replace
from typing import Any, Mapping

from ..models import Endpoints, FileAccess, InstanceInfo, ServiceEndpoints
from ..protocol import JSON_SUFFIX, Key
from .runner import Runner

EMBED_ENV = "IMAS_CODEX_EMBED_REMOTE_URL"
NEO4J_ENV = "NEO4J_URI"
KNOWN = {"EMBED_URL", "EMBED_URLS", "NEO4J_URI", "JOB_ID", "NODE", "STARTED", "STALE", "REASON",
         "EMBED_DOWN"}
MTIME_MARK = "@@codex-mtime "
ACCESS_MARK = "@@codex-access "
JSON_MARK = "@@codex-json "


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


def services_from(values: Mapping[str, str], twin: Mapping[str, Any] | None) -> tuple[ServiceEndpoints, ...]:
    """Every service: from the JSON twin when it is there and is the same job's, else from the
    `<NAME>_URLS` lines (kinds guessed from the names)."""
    if twin and str(twin.get("job_id", "")) == values.get(Key.JOB_ID.value, "") and isinstance(
            twin.get("services"), list):
        out = []
        for s in twin["services"]:
            if not isinstance(s, dict) or not s.get("name"):
                continue
            instances = tuple(InstanceInfo(
                name=str(i.get("name", "")), node=str(i.get("node", "")), port=int(i.get("port") or 0),
                url=str(i.get("url", "")), state=str(i.get("state", "")), gpus=tuple(i.get("gpus") or ()),
                why=str(i.get("why") or "")) for i in s.get("instances") or [] if isinstance(i, dict))
            out.append(ServiceEndpoints(name=str(s["name"]), kind=str(s.get("kind", "http")),
                                        urls=tuple(s.get("urls") or ()), instances=instances,
                                        health=str(s.get("health") or "")))
        return tuple(out)
    found = []
    for key, value in values.items():
        if key.endswith("_URLS"):
            name = key.removesuffix("_URLS").lower().replace("_", "-")
            kind = {"embed": "embed", "neo4j": "neo4j"}.get(name, "http")
            found.append(ServiceEndpoints(name=name, kind=kind, urls=_words(value)))
    return tuple(found)


def endpoints_from(values: Mapping[str, str], source: str, written: float | None = None,
                   twin: Mapping[str, Any] | None = None) -> Endpoints:
    fresh = twin if twin and str(twin.get("job_id", "")) == values.get(Key.JOB_ID.value, "") else {}
    neo4j = fresh.get("neo4j") if isinstance(fresh.get("neo4j"), dict) else {}
    return Endpoints(
        embed_urls=_words(values.get("EMBED_URLS", "") or values.get("EMBED_URL", "")),
        neo4j_uri=values.get("NEO4J_URI", ""), job_id=values.get("JOB_ID", ""),
        node=values.get("NODE", ""), started=values.get("STARTED", ""),
        stale=values.get("STALE", "0") not in ("", "0"), source=source,
        reason=values.get("REASON", ""), down=_words(values.get("EMBED_DOWN", "")), written=written,
        extra=tuple(sorted((k, v) for k, v in values.items() if k not in KNOWN)),
        services=services_from(values, twin),
        warnings=tuple(w for w in values.get(Key.WARNINGS.value, "").split("|") if w),
        neo4j=tuple(sorted((str(k), str(v)) for k, v in neo4j.items() if not isinstance(v, (dict, list)))))


def parse_twin(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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
              f'for f in "$@"; do stat -c "{ACCESS_MARK}$i %a %U %G" -- "$f" 2>/dev/null; i=$((i+1)); done; '
              f'if [ -r "$1{JSON_SUFFIX}" ]; then printf "{JSON_MARK}"; tr -d "\\n" <"$1{JSON_SUFFIX}"; echo; fi; true')
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
    text, _, twin_text = text.partition(JSON_MARK)
    text, access = parse_access(text, [source, *shared])
    body, _, mtime = text.rpartition(MTIME_MARK)
    if not _:
        body, mtime = text, ""
    values = parse_env_file(body)
    if not values:
        return Endpoints(access=access)
    written = float(mtime.strip()) if mtime.strip().isdigit() else None
    return replace(endpoints_from(values, source, written, parse_twin(twin_text)), access=access)


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
