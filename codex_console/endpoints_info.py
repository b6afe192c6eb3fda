"""What the endpoints file says, read: the services and their instances, the job, the hand-over,
and who may read the file (frozen dataclasses; `models` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import HandoverPhase


@dataclass(frozen=True)
class FileAccess:
    """Who can read a file the services share (the endpoints file, the API key), from `stat`."""

    path: str
    mode: str  # permission bits in octal, as `stat -c %a` prints them ("640")
    owner: str
    group: str

    @property
    def readers(self) -> str:
        bits = int(self.mode, 8) if self.mode.isdigit() else 0
        if bits & 0o004:
            return "everyone"
        return f"{self.owner} and group {self.group}" if bits & 0o040 else f"{self.owner} only"


@dataclass(frozen=True, kw_only=True)
class InstanceInfo:
    """One instance of a service, as the job's JSON twin of the endpoints file says."""

    name: str  # embed0, llm1, neo4j
    node: str
    port: int
    url: str
    state: str  # protocol.InstanceState's value
    gpus: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True, kw_only=True)
class ServiceEndpoints:
    """A service of the job's catalogue: its ready URLs (the `<NAME>_URLS` line) and instances."""

    name: str
    kind: str  # embed | http | neo4j
    urls: tuple[str, ...] = ()
    health: str = ""  # the path the job checks its readiness on (http and embed)
    instances: tuple[InstanceInfo, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    embed_urls: tuple[str, ...] = ()
    neo4j_uri: str = ""
    job_id: str = ""
    node: str = ""
    started: str = ""
    stale: bool = False
    source: str = ""
    reason: str = ""  # why the services are down, as the job wrote it
    down: tuple[str, ...] = ()  # replicas the job marked down
    written: float | None = None  # the file's mtime (epoch), when known
    extra: tuple[tuple[str, str], ...] = ()  # other keys the job wrote (hand-over state...)
    access: tuple[FileAccess, ...] = ()  # who can read the endpoints and key files (console only)
    services: tuple[ServiceEndpoints, ...] = ()  # every service of the catalogue
    warnings: tuple[str, ...] = ()  # what the job says to fix that does not stop serving
    neo4j: tuple[tuple[str, str], ...] = ()  # what the job set for Neo4j (heap, page cache, last dump...)

    @property
    def embed_url(self) -> str:
        return self.embed_urls[0] if self.embed_urls else ""

    def get(self, key: str, default: str = "") -> str:
        return dict(self.extra).get(key, default)

    @property
    def handover(self) -> HandoverPhase | None:
        """Where the hand-over to the next job stands (the HANDOVER line's phase)."""
        return HandoverPhase.parse(self.get("HANDOVER"))

    def service(self, name: str) -> ServiceEndpoints | None:
        return next((s for s in self.services if s.name == name), None)

    def urls_of(self, name: str) -> tuple[str, ...]:
        """The ready URLs of a service of the catalogue (`embed` as the tools always had it)."""
        if name == "embed":
            return self.embed_urls
        found = self.service(name)
        return found.urls if found is not None else ()
