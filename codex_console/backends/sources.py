"""The source graph: what the console polls and the check gathers, and what each reading reads.

    jobs ──> gpu            (the GPUs of the running service job)
    endpoints ──> embed     (the embed server the endpoints file names)
              └─> neo4j     (the Neo4j it names)
    tunnels                 (the tunnel keeper's last status; not in local mode)

The console runs every source on its own schedule; the check polls each once, in this order,
under one deadline (`poller.gather`). Both read the same fetch functions defined here.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from ..history import Summary
from ..models import (
    EmbedHealth,
    Endpoints,
    GpuReport,
    Job,
    JobState,
    Neo4jHealth,
    Tunnel,
)
from .poller import Samples, Source, Waiting, gather
from .runner import RemoteError, Unreachable
from .slurm import service_job

if TYPE_CHECKING:
    from .cluster import Cluster

SOURCE_NAMES = ("jobs", "endpoints", "gpu", "embed", "neo4j", "tunnels", "health")


def gpu_samples(report: GpuReport) -> Samples:
    gauges: dict[str, float] = {}
    utils = [g.utilization for g in report.gpus if g.utilization is not None]
    if utils:
        gauges["util"] = sum(utils) / len(utils)
    for g in report.gpus:
        if g.utilization is not None:
            gauges[f"gpu{g.index}_util"] = g.utilization
        if g.memory_used is not None and g.memory_total:
            gauges[f"gpu{g.index}_mem"] = 100 * g.memory_used / g.memory_total
    return gauges, {}


def embed_samples(health: EmbedHealth) -> Samples:
    gauges = {"latency_ms": health.latency_ms, "queue": health.queue_depth}
    counters = {"requests": health.requests, "texts": health.texts, "errors": health.errors,
                "rejected": health.rejected}
    return ({k: v for k, v in gauges.items() if v is not None},
            {k: v for k, v in counters.items() if v is not None})


def latency_samples(health: Neo4jHealth) -> Samples:
    return ({"latency_ms": health.latency_ms} if health.latency_ms is not None else {}), {}


def with_job_facts(health: Neo4jHealth, ep: Endpoints | None) -> Neo4jHealth:
    """What the job knows of its Neo4j and the server did not say: the memory it gave it, the
    last dump."""
    facts = dict(ep.neo4j) if ep is not None else {}
    last = facts.get("last_dump_at")
    return replace(health, heap=health.heap or facts.get("heap", ""),
                   pagecache=health.pagecache or facts.get("pagecache", ""),
                   last_dump=float(last) if last else health.last_dump)


class Sources:
    def __init__(self, cluster: Cluster, *, stream_gpu: bool) -> None:
        self.cluster = cluster
        self.stream_gpu = stream_gpu
        p = cluster.cfg.poll
        self.jobs = Source[list[Job]]("jobs", cluster.slurm.jobs, p.slurm)
        self.endpoints = Source[Endpoints]("endpoints", cluster.endpoints_reader.read, p.slurm)
        self.gpu = Source[GpuReport]("gpu", self._gpu, p.gpu, after=[self.jobs], sampler=gpu_samples,
                                     timeout=max(20.0, p.gpu * 2))
        self.embed = Source[EmbedHealth]("embed", self._embed, p.embed, after=[self.endpoints],
                                         sampler=embed_samples)
        self.neo4j = Source[Neo4jHealth]("neo4j", self._neo4j, p.neo4j, after=[self.endpoints],
                                         sampler=latency_samples)
        self.tunnels = Source[list[Tunnel]]("tunnels", self._tunnels, p.tunnels)
        self.health = Source[Summary]("health", self._health, p.health)

    def checked(self) -> list[Source]:
        """What the check judges, in dependency order; no tunnels in local mode."""
        every = [self.jobs, self.endpoints, self.gpu, self.embed, self.neo4j]
        return every if self.cluster.cfg.login.local else every + [self.tunnels]

    def all(self) -> list[Source]:
        """What the dashboard shows: the checked sources and the watchdog's history."""
        return self.checked() + [self.health]

    def start(self) -> None:
        # A new job list may mean a new endpoints file: read it now, not at its next tick.
        self.jobs.listeners.append(lambda _source: self.endpoints.refresh())
        for source in self.all():
            source.start()

    def refresh(self) -> None:
        for source in self.all():
            source.refresh()

    async def stop(self) -> None:
        for source in self.all():
            await source.stop()

    async def gather(self, timeout: float) -> None:
        await gather(self.checked(), timeout)

    @property
    def job(self) -> Job | None:
        return service_job(self.jobs.reading.value)

    # -- fetches that read another source ---------------------------------------------------
    async def _gpu(self) -> GpuReport:
        job = self.job
        if job is None or job.state is not JobState.RUNNING or not job.node:
            raise Waiting("no running service job")
        if self.stream_gpu:
            return await self.cluster.gpu_stream.reading(job)
        return await self.cluster.gpu.report(job.node, job.job_id)

    def _endpoint(self, attribute: str, name: str) -> str:
        reading = self.endpoints.reading
        found = reading.value
        if found is None and reading.stale:
            error = Unreachable if reading.error_kind == "unreachable" else RemoteError
            raise error(f"the endpoints file could not be read: {reading.error}")
        if found is None or not getattr(found, attribute):
            raise Waiting(f"no {name} in the endpoints file" if found else "no endpoints file yet")
        return getattr(found, attribute)

    async def _embed(self) -> EmbedHealth:
        return await self.cluster.embed.probe(self._endpoint("embed_url", "EMBED_URL"))

    async def _neo4j(self) -> Neo4jHealth:
        health = await self.cluster.neo4j.probe(self._endpoint("neo4j_uri", "NEO4J_URI"))
        return with_job_facts(health, self.endpoints.reading.value)

    async def _tunnels(self) -> list[Tunnel]:
        return await asyncio.to_thread(self.cluster.tunnels.status)

    async def _health(self) -> Summary:
        return await self.cluster.health_summary()
