"""Pure judgement: a snapshot of readings and the thresholds in, one result per probe out."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ..backends.slurm import service_job
from ..backends.slurm_parse import duration_seconds
from ..backends.slurm_reasons import explain_pending
from ..config import ThresholdsConfig
from ..models import (
    EmbedHealth,
    Endpoints,
    GpuReport,
    Job,
    JobState,
    ServiceHealth,
    ServiceReading,
    Tunnel,
)
from ..protocol import ROLLOVER_COMMENT, HandoverPhase, Key
from ..readings import Reading
from .job_report import judge_dumps, judge_warnings
from .nagios import Perf, Range, State, judge_value, worst
from .probe import ProbeResult


@dataclass(frozen=True)
class Thresholds:
    embed_warn: Range
    embed_crit: Range
    neo4j_warn: Range
    neo4j_crit: Range
    gpu_temp_warn: Range
    gpu_temp_crit: Range
    timeout_state: State = State.UNKNOWN

    @classmethod
    def from_config(cls, t: ThresholdsConfig) -> Thresholds:
        return cls(Range.parse(t.embed_latency_warn), Range.parse(t.embed_latency_crit),
                   Range.parse(t.neo4j_latency_warn), Range.parse(t.neo4j_latency_crit),
                   Range.parse(t.gpu_temp_warn), Range.parse(t.gpu_temp_crit), State[t.timeout_state])


@dataclass(frozen=True)
class Snapshot:
    """One reading of every source, taken together (poller.gather)."""

    jobs: Reading[list[Job]]
    endpoints: Reading[Endpoints]
    gpu: Reading[GpuReport]
    embed: Reading[ServiceReading]
    neo4j: Reading[ServiceHealth]  # its value is a Neo4jHealth
    tunnels: Reading[list[Tunnel]] | None = None  # None: local mode
    services: Reading[dict[str, ServiceReading]] | None = None  # the catalogue's other services

    @property
    def job(self) -> Job | None:
        return service_job(self.jobs.value) if not self.jobs.stale else None

    @property
    def unreachable(self) -> bool:
        return any(r is not None and r.stale and r.error_kind == "unreachable"
                   for r in (self.jobs, self.endpoints))


def _failed(name: str, reading: Reading, timeout_state: State, down: State = State.UNKNOWN) -> ProbeResult:
    """A reading that could not be taken: cut by the deadline, no way to the login node (nothing
    is known), or failed with an error (`down`)."""
    state = {"timeout": timeout_state, "unreachable": State.UNKNOWN}.get(reading.error_kind, down)
    return ProbeResult(name, state, reading.error, reading.elapsed)


def judge_job(reading: Reading[list[Job]], job_name: str, th: Thresholds) -> ProbeResult:
    if reading.stale:
        return _failed("job", reading, th.timeout_state)
    jobs = [j for j in reading.value or [] if j.state.alive]
    job = service_job(jobs)
    if job is None:
        return ProbeResult("job", State.CRITICAL, f"no {job_name} job running or pending", reading.elapsed,
                           (Perf("jobs_alive", 0, min=0),))
    perf = (Perf("jobs_alive", len(jobs), min=0),)
    if job.state is JobState.RUNNING:
        where = f" on {job.node}" if job.node else ""
        successors = [j for j in jobs if j.comment == f"{ROLLOVER_COMMENT}{job.job_id}"]
        handing = "".join(f" (hand-over to {j.job_id} {j.state.value})" for j in successors)
        return ProbeResult("job", State.OK, f"job {job.job_id} R{where} {job.elapsed}".rstrip() + handing,
                           reading.elapsed, perf)
    waits = explain_pending(job.reason)
    reason = f" ({waits.code}: {waits.means}; expected start {job.start_time or 'not known yet'})" if waits else ""
    return ProbeResult("job", State.WARNING, f"job {job.job_id} {job.state.value}{reason}", reading.elapsed, perf)


def _unmeasured(name: str, warn: Range, crit: Range) -> tuple[Perf, ...]:
    return (Perf(f"{name}_latency", None, "ms", warn.text, crit.text, 0),)


def _no_reading(name: str, reading: Reading, endpoints: Reading[Endpoints], warn: Range, crit: Range,
                th: Thresholds) -> ProbeResult | None:
    """Nothing to judge: there is nothing to probe yet, or the probe failed; None otherwise."""
    if reading.value is None and reading.note:
        why = reading.note
        ep = endpoints.value
        if ep is not None and ep.stale and ep.reason:
            why += f"; the job says: {ep.reason}"
        return ProbeResult(name, State.CRITICAL, why, reading.elapsed, _unmeasured(name, warn, crit))
    if reading.stale or reading.value is None:
        failed = _failed(name, reading, th.timeout_state, down=State.CRITICAL)
        summary = failed.summary if reading.error_kind in ("timeout", "unreachable") else f"down: {failed.summary}"
        return ProbeResult(name, failed.state, summary, failed.elapsed_s, _unmeasured(name, warn, crit))
    return None


def _stale_note(endpoints: Reading[Endpoints]) -> str:
    return " (endpoints marked stale)" if endpoints.value is not None and endpoints.value.stale else ""


def judge_service(name: str, reading: Reading[ServiceHealth], endpoints: Reading[Endpoints],
                  warn: Range, crit: Range, th: Thresholds) -> ProbeResult:
    """A one-endpoint service (Neo4j): down, not ready, or its latency against the ranges."""
    nothing = _no_reading(name, reading, endpoints, warn, crit, th)
    if nothing is not None:
        return nothing
    health = reading.value
    if not health.ready or health.latency_ms is None:
        return ProbeResult(name, State.CRITICAL, f"{health.url} not ready ({health.detail or 'no answer'})",
                           reading.elapsed, _unmeasured(name, warn, crit))
    perf = (Perf(f"{name}_latency", round(health.latency_ms, 2), "ms", warn.text, crit.text, 0),)
    return ProbeResult(name, judge_value(health.latency_ms, warn, crit),
                       f"{name} ready {health.latency_ms:.0f} ms{_stale_note(endpoints)}", reading.elapsed, perf)


def judge_replicas(name: str, reading: Reading[ServiceReading], endpoints: Reading[Endpoints],
                   warn: Range, crit: Range, th: Thresholds) -> ProbeResult:
    """Every replica the endpoints file lists: CRITICAL when none serves, WARNING when some do
    not; the slowest serving replica's latency against the ranges."""
    nothing = _no_reading(name, reading, endpoints, warn, crit, th)
    if nothing is not None:
        return nothing
    replicas = reading.value.replicas
    serving = [r.health for r in replicas if r.ready and r.health is not None and r.health.latency_ms is not None]
    failing = [f"{r.url} " + (f"not ready ({r.health.detail or 'no answer'})" if r.health is not None
                              else f"down ({r.error})") for r in replicas if r.health not in serving]
    if not serving:
        return ProbeResult(name, State.CRITICAL, "; ".join(failing) or "no replica", reading.elapsed,
                           _unmeasured(name, warn, crit))
    slowest = max(h.latency_ms for h in serving)
    state = worst([judge_value(slowest, warn, crit), State.WARNING if failing else State.OK])
    perf = [Perf(f"{name}_latency", round(slowest, 2), "ms", warn.text, crit.text, 0)]
    queues = [h.queue_depth for h in serving if isinstance(h, EmbedHealth) and h.queue_depth is not None]
    if queues:
        perf.append(Perf(f"{name}_queue", sum(queues), min=0))
    count = "" if len(replicas) == 1 else f" {len(serving)}/{len(replicas)}"
    summary = f"{name}{count} ready {slowest:.0f} ms{_stale_note(endpoints)}" + (
        f"; {'; '.join(failing)}" if failing else "")
    return ProbeResult(name, state, summary, reading.elapsed, tuple(perf))


