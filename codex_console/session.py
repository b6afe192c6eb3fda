"""What the dashboard may ask of the cluster, and nothing more: readings as they arrive, the
operations table, the benchmark and the job log. The TUI holds one of these, never the facade.
"""

from __future__ import annotations

from typing import AsyncIterator, Callable

from .backends.bench import Progress
from .backends.cluster import Cluster
from .backends.graph_bench import QueryProgress
from .backends.poller import Source
from .bench_log import BenchRun, GraphBenchRun
from .config import Config
from .models import Job
from .operations import Operation, Outcome, Plan, perform
from .readings import Reading

ReadingListener = Callable[[str, Reading], None]


class ConsoleSession:
    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    @property
    def config(self) -> Config:
        return self._cluster.cfg

    @property
    def where(self) -> str:
        return self._cluster.describe()

    def source_names(self) -> list[str]:
        return [s.name for s in self._cluster.sources.all()]

    def subscribe(self, listener: ReadingListener) -> None:
        """`listener(name, reading)` after every poll of every source (on the event loop)."""
        def forward(source: Source) -> None:
            listener(source.name, source.reading)
        for source in self._cluster.sources.all():
            source.listeners.append(forward)

    def start(self) -> None:
        self._cluster.sources.start()

    def refresh(self) -> None:
        self._cluster.sources.refresh()

    async def plan(self, op: Operation, jobs: list[Job]) -> Plan:
        return await op.plan(self._cluster, jobs)

    async def perform(self, op: Operation, plan: Plan) -> Outcome:
        return await perform(self._cluster, op, plan)

    async def benchmark(self, progress: Progress | None = None) -> BenchRun:
        return await self._cluster.benchmark(progress)

    async def graph_benchmark(self, progress: QueryProgress | None = None, seed: int = 0) -> GraphBenchRun:
        return await self._cluster.graph_benchmark(progress, seed=seed)

    async def follow_log(self, lines: int = 500) -> AsyncIterator[str]:
        """The job log's last lines, then every line appended (tail -F: across rotation)."""
        argv = await self._cluster.log_argv(lines, follow=True)
        async for line in self._cluster.runner.stream(argv):
            yield line

    async def close(self) -> None:
        await self._cluster.close()
