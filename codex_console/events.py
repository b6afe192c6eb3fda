"""What changed, in words: successive readings in, events out (job state transitions, service
restarts the job recorded, services and tunnels going down and coming back, failed checks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backends.accounting import NO_ACCOUNTING_NOTE, PastJob
from .models import Endpoints, Job, JobState, ServiceHealth, ServiceReading, Tunnel
from .readings import Reading


@dataclass(frozen=True)
class Event:
    at: float  # epoch
    source: str
    text: str
    severity: str = "info"  # info | warning | error


class EventTracker:
    """Keeps what it saw last per source; `observe` says what is new."""

    def __init__(self) -> None:
        self._seen: dict[str, Any] = {}
        self._job_events: set[str] = set()
        self._said: set[str] = set()  # things said once

    def observe(self, source: str, reading: Reading, now: float) -> list[Event]:
        handler = getattr(self, f"_{source}", None)
        if handler is None or reading.taken is None and not reading.stale:
            return []
        return [Event(now, source, text, severity) for text, severity in handler(reading)]

    def _changed(self, key: str, value: Any) -> tuple[bool, Any]:
        """(whether it changed since last time, the old value); the first sighting is no change."""
        first = key not in self._seen
        old = self._seen.get(key)
        self._seen[key] = value
        return (not first and old != value), old

    def _jobs(self, reading: Reading[list[Job]]) -> list[tuple[str, str]]:
        if reading.stale:
            return []
        now = {j.job_id: j.state.name for j in reading.value or []}
        changed, old = self._changed("jobs", now)
        if not changed:
            return []
        out = []
        for job_id, state in now.items():
            if job_id not in old:
                out.append((f"job {job_id} appeared, {state.lower()}", "info"))
            elif old[job_id] != state:
                severity = "info" if state == "RUNNING" else "warning"
                out.append((f"job {job_id}: {old[job_id].lower()} -> {state.lower()}", severity))
        out += [(f"job {job_id} left the queue", "warning") for job_id in old if job_id not in now]
        return out

    def _endpoints(self, reading: Reading[Endpoints]) -> list[tuple[str, str]]:
        ep = reading.fresh_value
        if ep is None:
            return []
        out = []
        changed, old = self._changed("serving", (ep.stale, ep.node, ep.down))
        if changed:
            if ep.stale:
                out.append((f"services not (all) serving: {ep.reason or 'see the job log'}", "error"))
            elif old and old[0]:
                out.append((f"services serving again on {ep.node}", "info"))
            if old and old[1] and ep.node != old[1]:
                out.append((f"services moved from {old[1]} to {ep.node}", "warning"))
        for item in ep.get("EVENTS").split("|"):  # what the job's supervisor recorded
            item = item.strip()
            if item and item not in self._job_events:
                first = not self._job_events and "EVENTS" not in self._seen
                self._job_events.add(item)
                if not first:
                    out.append((f"job: {item}", "warning" if "exited" in item or "down" in item else "info"))
        self._seen["EVENTS"] = True
        return out

    def _service(self, name: str, reading: Reading[ServiceHealth] | Reading[ServiceReading]) -> list[tuple[str, str]]:
        up = reading.fresh_value is not None and bool(reading.fresh_value.ready)
        changed, _ = self._changed(name, up)
        if not changed:
            return []
        return [(f"{name} is back", "info")] if up else [(f"{name} down: {reading.error or reading.note}", "error")]

    def _embed(self, reading: Reading[ServiceReading]) -> list[tuple[str, str]]:
        """The service as a whole, and a replica that goes down or comes back while others serve."""
        out = self._service("embed", reading)
        for replica in reading.fresh_value.replicas if reading.fresh_value is not None else ():
            changed, _ = self._changed(f"embed {replica.url}", replica.ready)
            if changed and not out:
                out.append((f"embed replica {replica.url} is back", "info") if replica.ready else
                           (f"embed replica {replica.url} down: {replica.error or replica.health.detail}",
                            "warning"))
        return out

    def _neo4j(self, reading: Reading[ServiceHealth]) -> list[tuple[str, str]]:
        return self._service("neo4j", reading)

    def _tunnels(self, reading: Reading[list[Tunnel]]) -> list[tuple[str, str]]:
        out = []
        for t in reading.fresh_value or []:
            if not (t.pid or t.error):
                continue
            changed, _ = self._changed(f"tunnel-{t.name}", t.up)
            if changed:
                out.append((f"tunnel {t.name} is back" if t.up else f"tunnel {t.name} dropped: {t.error}",
                            "info" if t.up else "warning"))
        return out

    def _accounting(self, reading: Reading[list[PastJob]]) -> list[tuple[str, str]]:
        """Why jobs ended, as accounting tells it; where there is no accounting, that once."""
        if reading.value is None:
            if reading.note.startswith(NO_ACCOUNTING_NOTE) and "no accounting" not in self._said:
                self._said.add("no accounting")
                return [(f"{reading.note}: why jobs ended is not known here (the events go on from squeue)",
                         "info")]
            return []
        ended = {job.job_id + "/" + job.end: job for job in reading.value if job.finished}
        first = "ended" not in self._seen
        seen = self._seen.setdefault("ended", set())
        new = [job for key, job in ended.items() if key not in seen]
        seen.update(ended)
        if first:
            return []
        return [(f"job {job.job_id} ended: {job.why}", "info" if job.state is JobState.COMPLETED else "warning")
                for job in new]

    def _health(self, reading: Reading[Any]) -> list[tuple[str, str]]:
        summary = reading.fresh_value
        last = getattr(summary, "last", None)
        if last is None:
            return []
        changed, _ = self._changed("health", last.at)
        if changed and last.state != "OK":
            severity = "error" if last.state == "CRITICAL" else "warning"
            return [(f"watchdog check {last.state}: {last.summary}", severity)]
        return []
