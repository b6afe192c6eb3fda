"""The source graph: what the console polls and the check gathers, and what each reading reads.

    jobs ──> gpu            (the GPUs of the running service job; the console's frames are
                             pushed by one nvidia-smi loop as they arrive)
    endpoints ──> embed     (every embed replica the endpoints file names, probed together)
              └─> neo4j     (the Neo4j it names)
    tunnels                 (the tunnel keeper's last status; not in local mode)
    accounting              (the service's past jobs from sacct; asked again when jobs come or go)

The console runs every source on its own schedule; the check polls each once, in this order,
under one deadline (`poller.gather`). Both read the same fetch functions defined here.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..history import Summary
from ..models import (
    EmbedHealth,
    Endpoints,
    GpuReport,
    Job,
    JobState,
    Neo4jHealth,
    ServiceEndpoints,
    ServiceReading,
    Tunnel,
)
from .accounting import AccountingUnavailable, PastJob
from .poller import Pushed, Samples, Source, Waiting, gather
from .replica_probe import answered, probe_replicas
from .runner import RemoteError, Unreachable
from .slurm import service_job

if TYPE_CHECKING:
    from .cluster import Cluster

SOURCE_NAMES = ("jobs", "endpoints", "gpu", "embed", "neo4j", "services", "tunnels", "health", "accounting")
OWN_SOURCES = ("embed", "neo4j")  # services of the catalogue with a source (and panel) of their own
HISTORY_SPAN = 7 * 86400.0  # how far back the dashboard's past jobs go


def gpu_samples(report: GpuReport) -> Samples:
    """Per GPU (subject: its index), utilization in % and memory used in GB; the mean
    utilization of all."""
    gauges: dict = {}
    utils = [g.utilization for g in report.gpus if g.utilization is not None]
    if utils:
        gauges["util"] = sum(utils) / len(utils)
    for g in report.gpus:
        if g.utilization is not None:
            gauges["util", str(g.index)] = g.utilization
        if g.memory_used_gb is not None:
            gauges["mem_gb", str(g.index)] = g.memory_used_gb
    return gauges, {}


EMBED_COUNTERS = ("requests", "texts", "errors", "rejected")


def embed_samples(reading: ServiceReading) -> Samples:
    """Per replica (subject: its URL) latency, queue and the counters (rates, summed by the
    history into the service's totals); the queue of all replicas together."""
    gauges: dict = {}
    counters: dict = {}
    queues = []
    for replica in reading.replicas:
        health = replica.health
        if not isinstance(health, EmbedHealth):
            continue
        if health.latency_ms is not None:
            gauges["latency_ms", replica.url] = health.latency_ms
        if health.queue_depth is not None:
            gauges["queue", replica.url] = health.queue_depth
            queues.append(health.queue_depth)
        for name in EMBED_COUNTERS:
            if getattr(health, name) is not None:
                counters[name, replica.url] = getattr(health, name)
    if queues:
        gauges["queue"] = sum(queues)
    return gauges, counters


def services_samples(services: dict[str, ServiceReading]) -> Samples:
    """Per service and replica (subject: the URL, unique across services) the latency."""
    gauges: dict = {}
    for reading in services.values():
        for replica in reading.replicas:
            if replica.health is not None and replica.health.latency_ms is not None:
                gauges["latency_ms", replica.url] = replica.health.latency_ms
    return gauges, {}


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
        if stream_gpu:  # frames reach the source as the stream reads them, not at its next poll
            cluster.gpu_stream.listeners.append(self.gpu.push)
        self.embed = Source[ServiceReading]("embed", self._embed, p.embed, after=[self.endpoints],
                                            sampler=embed_samples, timeout=cluster.embed.timeout + 2)
        self.neo4j = Source[Neo4jHealth]("neo4j", self._neo4j, p.neo4j, after=[self.endpoints],
                                         sampler=latency_samples)
        self.services = Source[dict[str, ServiceReading]]("services", self._services, p.embed,
                                                          after=[self.endpoints], sampler=services_samples)
        self.tunnels = Source[list[Tunnel]]("tunnels", self._tunnels, p.tunnels)
        self.health = Source[Summary]("health", self._health, p.health)
        self.accounting = Source[list[PastJob]]("accounting", self._accounting, p.health, timeout=30)
        self._alive_ids: set[str] | None = None

    def checked(self) -> list[Source]:
        """What the check judges, in dependency order; no tunnels in local mode."""
        every = [self.jobs, self.endpoints, self.gpu, self.embed, self.neo4j, self.services]
        return every if self.cluster.cfg.login.local else every + [self.tunnels]

    def all(self) -> list[Source]:
        """What the dashboard shows: the checked sources, the watchdog's history, past jobs."""
        return self.checked() + [self.health, self.accounting]

    def start(self) -> None:
        # A new job list may mean a new endpoints file: read it now, not at its next tick.
        self.jobs.listeners.append(lambda _source: self.endpoints.refresh())
        self.jobs.listeners.append(self._jobs_changed)
        for source in self.all():
            source.start()

    def refresh(self) -> None:
        for source in self.all():
            source.refresh()

    async def stop(self) -> None:
        for source in self.all():
            await source.stop()

    async def gather(self, timeout: float, nominal: float | None = None) -> None:
        await gather(self.checked(), timeout, nominal)

    def _jobs_changed(self, jobs: Source) -> None:
        """A job came or went: ask accounting now (why it ended), not at its next tick."""
        alive = {j.job_id for j in jobs.reading.value or []} if not jobs.reading.stale else None
        if alive is not None and self._alive_ids is not None and alive != self._alive_ids:
            self.accounting.refresh()
        self._alive_ids = alive if alive is not None else self._alive_ids

    @property
    def job(self) -> Job | None:
        return service_job(self.jobs.reading.value)

    # -- fetches that read another source ---------------------------------------------------
    async def _gpu(self) -> GpuReport:
        job = self.job
        if job is None or job.state is not JobState.RUNNING or not job.node:
            if self.stream_gpu:
                await self.cluster.gpu_stream.stop()
            raise Waiting("no running service job")
        if self.stream_gpu:
            await self.cluster.gpu_stream.follow(job)  # raises when its frames stopped coming
            raise Pushed()
        return await self.cluster.gpu.report(job.node, job.job_id)

    def _endpoint(self, attribute: str, name: str) -> Any:
        reading = self.endpoints.reading
        found = reading.value
        if found is None and reading.stale:
            error = Unreachable if reading.error_kind == "unreachable" else RemoteError
            raise error(f"the endpoints file could not be read: {reading.error}")
        if found is None or not getattr(found, attribute):
            raise Waiting(f"no {name} in the endpoints file" if found else "no endpoints file yet")
        return getattr(found, attribute)

    async def _embed(self) -> ServiceReading:
        urls = self._endpoint("embed_urls", "EMBED_URLS")
        return answered(await probe_replicas(urls, self.cluster.embed.probe, self.cluster.embed.timeout + 0.5))

    async def _neo4j(self) -> Neo4jHealth:
        health = await self.cluster.neo4j.probe(self._endpoint("neo4j_uri", "NEO4J_URI"))
        return with_job_facts(health, self.endpoints.reading.value)

    async def _services(self) -> dict[str, ServiceReading]:
        """Every other service of the catalogue, each replica probed as its kind says: an embed
        server's round trip, or an HTTP server's health path."""
        found = self.endpoints.reading.value
        others = [s for s in (found.services if found is not None else ()) if s.name not in OWN_SOURCES]
        if not others:
            self._endpoint("job_id", "JOB_ID")  # says why there is nothing (no file, not readable)
            raise Waiting("no other services in the catalogue")
        health = {spec.name: spec.health for spec in self.cluster.catalogue()}
        timeout = self.cluster.embed.timeout + 0.5

        async def one(service: ServiceEndpoints) -> ServiceReading:
            if service.kind == "embed":
                return await probe_replicas(service.urls, self.cluster.embed.probe, timeout)
            path = service.health or health.get(service.name) or "/health"  # the job's, else the config's
            return await probe_replicas(service.urls, lambda url: self.cluster.http.probe(url, path), timeout)

        readings = await asyncio.gather(*(one(s) for s in others))
        return {s.name: r for s, r in zip(others, readings)}

    async def _tunnels(self) -> list[Tunnel]:
        return await asyncio.to_thread(self.cluster.tunnels.status)

    async def _health(self) -> Summary:
        return await self.cluster.health_summary()

    async def _accounting(self) -> list[PastJob]:
        try:
            return await self.cluster.slurm.past_jobs(HISTORY_SPAN)
        except AccountingUnavailable as exc:  # not an error of ours: a cluster may give users no sacct
            raise Waiting(str(exc)) from None
