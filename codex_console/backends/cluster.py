"""The cluster facade: every backend of one login node, built once from the config.

The TUI's start-up code, the headless check and the CLI each make one; the source graph
(`sources.py`) and the operations table (`operations.py`) work through it.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from urllib.parse import urlsplit

from .. import bench_log, history
from ..bench_log import BenchRun, GraphBenchRun
from ..catalogue import ServiceSpec, resolve
from ..config import Config
from .bench import Progress, run_benchmark
from .connect import make_runner
from .embed import EmbedProbe
from .endpoints import EndpointsReader
from .gpu import GpuClient, GpuStream
from .graph_bench import QueryProgress, run_graph_benchmark
from .http_probe import HttpProbe
from .login_auth import Prompter
from .neo4j import Auth, Neo4jProbe
from .poller import Waiting
from .runner import RemoteError, Runner
from .slurm import SlurmClient
from .sources import Sources
from .tunnels import TunnelManager

DEFAULT_KEY_FILE = "~/.codex-embed.key"


def home_path(path: str) -> str:
    """A path for a command run in the login node's home directory: `~/x` -> `x`."""
    for prefix in ("~/", "$HOME/", "${HOME}/"):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path

log = logging.getLogger(__name__)


class Cluster:
    def __init__(self, cfg: Config, runner: Runner | None = None, *, prompter: Prompter | None = None,
                 stream_gpu: bool = False) -> None:
        self.cfg = cfg
        self.runner = runner or make_runner(cfg, prompter)
        self.slurm = SlurmClient(self.runner, cfg)
        self.gpu = GpuClient(self.runner, cfg.slurm.gpu_query)
        self.gpu_stream = GpuStream(self.runner, cfg.slurm.gpu_query, cfg.poll.gpu)
        self.endpoints_reader = EndpointsReader(self.runner, cfg.services.endpoints_file, shared=(self.api_key_file,))
        self.embed = EmbedProbe(self.runner, api_key=self.api_key)
        self.neo4j = Neo4jProbe(self.runner, auth=self.neo4j_auth)
        self.http = HttpProbe(self.runner)
        self.tunnels = TunnelManager(cfg)
        self.sources = Sources(self, stream_gpu=stream_gpu)
        self._home: str | None = None
        self._secrets: dict[str, str] = {}

    def catalogue(self) -> tuple[ServiceSpec, ...]:
        """The services the console's config says the job runs."""
        return resolve(self.cfg.services, self.cfg.slurm, self.cfg.catalogue)

    # -- files on the cluster ---------------------------------------------------------------
    async def remote_home(self) -> str:
        if self._home is None:
            res = await self.runner.poll(["sh", "-c", 'printf %s "$HOME"'])
            self._home = res.stdout.strip() or "~"
        return self._home

    @property
    def api_key_file(self) -> str:
        """The embed server's key file; "none" means the services run without a key."""
        return self.cfg.services.api_key_file or DEFAULT_KEY_FILE

    async def read_secret(self, path: str, again: bool = False) -> str:
        """A one-line secret file on the cluster (read through the login node, kept in memory;
        `again`: read it anew, after the server refused the copy kept)."""
        if again or path not in self._secrets:
            res = await self.runner.poll(["cat", "--", home_path(path)])
            if not res.ok:
                raise RemoteError(f"cannot read {path} on the login node: {res.error_text()}")
            self._secrets[path] = res.stdout.strip()
        return self._secrets[path]

    async def api_key(self) -> str | None:
        if self.api_key_file == "none":
            return None
        try:
            return await self.read_secret(self.api_key_file) or None
        except RemoteError:
            return None  # no key file yet: a keyed server answers 401, which the probe explains

    async def neo4j_auth(self) -> Auth:
        s = self.cfg.services
        if not s.neo4j_user:
            return None
        password = await self.read_secret(s.neo4j_password_file) if s.neo4j_password_file else s.neo4j_password
        return s.neo4j_user, password

    # -- things the operations and screens ask for ------------------------------------------
    async def benchmark(self, progress: Progress | None = None) -> BenchRun:
        """A labelled run against the embed server, remembered in the benchmark log."""
        ep = self.sources.endpoints.reading.value or await self.endpoints_reader.read()
        if not ep.embed_url:
            raise Waiting("no embed server to benchmark")
        known = self.sources.embed.reading.fresh_value
        health = (known.first if known is not None else None) or await self.embed.probe(ep.embed_url)
        points = await run_benchmark(self.embed, ep.embed_url, progress=progress)
        run = BenchRun(time.time(), health.model or "?", health.device or "?", health.dimension, "/embed",
                       self.route, tuple(points))
        bench_log.save(run)
        return run

    async def graph_benchmark(self, progress: QueryProgress | None = None, *, uri: str = "", seed: int = 0,
                              runs: int | None = None) -> GraphBenchRun:
        """The configured Cypher queries against the job's Neo4j (or `uri`), labelled with the
        server, the node it runs on and the path, and remembered in the benchmark log."""
        if not uri:
            ep = self.sources.endpoints.reading.value or await self.endpoints_reader.read()
            uri = ep.neo4j_uri
        if not uri:
            raise Waiting("no Neo4j to benchmark: no NEO4J_URI in the endpoints file (or give a Bolt address)")
        health = await self.neo4j.probe(uri)  # what the server is; warms the driver the queries use
        runs = runs or self.cfg.neo4j.bench_runs
        result = await run_graph_benchmark(await self.neo4j.driver(uri), list(self.cfg.neo4j.bench_queries), runs,
                                           seed=seed, progress=progress)
        host = urlsplit(uri).hostname or "?"
        node = self.cfg.login.host if host in ("localhost", "127.0.0.1", "::1") else host  # as the login node sees it
        run = GraphBenchRun(time.time(), health.server_label, node, self.route, runs, result.nodes, result.seeded,
                            result.points)
        bench_log.save(run)
        return run

    @property
    def route(self) -> str:
        """How a benchmark's requests travel to the node."""
        return "direct (on the login node)" if self.cfg.login.local else f"ssh forward via {self.cfg.login.host}"

    @property
    def history_file(self) -> str:
        return history.history_path(self.cfg.services.endpoints_file)

    async def health_summary(self, since: float | None = None) -> history.Summary:
        """The watchdog's history on the cluster, summed up (an empty one when there is none)."""
        res = await self.runner.poll(["sh", "-c", 'tail -n 2100 -- "$1" 2>/dev/null; true', "sh",
                                      home_path(self.history_file)])
        return history.summarize(history.parse(res.stdout), time.time(), since)

    async def record_check(self, entry: history.Entry) -> None:
        res = await self.runner.run(history.append_argv(home_path(self.history_file)), input=entry.line() + "\n",
                                    timeout=10)
        if not res.ok:
            raise RemoteError(f"could not add to {self.history_file}: {res.error_text()}")

    async def log_argv(self, lines: int = 200, follow: bool = True) -> list[str]:
        """`tail` of the service job's log: -F follows it across rotation and truncation."""
        job = self.sources.job
        if job is None:
            await self.sources.jobs.poll_once()
            job = self.sources.job
        if job is None:
            raise Waiting("no service job")
        path = await self.slurm.log_path(job.job_id)
        return ["tail", "-n", str(int(lines)), *(["-F"] if follow else []), path]

    async def close(self, step_timeout: float = 5.0, deadline: float | None = None) -> None:
        """Stop every part, each within `step_timeout` s and all by `deadline` (monotonic): a
        stuck one leaves the rest to close, and a part with no time left is left as it is."""
        for step in (self.sources.stop, self.gpu_stream.stop, self.embed.close, self.neo4j.close, self.http.close,
                     self.runner.close):
            seconds = step_timeout if deadline is None else min(step_timeout, deadline - time.monotonic())
            try:
                async with asyncio.timeout(max(0.0, seconds)):
                    await step()
            except Exception as exc:  # noqa: BLE001 - closing goes on; the log says what stuck
                log.warning("closing %s: %s", getattr(step, "__qualname__", step), exc or type(exc).__name__)

    def describe(self) -> str:
        login = self.cfg.login
        return "local" if login.local else shlex.quote(f"{login.user + '@' if login.user else ''}{login.host}")
