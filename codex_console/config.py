"""Loading settings: defaults < TOML file < CODEX_CONSOLE_* env vars < command-line overrides.

The file is `$XDG_CONFIG_HOME/codex-console/config.toml`; when there is none and the local
sandbox is up, its config is used, so a fresh checkout runs against the sandbox by default.
Unknown keys, wrong types and values out of range are errors that name the key. Every value
remembers where it came from (`codex-console config show`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import CatalogueError, ServiceTable, resolve, table_from_toml
from .config_schema import (
    SECTIONS,
    LoginConfig,
    Neo4jConfig,
    PollConfig,
    ServicesConfig,
    SlurmConfig,
    ThresholdsConfig,
    TunnelsConfig,
    UiConfig,
)
from .protocol import SIGNAL_EARLY, shortest_lead, signal_lead

__all__ = ["Config", "ConfigError", "LoginConfig", "SlurmConfig", "ServicesConfig", "TunnelsConfig",
           "PollConfig", "ThresholdsConfig", "UiConfig", "Neo4jConfig", "load", "to_toml", "seconds"]

ENV_PREFIX = "CODEX_CONSOLE_"
SANDBOX_CONFIG = Path(os.environ.get("CODEX_SANDBOX_DIR", "/var/lib/codex-sandbox")) / "config.toml"
HIDDEN = "********"


class ConfigError(ValueError):
    """A config file, env var or flag that cannot be used; the message says which and why."""


@dataclass
class Config:
    login: LoginConfig = field(default_factory=LoginConfig)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    services: ServicesConfig = field(default_factory=ServicesConfig)
    neo4j: Neo4jConfig = field(default_factory=Neo4jConfig)
    catalogue: list[ServiceTable] = field(default_factory=list)  # the [[service]] tables
    tunnels: TunnelsConfig = field(default_factory=TunnelsConfig)
    poll: PollConfig = field(default_factory=PollConfig)
    thresholds: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    neo4j: Neo4jConfig = field(default_factory=Neo4jConfig)
    path: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def sections(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in SECTIONS}

    def items(self, show_secrets: bool = False) -> typing.Iterator[tuple[str, object, str]]:
        """(dotted key, value, source) for every setting; secrets hidden unless asked."""
        for name, section in self.sections().items():
            for f in dataclasses.fields(section):  # type: ignore[arg-type]
                key, value = f"{name}.{f.name}", getattr(section, f.name)
                if f.metadata.get("secret") and value and not show_secrets:
                    value = HIDDEN
                yield key, value, self.sources.get(key, "default")
        for table in self.catalogue:
            for f in dataclasses.fields(table):
                if f.name != "name" and getattr(table, f.name) not in (None, {}):
                    yield f"service.{table.name}.{f.name}", getattr(table, f.name), self.sources.get(
                        f"service.{table.name}", "default")

    def validate(self) -> None:
        """Every value in its allowed range; raises ConfigError naming the key."""
        for name, section in self.sections().items():
            for f in dataclasses.fields(section):  # type: ignore[arg-type]
                _check_value(f"{name}.{f.name}", f, getattr(section, f.name),
                             self.sources.get(f"{name}.{f.name}", "default"))
        if not self.slurm.partitions:
            raise ConfigError("slurm.partitions: at least one partition is needed")
        if not self.neo4j.bench_queries:
            raise ConfigError("neo4j.bench_queries: at least one query is needed")
        lead, stop = seconds(self.services.rollover_lead), self.services.stop_timeout
        if 0 < lead < shortest_lead(stop):
            raise ConfigError(
                f"services.rollover_lead = {self.services.rollover_lead!r} cannot work with services.stop_timeout = "
                f"{stop}: the end-of-time signal comes {signal_lead(stop)}s before the limit (Slurm may send it up "
                f"to {SIGNAL_EARLY}s earlier), so the hand-over must begin at least {shortest_lead(stop)}s before "
                "it; raise rollover_lead (default 30m), lower stop_timeout, or set rollover_lead = \"0\" "
                "(no hand-over)")
        try:
            resolve(self.services, self.slurm, self.catalogue)
        except CatalogueError as exc:
            raise ConfigError(f"{self.sources.get('catalogue', 'config')}: {exc}") from None


def _check_value(key: str, f: dataclasses.Field, value: object, source: str) -> None:
    meta = f.metadata
    where = f"{source}: {key} = {value!r}"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ConfigError(f"{where}: not a finite number")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{where}: out of range (allowed {low if low is not None else '-inf'} "
                              f"to {high if high is not None else 'inf'})")
    values = value if isinstance(value, list) else [value]
    for item in values:
        if meta.get("choices") and item not in meta["choices"]:
            raise ConfigError(f"{where}: one of {', '.join(meta['choices'])}")
        if meta.get("pattern") and isinstance(item, str) and not re.fullmatch(meta["pattern"], item):
            raise ConfigError(f"{where}: not allowed (expected {meta['pattern']})")


def seconds(text: str) -> float:
    """`90`, `90s`, `15m`, `8h`, `2d` -> seconds."""
    m = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not m:
        raise ConfigError(f"not a duration: {text!r} (e.g. 90s, 15m, 8h, 2d)")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def to_toml(cfg: Config, show_secrets: bool = True) -> str:
    """The effective settings as a config file (what `config show --toml` prints)."""
    lines: list[str] = []
    current = ""
    for key, value, _ in cfg.items(show_secrets):
        section, _, name = key.partition(".")
        if section == "service":
            continue
        if section != current:
            lines += ([""] if lines else []) + [f"[{section}]"]
            current = section
        lines.append(f"{name} = {json.dumps(value)}")
    for table in cfg.catalogue:
        lines += ["", "[[service]]"]
        for f in dataclasses.fields(table):
            value = getattr(table, f.name)
            if f.name == "env" and value:
                lines.append("env = { " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }")
            elif value is not None and f.name != "env":
                lines.append(f"{f.name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


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
            if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
                raise ValueError("expected an integer")
            if isinstance(value, str) and not re.fullmatch(r"[-+]?\d{1,12}", value.strip()):
                raise ValueError("expected an integer of sane size" if value.strip().isdigit()
                                 else "expected an integer")
            return int(value)  # type: ignore[arg-type]
        if hint is float:
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return float(value)  # type: ignore[arg-type]
        if hint == list[str]:
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
            raise ValueError("expected a list of strings")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key.startswith("thresholds."):
            return f"{value:g}"  # a threshold may be written as a bare number
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{source}: {key} = {value!r}: {exc}") from None


def _tables(values: object, source: str) -> list[ServiceTable]:
    if not isinstance(values, list):
        raise ConfigError(f"{source}: service must be written [[service]], a table for each service")
    try:
        tables = [table_from_toml(v, source) for v in values]
    except CatalogueError as exc:
        raise ConfigError(str(exc)) from None
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        twice = min(n for n in names if names.count(n) > 1)
        raise ConfigError(f"{source}: two [[service]] tables named {twice!r}")
    return tables


def _apply(cfg: Config, key: str, value: object, source: str) -> None:
    section_name, _, name = key.partition(".")
    section = cfg.sections().get(section_name)
    if section is None:
        raise ConfigError(f"{source}: unknown section [{section_name}] "
                          f"(sections: {', '.join(SECTIONS)})")
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
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: {exc}") from None
        for section, values in data.items():
            if section == "service":
                cfg.catalogue = _tables(values, str(file))
                cfg.sources["catalogue"] = str(file)
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"{file}: unknown key {section!r} (settings live in sections)")
            for name, value in values.items():
                _apply(cfg, f"{section}.{name}", value, str(file))
        cfg.path = file
    for var, value in environ.items():
        if var.startswith(ENV_PREFIX) and var != ENV_PREFIX + "CONFIG":
            section, _, name = var[len(ENV_PREFIX):].lower().partition("_")
            _apply(cfg, f"{section}.{name}", value, f"${var}")
    for key, value in (overrides or {}).items():
        _apply(cfg, key, value, "command line")
    cfg.validate()
    return cfg
