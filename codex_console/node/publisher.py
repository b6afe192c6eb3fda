"""The endpoints file and its JSON twin: where the services are, and how the job stands.

The KEY=VALUE file is what tools `source` and what the console has always read; the JSON twin
(`<file>.json`) has every service, instance, node, GPU and state. Both are written atomically,
only when what they say changed, and list only instances that are ready.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..catalogue import Kind, ServiceSpec
from ..protocol import SPEC_FORMAT, Key, json_twin
from .files import write_atomic

HEADER = "# written by the codex-services job; read by codex-console and the tools"


@dataclass
class View:
    """What the job says about itself at one moment (the supervisor builds one per publish)."""

    job_id: str
    node: str
    nodes: list[str]
    started: str
    restart_count: int
    services: tuple[ServiceSpec, ...]
    instances: list[dict[str, Any]]  # Instance.describe() of every node's instances
    log_file: str = ""
    partner_urls: dict[str, list[str]] = field(default_factory=dict)  # a successor's ready instances
    reason: str = ""
    events: list[str] = field(default_factory=list)
    handover: dict[str, Any] = field(default_factory=dict)  # phase, detail, successor, predecessor, moved
    neo4j: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    stale: bool = True

    def ready_urls(self, service: str) -> list[str]:
        own = [i["url"] for i in self.instances if i["service"] == service and i["state"] == "ready"]
        return own + [u for u in self.partner_urls.get(service, []) if u not in own]

    def down(self, kind: Kind | None = None) -> list[str]:
        kinds = {s.name: s.kind for s in self.services}
        return [i["name"] for i in self.instances
                if i["state"] == "down" and (kind is None or kinds.get(i["service"]) is kind)]


def quoted(value: str) -> str:
    return shlex.quote(value) if value and shlex.quote(value) != value else value


def render_env(view: View) -> str:
    lines = [HEADER]
    embed = next((s for s in view.services if s.kind is Kind.EMBED and s.name == "embed"), None)
    if embed is not None and view.ready_urls(embed.name):
        lines.append(f"{Key.EMBED_URL.value}={view.ready_urls(embed.name)[0]}")
    for spec in view.services:
        lines.append(f"{spec.urls_key}={','.join(view.ready_urls(spec.name))}")
        if spec.kind is Kind.NEO4J and view.ready_urls(spec.name):
            lines.append(f"{Key.NEO4J_URI.value}={view.ready_urls(spec.name)[0]}")
    values: list[tuple[Key, str]] = [
        (Key.EMBED_DOWN, ",".join(view.down())), (Key.JOB_ID, view.job_id), (Key.NODE, view.node),
        (Key.NODES, ",".join(view.nodes) if len(view.nodes) > 1 else ""), (Key.STARTED, view.started),
        (Key.RESTART_COUNT, str(view.restart_count)),
        (Key.SERVICE_RESTARTS, str(sum(int(i.get("restarts") or 0) for i in view.instances))),
        (Key.LOG_FILE, view.log_file), (Key.REASON, view.reason),
        (Key.EVENTS, "|".join(view.events)), (Key.HANDOVER, handover_text(view.handover)),
        (Key.SUCCESSOR, view.handover.get("successor", "")), (Key.PREDECESSOR, view.handover.get("predecessor", "")),
        (Key.NEO4J_MOVED, view.handover.get("moved_text", "")), (Key.WARNINGS, "|".join(view.warnings))]
    lines += [f"{key.value}={quoted(value)}" for key, value in values if value or key is Key.JOB_ID]
    lines.append(f"{Key.STALE.value}={1 if view.stale else 0}")
    return "\n".join(lines) + "\n"


def handover_text(handover: dict[str, Any]) -> str:
    phase, detail = handover.get("phase") or "", handover.get("detail") or ""
    return f"{phase}: {detail}" if phase and detail else phase


def render_json(view: View) -> dict[str, Any]:
    return {
        "format": SPEC_FORMAT, "job_id": view.job_id, "node": view.node, "nodes": view.nodes,
        "started": view.started, "restart_count": view.restart_count, "log_file": view.log_file,
        "stale": view.stale, "reason": view.reason, "events": view.events, "warnings": view.warnings,
        "services": [{"name": s.name, "kind": s.kind.value, "health": s.health, "urls": view.ready_urls(s.name),
                      "instances": [i for i in view.instances if i["service"] == s.name]} for s in view.services],
        "handover": view.handover, "neo4j": view.neo4j}


class Publisher:
    def __init__(self, path: str, mode: str = "0600", group: str = "") -> None:
        self.path, self.mode, self.group = path, mode, group
        self.last: tuple[str, str] | None = None

    def publish(self, view: View, force: bool = False) -> bool:
        """Write both files if what they say changed (or `force`); True when written."""
        env = render_env(view)
        twin = json.dumps(render_json(view), sort_keys=True)
        if not force and (env, twin) == self.last:
            return False
        write_atomic(json_twin(self.path), twin + "\n", self.mode, self.group)
        write_atomic(self.path, env, self.mode, self.group)
        self.last = (env, twin)
        return True

    def forget(self) -> None:
        """Write at the next publish whatever it says (another job wrote the file meanwhile)."""
        self.last = None
