"""The cluster as the console sees it: every backend, its polled sources, and the actions.

The TUI, the headless check and the CLI all use this one object; none of it imports Textual.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from .. import deploy
from ..config import Config
from ..models import BenchPoint, EmbedHealth, Endpoints, GpuReport, GraphHealth, Job, JobState, Tunnel
from .connect import make_runner
from .embed import EmbedProbe
from .endpoints import EndpointsReader
from .gpu import GpuClient
from .graph import GraphProbe
from .poller import Source, Waiting
from .runner import RemoteError, Runner
from .slurm import SlurmClient
from .tunnels import TunnelManager


H = TypeVar("H", EmbedHealth, GraphHealth)


class NotAvailable(Waiting):
    """A reading that cannot be taken now (no running job, no endpoints yet)."""


@dataclass(frozen=True)
class SubmitResult:
    job_id: str
    partition: str
    template: str
    note: str = ""


def service_job(jobs: list[Job] | None) -> Job | None:
    """The job that matters: the running one, else the newest waiting one."""
    if not jobs:
        return None
    running = [j for j in jobs if j.state is JobState.RUNNING]
    return running[0] if running else jobs[-1]


class Cluster:
    def __init__(self, cfg: Config, runner: Runner | None = None) -> None:
        self.cfg = cfg
        self.runner = runner or make_runner(cfg)
        self.slurm = SlurmClient(self.runner, cfg)
        self.gpu = GpuClient(self.runner, cfg.slurm.gpu_query)
        self.endpoints_reader = EndpointsReader(self.runner, cfg.services.endpoints_file)
        self.embed = EmbedProbe(self.runner, history=cfg.poll.history)
        self.graph = GraphProbe(self.runner, cfg.services.neo4j_user, cfg.services.neo4j_password,
                                history=cfg.poll.history)
        self.tunnels = TunnelManager(cfg)
        p = cfg.poll
        self.jobs = Source[list[Job]]("jobs", self.slurm.jobs, p.slurm)
        self.endpoints = Source[Endpoints]("endpoints", self.endpoints_reader.read, p.slurm)
        self.gpus = Source[GpuReport]("gpu", self._fetch_gpu, p.gpu, sample=_mean_util,
                                      history=p.history)
        self.embed_health = Source[EmbedHealth]("embed", self._fetch_embed, p.embed,
                                                sample=lambda h: h.latency_ms, history=p.history)
        self.graph_health = Source[GraphHealth]("neo4j", self._fetch_graph, p.graph,
                                                sample=lambda h: h.latency_ms, history=p.history)
        self.tunnel_status = Source[list[Tunnel]]("tunnels", self.tunnels.status, p.tunnels)
        self._home: str | None = None
        # Dependent readings follow their inputs at once instead of at their next tick.
        self.jobs.listeners.append(lambda *_: (self.gpus.refresh(), self.endpoints.refresh()))
        self.endpoints.listeners.append(lambda *_: (self.embed_health.refresh(),
                                                    self.graph_health.refresh()))

    @property
    def sources(self) -> list[Source]:
        sources: list[Source] = [self.jobs, self.endpoints, self.gpus, self.embed_health,
                                 self.graph_health]
        if not self.cfg.login.local:
            sources.append(self.tunnel_status)
        return sources

    # -- readings that depend on others -----------------------------------------------------
    @property
    def job(self) -> Job | None:
        return service_job(self.jobs.reading.value)

    async def _fetch_gpu(self) -> GpuReport:
        job = self.job
        if job is None or job.state is not JobState.RUNNING or not job.node:
            raise NotAvailable("no running service job")
        return await self.gpu.report(job.node, job.job_id)

    def _endpoints(self) -> Endpoints:
        found = self.endpoints.reading.value
        if found is None:
            raise NotAvailable("no endpoints file yet")
        return found

    async def _fetch_embed(self) -> EmbedHealth:
        return await _probe(self._endpoints().embed_url, "EMBED_URL", self.embed.probe)

    async def _fetch_graph(self) -> GraphHealth:
        return await _probe(self._endpoints().neo4j_uri, "NEO4J_URI", self.graph.probe)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        for source in self.sources:
            source.start()

    def refresh(self) -> None:
        for source in self.sources:
            source.refresh()

    async def close(self) -> None:
        for source in self.sources:
            await source.stop()
        await self.embed.close()
        await self.graph.close()
        await self.runner.close()

    # -- actions ----------------------------------------------------------------------------
    async def remote_home(self) -> str:
        if self._home is None:
            res = await self.runner.poll(["sh", "-c", 'printf %s "$HOME"'])
            self._home = res.stdout.strip() or "~"
        return self._home

    async def render(self, template: str | None = None, partition: str | None = None) -> str:
        return deploy.render(self.cfg, template, partition=partition, home=await self.remote_home())

    async def submit(self) -> SubmitResult:
        """Render for the best partition (GPU, else Neo4j-only fallback) and sbatch it."""
        try:
            plan = deploy.plan(self.cfg, await self.slurm.partitions())
        except RemoteError:
            plan = deploy.Plan(self.cfg.slurm.partitions[0], self.cfg.slurm.template)
        script = await self.render(plan.template, plan.partition)
        log_dir = deploy.absolute(self.cfg.services.log_dir, await self.remote_home())
        await self.runner.run(["mkdir", "-p", log_dir])
        job_id = await self.slurm.submit(script)
        self.jobs.refresh()
        return SubmitResult(job_id, plan.partition, plan.template, plan.note)

    async def cancel(self, job_id: str) -> None:
        await self.slurm.cancel(job_id)
        self.jobs.refresh()
        self.endpoints.refresh()

    async def requeue(self, job_id: str) -> None:
        await self.slurm.requeue(job_id)
        self.jobs.refresh()

    async def open_tunnels(self) -> list[Tunnel]:
        job = self.job
        node = job.node if job and job.node else (self.endpoints.reading.value or Endpoints()).node
        if not node:
            raise NotAvailable("no running job: nothing to tunnel to")
        tunnels = await self.tunnels.start(node)
        self.tunnel_status.refresh()
        return tunnels

    async def close_tunnels(self) -> list[str]:
        stopped = await asyncio.to_thread(self.tunnels.stop)
        self.tunnel_status.refresh()
        return stopped

    async def benchmark(self, progress: Callable[[int, int, BenchPoint], Awaitable[None] | None]
                        | None = None) -> list[BenchPoint]:
        ep = self.endpoints.reading.value or await self.endpoints_reader.read()
        if not ep.embed_url:
            raise NotAvailable("no embed server to benchmark")
        return await self.embed.benchmark(ep.embed_url, progress=progress)

    async def log_tail(self, lines: int = 200) -> str:
        job = self.job or service_job(await self.slurm.jobs())
        if job is None:
            raise NotAvailable("no service job")
        return await self.slurm.log_tail(job.job_id, lines)


async def _probe(target: str, name: str, probe: Callable[[str], Awaitable[H]]) -> H:
    """A probe's health as a reading: waiting without a target, an error when it failed."""
    if not target:
        raise NotAvailable(f"no {name} in the endpoints file")
    health = await probe(target)
    if health.error:  # type: ignore[attr-defined]
        raise RemoteError(health.error)  # type: ignore[attr-defined]
    return health


def _mean_util(report: GpuReport) -> float | None:
    values = [g.utilization for g in report.gpus if g.utilization is not None]
    return sum(values) / len(values) if values else None
