"""The catalogue of services the job runs: `embed` and `neo4j` from `[services]`, plus every
`[[service]]` table of the config (a table with an existing name replaces that service).

    [[service]]
    name = "llm"                      # lower case, digits, '-'; its endpoints line is LLM_URLS
    kind = "http"                     # embed | http | neo4j
    command = "vllm serve ~/models/Qwen3-8B --host {host} --port {port}"
    gpus = 2                          # per instance; each gets CUDA_VISIBLE_DEVICES of its own
    instances = 1                     # per node (embed's default: one per GPU the others leave)
    port = 18800                      # the first instance's; the others count up
    health = "/health"                # a path that answers 200 once it serves
    ready_timeout = 1800
    env = { HF_HUB_OFFLINE = "1" }

The console resolves the catalogue (and refuses one that needs more GPUs than the job asks
for, naming the services); the job reads the resolved specs from its script. Both use this
module, so a service means the same on either side.
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .config_schema import ServicesConfig, SlurmConfig
from .protocol import PORT_BLOCK, PORT_BLOCKS, Key, urls_key

NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PLACEHOLDERS = re.compile(r"\{(\w*)\}")
ALLOWED_PLACEHOLDERS = ("port", "host", "gpu")
RESERVED_KEYS = {k.value for k in Key}


class CatalogueError(ValueError):
    """A `[[service]]` table that cannot be used; the message names the service and the key."""


class Kind(str, enum.Enum):
    EMBED = "embed"  # codex-embed-server on a model folder
    HTTP = "http"  # any HTTP model server started from its command (vLLM, TEI, a vision server)
    NEO4J = "neo4j"  # one, on the job's first node; health is a Bolt handshake


@dataclass(frozen=True)
class ServiceSpec:
    """One service, resolved: what runs, on how many GPUs, where, and how to tell it is ready."""

    name: str
    kind: Kind
    command: str  # embed: the server program; http: a command line with {port} {host} {gpu}
    port: int
    model: str = ""  # embed
    gpus: int = 0  # per instance
    instances: int = 1  # per node; 0: one per GPU the other services leave (at least one)
    health: str = "/ready"  # HTTP path that answers 200 once ready (Bolt for neo4j)
    ready_timeout: int = 600
    env: tuple[tuple[str, str], ...] = ()
    dimension: int = 256  # embed
    device: str = "auto"  # embed

    @property
    def first_node_only(self) -> bool:
        return self.kind is Kind.NEO4J

    @property
    def urls_key(self) -> str:
        return urls_key(self.name)

    def url(self, host: str, port: int) -> str:
        return f"{'bolt' if self.kind is Kind.NEO4J else 'http'}://{host}:{port}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["env"] = dict(self.env)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["kind"] = Kind(values["kind"])
        values["env"] = tuple(sorted(dict(values.get("env") or {}).items()))
        return cls(**values)


@dataclass
class ServiceTable:
    """A `[[service]]` table as written: None where the file says nothing."""

    name: str
    kind: str | None = None
    command: str | None = None
    model: str | None = None
    gpus: int | None = None
    instances: int | None = None
    port: int | None = None
    health: str | None = None
    ready_timeout: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    dimension: int | None = None
    device: str | None = None
    local_port: int | None = None  # the laptop's tunnel to it (the console's only; 0: none)


LIMITS = {"gpus": (0, 16), "instances": (1, PORT_BLOCK), "port": (1, 65535), "ready_timeout": (10, 86400),
          "dimension": (1, 65536), "local_port": (0, 65535)}


def table_from_toml(data: object, where: str) -> ServiceTable:
    """One `[[service]]` table, checked: unknown keys, wrong types and bad values name the key."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{where}: [[service]] must be a table")
    name = data.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise CatalogueError(f"{where}: [[service]] name = {name!r}: lower-case letters, digits and '-', "
                             "starting with a letter, at most 31")
    at = f"{where}: [[service]] {name!r}"
    known = {f.name: f for f in fields(ServiceTable)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise CatalogueError(f"{at}: unknown key {key!r} (keys: {', '.join(known)})")
        if key in LIMITS:
            low, high = LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise CatalogueError(f"{at}: {key} = {value!r}: a whole number from {low} to {high}")
        elif key == "env":
            if not isinstance(value, dict) or not all(isinstance(v, str) and ENV_NAME.fullmatch(k)
                                                      for k, v in value.items()):
                raise CatalogueError(f"{at}: env must be a table of NAME = \"text\"")
        elif not isinstance(value, str):
            raise CatalogueError(f"{at}: {key} = {value!r}: expected a string")
        values[key] = value
    table = ServiceTable(**values)
    if table.kind is not None and table.kind not in {k.value for k in Kind}:
        raise CatalogueError(f"{at}: kind = {table.kind!r}: one of {', '.join(k.value for k in Kind)}")
    if table.health is not None and not re.fullmatch(r"/[A-Za-z0-9_./?=&-]*", table.health):
        raise CatalogueError(f"{at}: health = {table.health!r}: an HTTP path such as /health")
    if table.device is not None and not re.fullmatch(r"auto|cpu|cuda(:\d+)?", table.device):
        raise CatalogueError(f"{at}: device = {table.device!r}: auto, cpu or cuda")
    for word in PLACEHOLDERS.findall(table.command or ""):
        if word not in ALLOWED_PLACEHOLDERS:
            raise CatalogueError(f"{at}: command uses {{{word}}}: only {{port}}, {{host}} and {{gpu}} are filled in")
    return table


def check_catalogue(specs: tuple[ServiceSpec, ...]) -> None:
    """Names, kinds and ports that can live together on one node (successor blocks included)."""
    if sum(s.kind is Kind.NEO4J for s in specs) > 1:
        raise CatalogueError("only one service of kind neo4j: "
                             + ", ".join(s.name for s in specs if s.kind is Kind.NEO4J))
    taken: dict[int, str] = {}
    for spec in specs:
        if spec.urls_key in RESERVED_KEYS and spec.name != "embed":
            raise CatalogueError(f"service {spec.name!r}: its line {spec.urls_key} is one of the file's own keys")
        if spec.kind is Kind.HTTP and not spec.command:
            raise CatalogueError(f"service {spec.name!r} (kind http) needs a command")
        if spec.kind is Kind.EMBED and not spec.model:
            raise CatalogueError(f"service {spec.name!r} (kind embed) needs a model")
        count = PORT_BLOCK if spec.instances == 0 else spec.instances
        blocks = 1 if spec.kind is Kind.NEO4J else PORT_BLOCKS
        for port in (spec.port + b * PORT_BLOCK + i for b in range(blocks) for i in range(count)):
            if port > 65535:
                raise CatalogueError(f"service {spec.name!r}: its ports run past 65535 (port {spec.port})")
            if port in taken:
                raise CatalogueError(f"services {taken[port]!r} and {spec.name!r} both use port {port} "
                                     f"(each uses port .. port + {blocks * PORT_BLOCK - 1} for its instances "
                                     "and a successor's): move one")
            taken[port] = spec.name


def gpus_per_node(specs: tuple[ServiceSpec, ...], job_gpus: int) -> tuple[int, str]:
    """GPUs one node's services need, and who needs them, in words (`embed 1x1, llm 1x2`)."""
    fixed = sum(s.gpus * s.instances for s in specs if s.instances)
    parts = [f"{s.name} {s.instances}x{s.gpus}" for s in specs if s.instances and s.gpus]
    auto = [s for s in specs if not s.instances and s.gpus]
    need = fixed + sum(max(1, (job_gpus - fixed) // s.gpus) * s.gpus for s in auto)
    parts += [f"{s.name} {max(1, (job_gpus - fixed) // s.gpus)}x{s.gpus} (one per GPU left)" for s in auto]
    return need, ", ".join(parts)


def check_fits(specs: tuple[ServiceSpec, ...], job_gpus: int) -> None:
    """Refuse a catalogue that needs more GPUs per node than the job asks Slurm for."""
    need, who = gpus_per_node(specs, job_gpus)
    if need > job_gpus:
        raise CatalogueError(f"the services need {need} GPU(s) per node ({who}) but slurm.gpus = {job_gpus}: "
                             "raise slurm.gpus, or lower a service's gpus or instances")


def defaults(services: ServicesConfig, slurm: SlurmConfig) -> tuple[ServiceSpec, ServiceSpec]:
    """The two services `[services]` defines: one embed replica per GPU, and Neo4j."""
    embed = ServiceSpec("embed", Kind.EMBED, services.embed_command, services.embed_port, model=services.model,
                        gpus=1 if slurm.gpus else 0, instances=0 if slurm.gpus else 1,
                        ready_timeout=services.ready_timeout, dimension=services.embed_dimension,
                        device=services.embed_device)
    neo4j = ServiceSpec("neo4j", Kind.NEO4J, services.neo4j_command, services.bolt_port, health="",
                        ready_timeout=services.ready_timeout)
    return embed, neo4j


def from_table(table: ServiceTable, base: ServiceSpec | None, services: ServicesConfig) -> ServiceSpec:
    """A table over the service it replaces (or over the defaults of its kind)."""
    kind = Kind(table.kind) if table.kind else (base.kind if base else Kind.HTTP)
    if base is None or base.kind is not kind:
        base = ServiceSpec(table.name, kind, services.embed_command if kind is Kind.EMBED else "",
                           table.port or 0, gpus=1 if kind is not Kind.NEO4J else 0,
                           health={Kind.EMBED: "/ready", Kind.HTTP: "/health", Kind.NEO4J: ""}[kind],
                           ready_timeout=services.ready_timeout, dimension=services.embed_dimension,
                           device=services.embed_device)
    given = {f.name: getattr(table, f.name) for f in fields(ServiceTable)
             if f.name not in ("name", "kind", "env", "local_port") and getattr(table, f.name) is not None}
    if table.env:
        given["env"] = tuple(sorted(table.env.items()))
    spec = ServiceSpec(**{**asdict(base), "name": table.name, "kind": kind, "env": base.env, **given})
    if not spec.port:
        raise CatalogueError(f"service {table.name!r} needs a port")
    return spec


def resolve(services: ServicesConfig, slurm: SlurmConfig, tables: list[ServiceTable],
            template: str = "services") -> tuple[ServiceSpec, ...]:
    """Every service of the catalogue, in order (the defaults first, replaced in place), then
    only those the template runs: `neo4j` alone on a CPU partition, `embed` without Neo4j."""
    specs = list(defaults(services, slurm))
    for table in tables:
        index = next((i for i, s in enumerate(specs) if s.name == table.name), None)
        spec = from_table(table, specs[index] if index is not None else None, services)
        if index is None:
            specs.append(spec)
        else:
            specs[index] = spec
    check_catalogue(tuple(specs))
    keep = {"services": lambda s: True, "embed": lambda s: s.kind is not Kind.NEO4J,
            "neo4j": lambda s: s.kind is Kind.NEO4J}[template]
    return tuple(s for s in specs if keep(s))