def judge_catalogue(reading: Reading[dict[str, ServiceReading]] | None, endpoints: Reading[Endpoints],
                    th: Thresholds) -> list[ProbeResult]:
    """One probe per service of the catalogue beyond embed and Neo4j, judged as the embed
    service's replicas are (its latency against the embed ranges: thresholds.embed_latency_*)."""
    if reading is None or (reading.value is None and reading.note):
        return []
    ep = endpoints.value
    names = [s.name for s in ep.services if s.name not in ("embed", "neo4j")] if ep is not None else []
    if reading.stale or reading.value is None:
        return [r for r in (_no_reading(n, reading, endpoints, th.embed_warn, th.embed_crit, th) for n in names) if r]
    results = []
    for name, service in reading.value.items():
        if not service.replicas:  # none ready: what the job says of each instance
            listed = ep.service(name) if ep is not None else None
            why = "; ".join(f"{i.name} {i.state}" + (f" ({i.why})" if i.why else "")
                            for i in (listed.instances if listed is not None else ()))
            results.append(ProbeResult(name, State.CRITICAL, f"{name}: no instance ready" + (f": {why}" if why else ""),
                                       reading.elapsed, (Perf(f"{name}_latency", None, "ms", th.embed_warn.text,
                                                              th.embed_crit.text, 0),)))
            continue
        one = replace(reading, value=service)
        results.append(judge_replicas(name, one, endpoints, th.embed_warn, th.embed_crit, th))
    return results


