"""A check's result and its two outputs: the Nagios text lines and the JSON object."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..backends.slurm_reasons import Explanation, explain_pending
from ..models import Endpoints, Job, JobState
from .nagios import Perf, State
from .probe import ProbeResult


@dataclass
class CheckResult:
    state: State
    probes: list[ProbeResult]
    elapsed_s: float
    job: Job | None = None
    endpoints: Endpoints | None = None
    resubmitted: str | None = None
    notes: list[str] = field(default_factory=list)
    ssh_connections: int = 0

    @property
    def exit_code(self) -> int:
        return int(self.state)

    @property
    def summary(self) -> str:
        bad = [r for r in self.probes if r.state is not State.OK]
        if self.state is not State.OK and bad:
            return "; ".join(f"{r.name} {r.summary}" for r in bad)
        return ", ".join(r.summary for r in self.probes if r.state is State.OK) or "no probe OK"

    @property
    def waits(self) -> Explanation | None:
        """Why the service job waits, when it does."""
        if self.job is None or self.job.state is JobState.RUNNING:
            return None
        return explain_pending(self.job.reason)

    def perfdata(self) -> list[Perf]:
        return [p for probe in self.probes for p in probe.perfdata] + [
            Perf("check_time", round(self.elapsed_s, 3), "s", min=0)]

    def lines(self) -> list[str]:
        head = f"CODEX {self.state.name} - {self.summary} | " + " ".join(p.render() for p in self.perfdata())
        waits = [f"what to do: {self.waits.action}"] if self.waits else []
        return [head] + [f"{p.name}: {p.state.name} - {p.summary}" for p in self.probes
                         if p.state is not State.OK] + waits + self.notes

    def to_json(self) -> dict[str, Any]:
        job = None if self.job is None else {**asdict(self.job), "state": self.job.state.name}
        if job is not None:
            job["waits"] = None if self.waits is None else {
                **asdict(self.waits), "expected_start": self.job.start_time or None}
        return {
            "state": self.state.name, "exit_code": self.exit_code, "summary": self.summary,
            "elapsed_s": round(self.elapsed_s, 3),
            "probes": [{"name": p.name, "state": p.state.name, "summary": p.summary,
                        "elapsed_s": round(p.elapsed_s, 3),
                        "perfdata": [asdict(x) for x in p.perfdata]} for p in self.probes],
            "job": job,
            "endpoints": asdict(self.endpoints) if self.endpoints else None,
            "resubmitted": self.resubmitted, "notes": self.notes,
            "ssh_connections": self.ssh_connections,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), default=list)


def unknown(reason: str) -> str:
    """The one line a check prints when it cannot even start (bad flags, bad config)."""
    return f"CODEX UNKNOWN - {' '.join(reason.split())}"
