"""Where the services are and how to get in: environment overrides, the endpoints file (read
here, or the console's tunnels on a laptop), the API key file and the Neo4j password.

Endpoints files, first that exists: `$CODEX_ENDPOINTS_FILE`, the console config's
`services.endpoints_file`, `~/.codex-services.env`. Key files, first that can be read:
`$CODEX_EMBED_KEY_FILE`, `services.api_key_file`, `~/.codex-embed.key` (`none` in either
setting: no key). `IMAS_CODEX_EMBED_REMOTE_URL` and `NEO4J_URI` win over any file. On a laptop
(`login.local = false` and the tunnel keeper running) the services are its local ports, and the
key and password files are read once on the login node and kept in memory.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from .. import config as config_mod
from ..backends.endpoints import EMBED_ENV, NEO4J_ENV, apply_overrides, endpoints_from, parse_env_file, parse_twin
from ..config import Config
from ..models import Endpoints, ServiceEndpoints
from ..protocol import json_twin
from .errors import ClientError

FIXED_FORWARDS = ("embed", "bolt", "http")  # the tunnels of embed and Neo4j; the others are services'
FILE_ENV = "CODEX_ENDPOINTS_FILE"
KEY_ENV = "CODEX_EMBED_KEY_FILE"
HOME_FILE = "~/.codex-services.env"
HOME_KEY = "~/.codex-embed.key"


@dataclass(frozen=True)
class Found:
    """One look for the services: what was found, and what each place held (for errors)."""

    endpoints: Endpoints
    notes: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()  # files that exist but this user may not read

    @property
    def generation(self) -> tuple[str, str, str]:
        """Changes when another job (or the same job, run again) serves."""
        ep = self.endpoints
        return ep.job_id, ep.started, ep.node


def expand(path: str) -> Path:
    return Path(os.path.expanduser(os.path.expandvars(path)))


def places(*paths: str) -> list[str]:
    out: list[str] = []
    for path in paths:
        if path and path != "none" and path not in out:
            out.append(path)
    return out


def why_denied(path: str) -> str:
    """Who may read a file this user could not open, in words."""
    try:
        st = os.stat(expand(path))
    except OSError:
        return "its folder is closed to you"
    try:
        owner, group = pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        owner, group = str(st.st_uid), str(st.st_gid)
    mode = stat.S_IMODE(st.st_mode)
    readers = f"{owner} and group {group}" if mode & stat.S_IRGRP else f"{owner} only"
    return f"mode {mode:04o}: readable by {readers}"


def read_text(path: str) -> tuple[str | None, str]:
    """(text or None, a note saying what was there)."""
    try:
        return expand(path).read_text(), f"{path}: read"
    except FileNotFoundError:
        return None, f"{path}: no such file"
    except PermissionError:
        return None, f"{path}: permission denied ({why_denied(path)})"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path}: {getattr(exc, 'strerror', None) or exc}"


def load_config(cfg: Config | None) -> Config:
    if cfg is not None:
        return cfg
    try:
        return config_mod.load()
    except config_mod.ConfigError as exc:
        raise ClientError(f"the codex-console config cannot be used: {exc}") from None


class Locator:
    """Finds the services again each time it is asked: the endpoints file changes under a
    client (requeue, rollover). Secrets are read once and kept in memory."""

    def __init__(self, cfg: Config | None = None, environ: Mapping[str, str] | None = None,
                 service: str = "embed") -> None:
        self.cfg = load_config(cfg)
        self.env = dict(os.environ if environ is None else environ)
        self.service = service  # the model service whose instances the client uses
        self.key_note = ""
        self._key: str | None = None
        self._key_read = False
        self._key_lock: asyncio.Lock | None = None  # concurrent batches read the key once
        self._cluster: Any = None  # backends.cluster.Cluster, made only to read secrets on a laptop

    def via_tunnels(self) -> bool:
        if self.cfg.login.local:
            return False
        from ..backends.tunnels import TunnelManager

        return TunnelManager(self.cfg).keeper_pid() is not None

    def endpoint_files(self) -> list[str]:
        return places(self.env.get(FILE_ENV, ""), self.cfg.services.endpoints_file, HOME_FILE)

    def key_files(self) -> list[str]:
        return places(self.env.get(KEY_ENV, ""), self.cfg.services.api_key_file, HOME_KEY)

    async def find(self) -> Found:
        """Look again (files, stat, user names: in a thread, a parallel filesystem or a slow
        directory service must not stall the caller's loop)."""
        found = await asyncio.to_thread(lambda: self._tunnels() if self.via_tunnels() else self._files())
        notes = [f"${var}={self.env[var]} (wins over the file)" for var in (EMBED_ENV, NEO4J_ENV)
                 if self.env.get(var)]
        found = replace(found, endpoints=apply_overrides(found.endpoints, self.env), notes=found.notes + tuple(notes))
        return found if self.service == "embed" else self._project(found)

    def _project(self, found: Found) -> Found:
        """Another service of the catalogue: its ready instances stand where embed's would."""
        ep = found.endpoints
        urls = ep.urls_of(self.service)
        note = () if ep.service(self.service) or not ep.source else (
            f"{ep.source} lists no service {self.service!r} (it lists: "
            f"{', '.join(s.name for s in ep.services) or 'none'})",)
        return replace(found, endpoints=replace(ep, embed_urls=urls, stale=ep.stale or not urls),
                       notes=found.notes + note)

    def _files(self) -> Found:
        """The first endpoints file that exists; one this user may not read stops the search
        (an old file further down would be the wrong job)."""
        notes: list[str] = []
        for path in self.endpoint_files():
            text, note = read_text(path)
            notes.append(note)
            if "permission denied" in note:
                return Found(Endpoints(), tuple(notes), (note,))
            if text is not None:
                try:
                    written: float | None = expand(path).stat().st_mtime
                except OSError:
                    written = None
                twin, _ = read_text(json_twin(path))
                return Found(endpoints_from(parse_env_file(text), path, written, parse_twin(twin or "")),
                             tuple(notes))
        return Found(Endpoints(), tuple(notes))

    def _tunnels(self) -> Found:
        from ..backends.tunnels import TunnelManager

        tunnels = {t.name: t for t in TunnelManager(self.cfg).status()}
        notes = tuple(f"tunnel {t.name} 127.0.0.1:{t.local_port} -> {t.remote_host or '?'}:{t.remote_port}: "
                      + ("up" if t.up else f"down ({t.error or 'no answer'})") for t in tunnels.values())
        embed, bolt = tunnels.get("embed"), tunnels.get("bolt")
        urls = (f"http://127.0.0.1:{embed.local_port}",) if embed and embed.up else ()
        uri = f"bolt://127.0.0.1:{bolt.local_port}" if bolt and bolt.up else ""
        node = next((t.remote_host for t in tunnels.values() if t.remote_host), "")
        others = tuple(ServiceEndpoints(name=t.name, kind="http", urls=(f"http://127.0.0.1:{t.local_port}",)
                                        if t.up else ()) for t in tunnels.values() if t.name not in FIXED_FORWARDS)
        return Found(Endpoints(embed_urls=urls, neo4j_uri=uri, node=node, stale=not urls, services=others,
                               source=f"the tunnels to {self.cfg.login.host}"), notes)

    # -- secrets ------------------------------------------------------------------------------
    async def api_key(self, again: bool = False) -> str | None:
        """The embed server's key; None when there is none (the server then answers 401)."""
        if self._key_lock is None:
            self._key_lock = asyncio.Lock()
        async with self._key_lock:
            if again or not self._key_read:
                self._key, self.key_note = await self._read_key(again)
                self._key_read = True
        return self._key

    async def _read_key(self, again: bool = False) -> tuple[str | None, str]:
        mine = self.env.get(KEY_ENV, "")
        if mine == "none" or (not mine and self.cfg.services.api_key_file == "none"):
            return None, "no API key: the key file is set to none"
        if self.via_tunnels() and not mine:
            path = self.cfg.services.api_key_file or HOME_KEY
            try:
                return await self._remote_secret(path, again) or None, f"{path} on {self.cfg.login.host}"
            except Exception as exc:  # noqa: BLE001 - no key: a keyed server answers 401, explained
                return None, f"{path} on {self.cfg.login.host}: {exc}"
        notes = []
        for path in self.key_files():
            text, note = await asyncio.to_thread(read_text, path)
            if text is not None and text.strip():
                return text.strip(), "; ".join([*notes, path])
            notes.append(note if text is None else f"{path}: empty")
        return None, "; ".join(notes)

    async def neo4j_auth(self) -> tuple[str, str] | None:
        s = self.cfg.services
        if not s.neo4j_user:
            return None
        if not s.neo4j_password_file:
            return s.neo4j_user, s.neo4j_password
        if self.via_tunnels():
            try:
                return s.neo4j_user, await self._remote_secret(s.neo4j_password_file)
            except Exception as exc:  # noqa: BLE001 - RemoteError, a timeout: one error type for tools
                raise ClientError(f"the Neo4j password file {s.neo4j_password_file} cannot be read on "
                                  f"{self.cfg.login.host}: {exc}") from None
        text, note = read_text(s.neo4j_password_file)
        if text is None:
            raise ClientError(f"the Neo4j password file cannot be read: {note}")
        return s.neo4j_user, text.strip()

    async def _remote_secret(self, path: str, again: bool = False) -> str:
        if self._cluster is None:
            from ..backends.cluster import Cluster

            self._cluster = Cluster(self.cfg)
        return await self._cluster.read_secret(path, again=again)

    async def close(self) -> None:
        if self._cluster is not None:
            await self._cluster.close()
            self._cluster = None