def judge_gpu(reading: Reading[GpuReport], th: Thresholds) -> ProbeResult | None:
    if reading.value is None and reading.note:
        return None  # no running job: nothing to measure
    if reading.stale or reading.value is None:
        return _failed("gpu", reading, th.timeout_state)
    report = reading.value
    perf, states, hot = [], [], []
    for g in report.gpus:
        perf.append(Perf(f"gpu{g.index}_util", g.utilization, "%", min=0, max=100))
        perf.append(Perf(f"gpu{g.index}_mem", g.memory_used_gb, "GB", min=0, max=g.memory_total_gb))
        if g.temperature is not None:
            state = judge_value(g.temperature, th.gpu_temp_warn, th.gpu_temp_crit)
            states.append(state)
            if state is not State.OK:
                hot.append(f"gpu{g.index} {g.temperature:.0f}C")
    state = max(states, default=State.OK)
    summary = f"{len(report.gpus)} GPU(s) on {report.node}" + (f", hot: {', '.join(hot)}" if hot else "")
    return ProbeResult("gpu", state, summary, reading.elapsed, tuple(perf))


def judge_handover(jobs: Reading[list[Job]], endpoints: Reading[Endpoints], lead: float) -> ProbeResult | None:
    """Near the time limit: WARNING while a hand-over is due and not under way (or its
    successor waits), CRITICAL when the limit is a third of the lead away and no successor is
    ready. Nothing to say earlier, or with no running job or rollover off."""
    job = service_job(jobs.fresh_value)
    left = duration_seconds(job.time_left) if job is not None and job.time_left else None
    if job is None or job.state is not JobState.RUNNING or left is None or lead <= 0 or left > lead:
        return None
    ep = endpoints.fresh_value
    phase = ep.handover if ep is not None and ep.job_id == job.job_id else None
    said = ep.get(Key.HANDOVER.value) if phase is not None and ep is not None else ""
    when = f"{_minutes(left)} to the time limit"
    if phase is not None and phase.under_way:
        return ProbeResult("handover", State.OK, f"hand-over {said}, {when}")
    if left <= lead / 3:
        return ProbeResult("handover", State.CRITICAL, f"{when} and no successor ready: {said or 'not started'}")
    if phase in (None, HandoverPhase.FAILED, HandoverPhase.PENDING):
        return ProbeResult("handover", State.WARNING, f"hand-over due, {when}: {said or 'not started'}")
    return ProbeResult("handover", State.OK, f"hand-over {said}, {when}")


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def judge_tunnels(reading: Reading[list[Tunnel]] | None, th: Thresholds) -> ProbeResult | None:
    if reading is None:
        return None
    if reading.stale:
        return _failed("tunnels", reading, th.timeout_state)
    tunnels = reading.value or []
    if not any(t.pid or t.error for t in tunnels):
        return None  # no keeper runs here: nothing to check
    down = [t for t in tunnels if not t.up]
    if down:
        return ProbeResult("tunnels", State.CRITICAL, "down: " + ", ".join(
            f"{t.name} ({t.error or 'down'})" for t in down), reading.elapsed)
    return ProbeResult("tunnels", State.OK, f"{len(tunnels)} tunnel(s) up", reading.elapsed)


def judge(snapshot: Snapshot, job_name: str, th: Thresholds, lead: float = 0.0, dump_every: float = 0.0,
          now: float | None = None) -> list[ProbeResult]:
    now = time.time() if now is None else now
    results = [judge_job(snapshot.jobs, job_name, th), judge_handover(snapshot.jobs, snapshot.endpoints, lead),
               judge_warnings(snapshot.endpoints), judge_dumps(snapshot.endpoints, dump_every, now),
               judge_replicas("embed", snapshot.embed, snapshot.endpoints, th.embed_warn, th.embed_crit, th),
               judge_service("neo4j", snapshot.neo4j, snapshot.endpoints, th.neo4j_warn, th.neo4j_crit, th),
               *judge_catalogue(snapshot.services, snapshot.endpoints, th),
               judge_gpu(snapshot.gpu, th), judge_tunnels(snapshot.tunnels, th)]
    return [r for r in results if r is not None]


def verdict(snapshot: Snapshot, results: list[ProbeResult]) -> State:
    """The overall state: UNKNOWN when the login node could not be reached (nothing is known),
    else the worst probe."""
    if snapshot.unreachable:
        return State.UNKNOWN
    return worst([r.state for r in results])
