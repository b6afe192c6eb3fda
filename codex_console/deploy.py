"""Render the sbatch templates from config: header values validated, body values shell-quoted.

`#SBATCH` lines are read by Slurm, not by a shell, so quoting cannot protect them: their
values must match strict patterns or rendering fails naming the setting. Everything the job's
shell reads is `shlex.quote`d. Commands (`embed_command`, `neo4j_command`) are command lines by
definition and run as such on the node.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib import resources

from .config import Config, ConfigError
from .models import Partition

TEMPLATES = ("services", "embed", "neo4j")
PATTERNS = {
    "slurm.job_name": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
    "slurm.partitions": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
    "slurm.mem": r"\d+[KMGT]?",
    "slurm.time_limit": r"(\d+-)?\d{1,2}(:\d{2}){0,2}|UNLIMITED",
    "slurm.nodelist": r"[A-Za-z0-9_.,\[\]-]{0,256}",
    "services.log_dir": r"[A-Za-z0-9_./%+-]{1,512}",
}


@dataclass(frozen=True)
class Plan:
    partition: str
    template: str
    note: str = ""


def _check(key: str, value: str) -> str:
    if not re.fullmatch(PATTERNS[key], value):
        raise ConfigError(f"{key} = {value!r} is not allowed here (expected {PATTERNS[key]})")
    return value


def _load(name: str) -> str:
    return resources.files("slurm_templates").joinpath(name).read_text()


def shell_path(path: str) -> str:
    """A path for the job's shell: `~/x` and `$HOME/x` expand there, the rest is quoted."""
    for prefix in ("~/", "$HOME/", "${HOME}/"):
        if path.startswith(prefix):
            return '"$HOME"/' + shlex.quote(path[len(prefix):])
    return shlex.quote(path)


def absolute(path: str, home: str) -> str:
    """`~/x` with the remote home; with the home unknown, `x` relative to it (sbatch runs in
    the home directory over SSH, and Slurm expands no `~`)."""
    for prefix in ("~/", "$HOME/", "${HOME}/"):
        if path.startswith(prefix):
            rest = path[len(prefix):]
            return rest if home in ("", "~") else f"{home.rstrip('/')}/{rest}"
    return path


def render(cfg: Config, template: str | None = None, *, partition: str | None = None,
           home: str = "~") -> str:
    template = template or cfg.slurm.template
    if template not in TEMPLATES:
        raise ConfigError(f"slurm.template = {template!r}: one of {', '.join(TEMPLATES)}")
    s, sv = cfg.slurm, cfg.services
    gpus = s.gpus if template != "neo4j" else 0
    if gpus < 0 or s.cpus_per_gpu < 1:
        raise ConfigError("slurm.gpus must be >= 0 and slurm.cpus_per_gpu >= 1")
    gres_lines = (f"#SBATCH --gres=gpu:{gpus}\n#SBATCH --cpus-per-gpu={s.cpus_per_gpu}\n" if gpus
                  else f"#SBATCH --cpus-per-task={s.cpus_per_gpu}\n")
    nodelist = _check("slurm.nodelist", s.nodelist)
    header = _load("header.sbatch")
    for key, value in {
        "job_name": _check("slurm.job_name", s.job_name),
        "partition": _check("slurm.partitions", partition or s.partitions[0]),
        "gres_lines": gres_lines,
        "mem": _check("slurm.mem", s.mem),
        "time_limit": _check("slurm.time_limit", s.time_limit),
        "log_dir": _check("services.log_dir", absolute(sv.log_dir, home)),
        "nodelist_line": f"#SBATCH --nodelist={nodelist}" if nodelist else "",
    }.items():
        header = header.replace("{{" + key + "}}", value)
    settings = {
        "ENDPOINTS_FILE": shell_path(sv.endpoints_file),
        "EMBED_COMMAND": shlex.quote(sv.embed_command),
        "MODEL": shell_path(sv.model),
        "EMBED_DEVICE": shlex.quote(sv.embed_device),
        "EMBED_DIMENSION": str(int(sv.embed_dimension)),
        "EMBED_PORT": str(int(sv.embed_port)),
        "BOLT_PORT": str(int(sv.bolt_port)),
        "NEO4J_COMMAND": shlex.quote(sv.neo4j_command),
        "NEO4J_LOCK": shell_path(sv.neo4j_lock) if sv.neo4j_lock else "''",
        "API_KEY_FILE": shell_path(sv.api_key_file) if sv.api_key_file else "''",
        "RESTART_LIMIT": str(int(sv.restart_limit)),
        "READY_TIMEOUT": "600",
    }
    settings_block = "\n".join(f"{k}={v}" for k, v in settings.items())
    text = _load(f"{template}.sbatch")
    text = text.replace("{{header}}", header.rstrip("\n")).replace("{{settings}}", settings_block)
    return text.replace("{{body}}", _load("job_body.sh"))


def plan(cfg: Config, partitions: list[Partition]) -> Plan:
    """Where to submit: the first GPU partition with a free GPU; else Neo4j alone on the next
    partition in the configured order that is up."""
    order = cfg.slurm.partitions
    template = cfg.slurm.template
    by_name = {p.name: p for p in partitions}
    first = by_name.get(order[0])
    if template == "neo4j" or cfg.slurm.gpus == 0:
        return Plan(order[0], template)
    if first is not None and first.available and first.free_gpus >= cfg.slurm.gpus:
        return Plan(order[0], template)
    for name in order[1:]:
        p = by_name.get(name)
        if p is not None and p.available:
            why = "is down" if first is not None and not first.available else "has no free GPU"
            return Plan(name, "neo4j", f"{order[0]} {why}: submitting Neo4j only to {name}")
    # Nothing better: queue on the GPU partition and wait for a GPU.
    return Plan(order[0], template, f"no partition has a free GPU; queueing on {order[0]}")
