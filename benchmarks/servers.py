"""The servers a benchmark run measures, each started once as its own process on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .client import Body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    name: str
    argv: list[str]
    ready_path: str
    embed_path: str
    body: Body
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.embed_path}"

    def start(self) -> None:
        log = tempfile.NamedTemporaryFile("w", prefix=f"bench-{self.name.split()[0]}-", suffix=".log",
                                          delete=False)
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env})
        self.log = log.name

    def wait_ready(self, timeout: float = 300) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def codex(model: str, device: str, dimension: int, extra: list[str]) -> ServerProcess:
    return ServerProcess(
        "codex server", [sys.executable, "-m", "server.cli", "--model", model, "--device", device,
                         "--host", "127.0.0.1", "--port", "{port}", "--dimension", str(dimension),
                         "--log-level", "warning", *extra],
        "/ready", "/embed", lambda batch: {"texts": batch})


def naive(model: str, device: str) -> ServerProcess:
    return ServerProcess(
        "naive FastAPI", [sys.executable, "-m", "benchmarks.naive", "--model", model, "--device", device,
                          "--port", "{port}"],
        "/health", "/embed", lambda batch: {"texts": batch})


def infinity(model: str, device: str, venv: Path) -> ServerProcess | None:
    exe = venv / "bin" / "infinity_emb"
    if not exe.exists():
        return None
    return ServerProcess(
        "infinity-emb 0.0.78", [str(exe), "v2", "--model-id", model, "--engine", "torch", "--device", device,
                                "--port", "{port}", "--host", "127.0.0.1", "--no-bettertransformer"],
        "/health", "/embeddings", lambda batch: {"input": batch, "model": model},
        env={"INFINITY_ANONYMOUS_USAGE_STATS": "0"})
