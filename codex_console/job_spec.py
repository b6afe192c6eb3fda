"""The services job's settings and catalogue, as the console renders them into the sbatch script
(one JSON line in `CODEX_JOB_SPEC`) and the job's supervisor reads them back.

A successor of a hand-over is submitted from the same script, so it runs the same spec. Paths
stay as written (`~/x`, `$HOME/x`): they are expanded on the node, where they mean something.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from .catalogue import ServiceSpec, check_fits, resolve
from .config import Config, seconds
from .protocol import SPEC_FORMAT


class SpecError(ValueError):
    """A spec this job cannot run (another version of codex-console wrote it, say)."""


@dataclass(frozen=True)
class JobSpec:
    services: tuple[ServiceSpec, ...]
    template: str = "services"
    job_name: str = "codex-services"
    endpoints_file: str = "~/.codex-services.env"
    endpoints_mode: str = "0600"
    group: str = ""
    api_key_file: str = ""  # "": the embed servers run without a key
    neo4j_lock: str = ""
    neo4j_heap: str = ""  # "": sized from the job's memory
    neo4j_pagecache: str = ""
    neo4j_admin_command: str = "neo4j-admin"  # the neo4j-admin prefix (dumps and loads)
    neo4j_dump_dir: str = "~/neo4j/dumps"
    neo4j_dump_every: str = "0"  # scheduled dumps ("0": none)
    neo4j_dump_keep: int = 7
    restart_limit: int = 5
    requeue_limit: int = 3
    requeue_window: int = 86400
    exclude_failed_node: bool = True
    stop_timeout: int = 110
    rollover_lead: int = 1800
    partitions: tuple[str, ...] = ("titan",)
    nodes: int = 1
    format: int = SPEC_FORMAT

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)

    def to_json(self) -> str:
        data = asdict(self)
        data["services"] = [s.to_json() for s in self.services]
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        try:
            data: dict[str, Any] = json.loads(text)
        except ValueError as exc:
            raise SpecError(f"the job's spec is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != SPEC_FORMAT:
            raise SpecError(f"the job's spec has format {data.get('format') if isinstance(data, dict) else '?'}; "
                            f"this codex-console reads format {SPEC_FORMAT}: install the same version on the "
                            "cluster as on the console")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["services"] = tuple(ServiceSpec.from_json(s) for s in data.get("services", []))
        values["partitions"] = tuple(values.get("partitions", ()))
        return cls(**values)


def build(cfg: Config, template: str, api_key_file: str = "") -> JobSpec:
    """The spec for `template` (services, embed, neo4j); refuses a catalogue whose GPUs do not fit."""
    s, sv = cfg.slurm, cfg.services
    services = resolve(sv, s, cfg.catalogue, template)
    check_fits(services, s.gpus if template != "neo4j" else 0)
    return JobSpec(
        services=services, template=template, job_name=s.job_name, endpoints_file=sv.endpoints_file,
        endpoints_mode=sv.endpoints_mode, group=sv.group,
        api_key_file=api_key_file if api_key_file and api_key_file != "none" else "",
        neo4j_lock=sv.neo4j_lock, neo4j_heap=cfg.neo4j.heap, neo4j_pagecache=cfg.neo4j.pagecache,
        neo4j_admin_command=cfg.neo4j.admin_command, neo4j_dump_dir=cfg.neo4j.dump_dir,
        neo4j_dump_every=cfg.neo4j.dump_every, neo4j_dump_keep=cfg.neo4j.dump_keep,
        restart_limit=sv.restart_limit, requeue_limit=sv.requeue_limit, requeue_window=int(seconds(sv.requeue_window)),
        exclude_failed_node=sv.exclude_failed_node, stop_timeout=sv.stop_timeout,
        rollover_lead=int(seconds(sv.rollover_lead)), partitions=tuple(s.partitions), nodes=s.nodes)
