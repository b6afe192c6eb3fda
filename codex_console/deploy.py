"""Render the sbatch script from config, and the guarded commands that submit it.

`#SBATCH` lines are read by Slurm, not by a shell, so quoting cannot protect them: their
values must match strict patterns or rendering fails naming the setting. The job's spec (its
settings and catalogue, `job_spec.py`) is one `shlex.quote`d JSON line; the supervisor reads it.
Commands (`embed_command`, `neo4j_command`, a service's `command`) are command lines by
definition and run as such on the node.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from dataclasses import dataclass
from importlib import resources

from . import job_spec
from .catalogue import CatalogueError
from .config import Config, ConfigError
from .models import FINISHED_STATES, Partition
from .protocol import signal_lead

TEMPLATES = ("services", "embed", "neo4j")
LOG_DIR = r"[A-Za-z0-9_./%+-]{1,512}"
# The jobs of a name that are not finished (any state squeue shows but the final ones).
# (squeue's own exit status decides: a failing squeue is never taken for "no job".)
FINISHED = "|".join(sorted(state.value for state in FINISHED_STATES))
ALIVE_JOBS = ("out=$(squeue --me --noheader --states=all --name=\"$n\" '--Format=JobID:|,StateCompact:|') && "
              "busy=$(printf '%s\\n' \"$out\" | awk -F'|' '$2 !~ /^(" + FINISHED + ")$/ && $1 != \"\" "
              "{print $1 \" \" $2}')")
# Under the lock: submit only when no job of the name exists; a failing squeue submits nothing.
GUARD = (f'n=$1; shift; {ALIVE_JOBS} || {{ echo "squeue failed: not submitting" >&2; exit 4; }}; '
         'if [ -n "$busy" ]; then echo "a $n job exists already: $busy" >&2; exit 3; fi; exec "$@"')
WAIT_GONE = (f'n=$1; for i in $(seq 240); do {ALIVE_JOBS} || exit 4; [ -z "$busy" ] && exit 0; '
             'sleep 0.5; done; echo "the old $n job did not end within 2 minutes: $busy" >&2; exit 5')
KEYGEN = ('umask 077; f=$1; if [ ! -s "$f" ]; then head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n" '
          '>"$f.tmp" && mv -f "$f.tmp" "$f"; fi; if [ -n "$3" ]; then chgrp "$3" "$f" || exit 1; fi; '
          'chmod "$2" "$f"')


@dataclass(frozen=True)
class Placement:
    partition: str
    template: str
    note: str = ""


def _check(key: str, value: str, pattern: str) -> str:
    if not re.fullmatch(pattern, value):
        raise ConfigError(f"{key} = {value!r} is not allowed here (expected {pattern})")
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


def guarded_argv(lock: str, job_name: str, submit: list[str]) -> list[str]:
    return ["flock", "-w", "30", lock, "sh", "-c", GUARD, "sh", job_name, *submit]


def keygen_argv(path: str, mode: str, group: str) -> tuple[str, ...]:
    """Create the API key file if missing (random, never printed), with the team's mode."""
    rel = absolute(path, "")
    return ("sh", "-c", KEYGEN, "sh", rel, mode, group)


WHAT = {"services": "every service of the catalogue", "embed": "the model servers, no Neo4j",
        "neo4j": "Neo4j only, for a partition without a free GPU"}


def render(cfg: Config, template: str | None = None, *, partition: str | None = None,
           home: str = "~", api_key_file: str = "") -> str:
    """The sbatch script: the header from config (strict patterns), the job's spec as JSON, and
    the line that starts the supervisor. Raises ConfigError naming the setting that is wrong."""
    template = template or cfg.slurm.template
    if template not in TEMPLATES:
        raise ConfigError(f"slurm.template = {template!r}: one of {', '.join(TEMPLATES)}")
    try:
        spec = job_spec.build(cfg, template, api_key_file)
    except CatalogueError as exc:
        raise ConfigError(str(exc)) from None
    s, sv = cfg.slurm, cfg.services
    gpus = s.gpus if template != "neo4j" else 0
    nodes = s.nodes if template != "neo4j" else 1  # Neo4j runs on one node
    lines = (f"#SBATCH --nodes={nodes}\n#SBATCH --ntasks-per-node=1\n" if nodes > 1 else "")
    lines += (f"#SBATCH --gres=gpu:{gpus}\n#SBATCH --cpus-per-gpu={s.cpus_per_gpu}\n" if gpus
              else f"#SBATCH --cpus-per-task={s.cpus_per_gpu}\n")
    nodelist = _check("slurm.nodelist", s.nodelist, r"[A-Za-z0-9_.,\[\]-]{0,256}")
    if nodes != spec.nodes:
        spec = dataclasses.replace(spec, nodes=nodes)
    values = {
        "job_name": _check("slurm.job_name", s.job_name, r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"),
        "partition": _check("slurm.partitions", partition or s.partitions[0], r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"),
        "resource_lines": lines,
        "mem": _check("slurm.mem", s.mem, r"\d+[KMGT]?"),
        "time_limit": _check("slurm.time_limit", s.time_limit, r"(\d+-)?\d{1,2}(:\d{2}){0,2}|UNLIMITED"),
        "signal_lead": str(signal_lead(sv.stop_timeout)),
        "log_dir": _check("services.log_dir", absolute(sv.log_dir, home), LOG_DIR),
        "nodelist_line": f"#SBATCH --nodelist={nodelist}" if nodelist else "",
        "what": WHAT[template],
        "spec": shlex.quote(spec.to_json()),
        "python": shell_path(sv.python),
    }
    text = _load("services.sbatch")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def placement(cfg: Config, partitions: list[Partition]) -> Placement:
    """Where to submit: the first GPU partition with a free GPU; else Neo4j alone on the next
    partition in the configured order that is up."""
    order = cfg.slurm.partitions
    template = cfg.slurm.template
    by_name = {p.name: p for p in partitions}
    first = by_name.get(order[0])
    if template == "neo4j" or cfg.slurm.gpus == 0:
        return Placement(order[0], template)
    if first is not None and first.available and first.free_gpus >= cfg.slurm.gpus:
        return Placement(order[0], template)
    for name in order[1:]:
        p = by_name.get(name)
        if p is not None and p.available:
            why = "is down" if first is not None and not first.available else "has no free GPU"
            return Placement(name, "neo4j", f"{order[0]} {why}: submitting Neo4j only to {name}")
    # Nothing better: queue on the GPU partition and wait for a GPU.
    return Placement(order[0], template, f"no partition has a free GPU; queueing on {order[0]}")
