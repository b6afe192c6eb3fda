"""Headless health check for cron/systemd/Nagios: every probe at once under one deadline.

Output follows the monitoring-plugin conventions: one line `CODEX <STATE> - <summary> |
<perfdata>`, then one line per failing probe; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
This module never imports Textual (a test checks that).
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable

from .backends.cluster import Cluster
from .backends.runner import RemoteError, Unreachable
from .config import Config
from .models import Endpoints, Job, JobState


class State(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class Perf:
    label: str
    value: float
    uom: str = ""
    warn: float | None = None
    crit: float | None = None
    min: float | None = None
    max: float | None = None

    def render(self) -> str:
        def num(v: float | None) -> str:
            return "" if v is None else f"{v:g}"
        return (f"'{self.label}'={self.value:.6g}{self.uom};{num(self.warn)};{num(self.crit)};"
                f"{num(self.min)};{num(self.max)}").rstrip(";")


@dataclass(frozen=True)
class ProbeResult:
    name: str
    state: State
    summary: str
    elapsed_s: float = 0.0
    perfdata: tuple[Perf, ...] = ()


@dataclass
class CheckResult:
    state: State
    summary: str
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

    def perfdata(self) -> list[Perf]:
        return [p for probe in self.probes for p in probe.perfdata] + [
            Perf("check_time", round(self.elapsed_s, 3), "s", min=0)]

    def lines(self) -> list[str]:
        head = f"CODEX {self.state.name} - {self.summary} | " + " ".join(p.render() for p in self.perfdata())
        return [head] + [f"{p.name}: {p.state.name} - {p.summary}" for p in self.probes
                         if p.state is not State.OK] + self.notes

    def to_json(self) -> dict[str, Any]:
        job = None
        if self.job is not None:
            job = {**asdict(self.job), "state": self.job.state.name}
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


def overall(states: list[State]) -> State:
    """CRITICAL beats UNKNOWN beats WARNING beats OK."""
    for state in (State.CRITICAL, State.UNKNOWN, State.WARNING):
        if state in states:
            return state
    return State.OK


def latency_state(ms: float, warn: float, crit: float) -> State:
    return State.CRITICAL if ms >= crit else State.WARNING if ms >= warn else State.OK


class Checker:
    def __init__(self, cfg: Config, cluster: Cluster | None = None) -> None:
        self.cfg = cfg
        self.cluster = cluster or Cluster(cfg)
        self.th = cfg.thresholds
        self.job: Job | None = None
        self.endpoints: Endpoints | None = None
        self._jobs_done = asyncio.Event()
        self.jobs_known = False  # squeue answered: "no job" is a fact, not a guess
        self.unreachable = False
        self._endpoints_done = asyncio.Event()

    async def _timed(self, name: str, probe: Callable[[], Awaitable[ProbeResult | None]]
                     ) -> ProbeResult | None:
        start = time.monotonic()
        try:
            result = await probe()
            if result is None:
                return None  # not applicable now (no running job, no tunnels opened here)
        except Unreachable as exc:
            self.unreachable = True
            result = ProbeResult(name, State.UNKNOWN, str(exc))
        except RemoteError as exc:
            result = ProbeResult(name, State.UNKNOWN, str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken probe is UNKNOWN, never a traceback
            result = ProbeResult(name, State.UNKNOWN, f"{type(exc).__name__}: {exc}")
        return ProbeResult(result.name, result.state, result.summary, time.monotonic() - start,
                           result.perfdata)

    async def probe_job(self) -> ProbeResult:
        try:
            jobs = await self.cluster.slurm.jobs()
            self.jobs_known = True
        finally:
            self._jobs_done.set()
        alive = [j for j in jobs if j.state.alive]
        running = [j for j in alive if j.state is JobState.RUNNING]
        self.job = running[0] if running else (alive[-1] if alive else None)
        name = self.cfg.slurm.job_name
        if self.job is None:
            return ProbeResult("job", State.CRITICAL, f"no {name} job running or pending")
        j = self.job
        where = f" on {j.node}" if j.node else ""
        reason = f" ({j.reason})" if j.reason else ""
        perf = (Perf("jobs_alive", len(alive), min=0),)
        if j.state is JobState.RUNNING:
            return ProbeResult("job", State.OK, f"job {j.job_id} R{where} {j.elapsed}", perfdata=perf)
        return ProbeResult("job", State.WARNING, f"job {j.job_id} {j.state.value}{reason}", perfdata=perf)

    async def probe_endpoints(self) -> Endpoints:
        try:
            self.endpoints = await self.cluster.endpoints_reader.read()
        finally:
            self._endpoints_done.set()
        return self.endpoints

    async def probe_embed(self) -> ProbeResult:
        ep = await self.probe_endpoints()
        if not ep.embed_url:
            return ProbeResult("embed", State.CRITICAL, "no EMBED_URL (no endpoints file?)")
        h = await self.cluster.embed.probe(ep.embed_url)
        if not h.ready or h.latency_ms is None:
            return ProbeResult("embed", State.CRITICAL, f"{ep.embed_url} down: {h.error}")
        state = latency_state(h.latency_ms, self.th.embed_latency_warn_ms, self.th.embed_latency_crit_ms)
        perf = [Perf("embed_latency", round(h.latency_ms, 2), "ms", self.th.embed_latency_warn_ms,
                     self.th.embed_latency_crit_ms, 0)]
        if h.queue_depth is not None:
            perf.append(Perf("embed_queue", h.queue_depth, min=0))
        stale = " (endpoints marked stale)" if ep.stale else ""
        return ProbeResult("embed", state, f"embed ready {h.latency_ms:.0f} ms{stale}", perfdata=tuple(perf))

    async def probe_graph(self) -> ProbeResult:
        await self._endpoints_done.wait()
        if self.endpoints is None:
            raise RemoteError("endpoints file could not be read")
        ep = self.endpoints
        if not ep.neo4j_uri:
            return ProbeResult("neo4j", State.CRITICAL, "no NEO4J_URI (no endpoints file?)")
        h = await self.cluster.graph.probe(ep.neo4j_uri)
        if not h.ok or h.latency_ms is None:
            return ProbeResult("neo4j", State.CRITICAL, f"{ep.neo4j_uri} down: {h.error}")
        state = latency_state(h.latency_ms, self.th.bolt_latency_warn_ms, self.th.bolt_latency_crit_ms)
        return ProbeResult("neo4j", state, f"neo4j ok {h.latency_ms:.0f} ms", perfdata=(
            Perf("bolt_latency", round(h.latency_ms, 2), "ms", self.th.bolt_latency_warn_ms,
                 self.th.bolt_latency_crit_ms, 0),))

    async def probe_gpu(self) -> ProbeResult | None:
        await self._jobs_done.wait()
        job = self.job
        if job is None or job.state is not JobState.RUNNING or not job.node:
            return None
        report = await self.cluster.gpu.report(job.node, job.job_id)
        perf, hot = [], []
        for g in report.gpus:
            if g.utilization is not None:
                perf.append(Perf(f"gpu{g.index}_util", g.utilization, "%", min=0, max=100))
            if g.memory_used is not None:
                perf.append(Perf(f"gpu{g.index}_mem", g.memory_used, "MB", min=0, max=g.memory_total))
            if g.temperature is not None and g.temperature >= self.th.gpu_temp_warn:
                hot.append((g.index, g.temperature))
        state = State.OK
        if hot:
            state = State.CRITICAL if max(t for _, t in hot) >= self.th.gpu_temp_crit else State.WARNING
        detail = ", ".join(f"gpu{i} {t:.0f}C" for i, t in hot)
        return ProbeResult("gpu", state, f"{len(report.gpus)} GPU(s) on {job.node}" +
                           (f", hot: {detail}" if detail else ""), perfdata=tuple(perf))

    async def probe_tunnels(self) -> ProbeResult | None:
        tunnels = [t for t in await self.cluster.tunnels.status() if t.pid is not None]
        if not tunnels:
            return None  # none opened here: nothing to check
        down = [t for t in tunnels if not t.up]
        if down:
            return ProbeResult("tunnels", State.CRITICAL, "down: " + ", ".join(
                f"{t.name} ({t.error})" for t in down))
        return ProbeResult("tunnels", State.OK, f"{len(tunnels)} tunnel(s) up")

    async def run(self, timeout: float | None = None, resubmit: bool = False) -> CheckResult:
        timeout = timeout or self.th.check_timeout
        start = time.monotonic()
        probes: dict[str, Callable[[], Awaitable[ProbeResult | None]]] = {
            "job": self.probe_job, "embed": self.probe_embed, "neo4j": self.probe_graph,
            "gpu": self.probe_gpu}
        if not self.cfg.login.local:
            probes["tunnels"] = self.probe_tunnels
        tasks = {name: asyncio.ensure_future(self._timed(name, fn)) for name, fn in probes.items()}
        done, pending = await asyncio.wait(tasks.values(), timeout=timeout)
        for task in pending:
            task.cancel()
        results: list[ProbeResult] = []
        for name, task in tasks.items():
            if task not in done:
                results.append(ProbeResult(name, State.UNKNOWN, f"timed out after {timeout:g}s", timeout))
            elif task.result() is not None:
                results.append(task.result())
        result = CheckResult(State.UNKNOWN if self.unreachable else overall([r.state for r in results]),
                             "", results, 0.0, self.job, self.endpoints)
        if resubmit and self.jobs_known and self.job is None:
            try:
                sub = await asyncio.wait_for(self.cluster.submit(), timeout)
                result.resubmitted = sub.job_id
                result.notes.append(f"resubmitted: job {sub.job_id} on {sub.partition}"
                                    + (f" ({sub.note})" if sub.note else ""))
            except Exception as exc:  # noqa: BLE001
                result.notes.append(f"resubmit failed: {exc}")
        result.summary = ", ".join(r.summary for r in results if r.state is State.OK) or "no probe OK"
        if result.state is not State.OK:
            bad = [r for r in results if r.state is not State.OK]
            result.summary = "; ".join(f"{r.name} {r.summary}" for r in bad)
        result.elapsed_s = time.monotonic() - start
        result.ssh_connections = getattr(self.cluster.runner, "connections_opened", 0)
        return result
