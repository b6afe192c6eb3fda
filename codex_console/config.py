"""Typed settings: defaults < TOML file < CODEX_CONSOLE_* env vars < CLI flags.

The file is `$XDG_CONFIG_HOME/codex-console/config.toml`; when there is none and the local
sandbox is up, its config is used, so a fresh checkout runs against the sandbox by default.
Unknown keys are an error that names the key. Every value remembers where it came from
(`codex-console config show`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "CODEX_CONSOLE_"
SANDBOX_CONFIG = Path(os.environ.get("CODEX_SANDBOX_DIR", "/var/lib/codex-sandbox")) / "config.toml"


class ConfigError(ValueError):
    """A config file, env var or flag that cannot be used; the message says which and why."""


@dataclass
class LoginConfig:
    host: str = "98dci4-srv-1001"
    port: int = 22
    user: str = ""
    identity: str = ""
    known_hosts: str = "~/.ssh/known_hosts"
    ssh_config: bool = True  # read ~/.ssh/config (aliases, ProxyJump)
    local: bool = False  # already on the login node: run commands here, no SSH
    connect_timeout: float = 10.0
    command_timeout: float = 20.0
    keepalive: float = 15.0


@dataclass
class SlurmConfig:
    job_name: str = "codex-services"
    partitions: list[str] = field(default_factory=lambda: ["titan", "rigel", "sun", "sirius"])
    template: str = "services"
    gpus: int = 1
    cpus_per_gpu: int = 4
    mem: str = "64G"
    time_limit: str = "7-00:00:00"
    nodelist: str = ""
    gpu_query: str = "srun"  # how nvidia-smi reaches the node: srun | ssh


@dataclass
class ServicesConfig:
    embed_port: int = 18765
    bolt_port: int = 7687
    http_port: int = 7474
    endpoints_file: str = "~/.codex-services.env"
    log_dir: str = "~/.local/share/codex-console/services"
    embed_command: str = "codex-embed-server"
    model: str = "~/models/Qwen3-Embedding-0.6B"
    embed_device: str = "auto"
    embed_dimension: int = 256
    neo4j_command: str = "apptainer exec --bind $HOME/neo4j/data:/data $HOME/neo4j/neo4j.sif neo4j console"
    neo4j_lock: str = "$HOME/neo4j/data/databases/store_lock"
    neo4j_user: str = ""
    neo4j_password: str = ""
    api_key_file: str = ""
    restart_limit: int = 5


@dataclass
class TunnelsConfig:
    embed_local_port: int = 18765
    bolt_local_port: int = 17687
    http_local_port: int = 17474
    state_dir: str = "~/.local/state/codex-console/tunnels"
    forwards: list[str] = field(default_factory=lambda: ["embed", "bolt", "http"])


@dataclass
class PollConfig:
    slurm: float = 15.0
    gpu: float = 3.0
    embed: float = 2.0
    graph: float = 5.0
    tunnels: float = 5.0
    history: int = 120


@dataclass
class ThresholdsConfig:
    embed_latency_warn_ms: float = 500.0
    embed_latency_crit_ms: float = 3000.0
    bolt_latency_warn_ms: float = 250.0
    bolt_latency_crit_ms: float = 2000.0
    gpu_temp_warn: float = 85.0
    gpu_temp_crit: float = 92.0
    check_timeout: float = 20.0


@dataclass
class Config:
    login: LoginConfig = field(default_factory=LoginConfig)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    services: ServicesConfig = field(default_factory=ServicesConfig)
    tunnels: TunnelsConfig = field(default_factory=TunnelsConfig)
    poll: PollConfig = field(default_factory=PollConfig)
    thresholds: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    path: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def sections(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("path", "sources")}

    def items(self) -> typing.Iterator[tuple[str, object, str]]:
        """(dotted key, value, source) for every setting."""
        for name, section in self.sections().items():
            for f in dataclasses.fields(section):
                key = f"{name}.{f.name}"
                yield key, getattr(section, f.name), self.sources.get(key, "default")


def to_toml(cfg: Config) -> str:
    """The effective settings as a config file (what `config show --toml` prints)."""
    import json

    lines: list[str] = []
    for name, section in cfg.sections().items():
        lines.append(f"[{name}]")
        for f in dataclasses.fields(section):
            lines.append(f"{f.name} = {json.dumps(getattr(section, f.name))}")
        lines.append("")
    return "\n".join(lines)


def default_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "codex-console" / "config.toml"


def find_config_file(explicit: str | None = None) -> Path | None:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_PREFIX + "CONFIG"):
        return Path(os.environ[ENV_PREFIX + "CONFIG"]).expanduser()
    if default_path().exists():
        return default_path()
    return SANDBOX_CONFIG if SANDBOX_CONFIG.exists() else None


def _coerce(key: str, hint: object, value: object, source: str) -> object:
    """Turn a TOML value or a string from env/CLI into the field's type, or raise ConfigError."""
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if hint is int:
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)  # type: ignore[arg-type]
        if hint is float:
            return float(value)  # type: ignore[arg-type]
        if hint == list[str]:
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
            raise ValueError("expected a list of strings")
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {key} = {value!r}: {exc}") from None


def _apply(cfg: Config, key: str, value: object, source: str) -> None:
    section_name, _, name = key.partition(".")
    section = cfg.sections().get(section_name)
    if section is None:
        raise ConfigError(f"{source}: unknown section [{section_name}]")
    hints = typing.get_type_hints(type(section))
    if name not in hints:
        raise ConfigError(f"{source}: unknown key {key!r}")
    setattr(section, name, _coerce(key, hints[name], value, source))
    cfg.sources[key] = source


def load(path: str | None = None, overrides: dict[str, str] | None = None,
         environ: typing.Mapping[str, str] | None = None, search: bool = True) -> Config:
    """`search=False` reads no file unless `path` names one (tests, built-in defaults)."""
    cfg = Config()
    environ = os.environ if environ is None else environ
    file = find_config_file(path) if search or path else None
    if file is not None:
        if not file.exists():
            raise ConfigError(f"config file {file} does not exist")
        try:
            data = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: {exc}") from None
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{file}: unknown key {section!r} (settings live in sections)")
            for name, value in values.items():
                _apply(cfg, f"{section}.{name}", value, str(file))
        cfg.path = file
    for var, value in environ.items():
        if var.startswith(ENV_PREFIX) and var != ENV_PREFIX + "CONFIG":
            rest = var[len(ENV_PREFIX):].lower()
            section, _, name = rest.partition("_")
            _apply(cfg, f"{section}.{name}", value, f"${var}")
    for key, value in (overrides or {}).items():
        _apply(cfg, key, value, "command line")
    return cfg
