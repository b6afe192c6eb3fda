"""Benchmark: texts/s of the raw forward, this server, naive serving and infinity-emb, one run.

    python -m server.benchmark --model PATH [--device cpu|cuda] [--infinity-venv .venv-infinity]

Speeds are printed as texts/s and as ratios to the raw in-process forward measured in the same
run, so machines and runs compare. Batch columns: one client sending requests of that many
texts; concurrency columns: that many clients each sending one-text requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx

BATCHES = (1, 10, 50, 100, 200, 500)
CONCURRENCY = (1, 8, 32)
WORDS = ("graph node edge embedding vector query server cluster slurm job model token batch "
         "latency plasma equilibrium magnetic field coil current profile diagnostic signal "
         "neutron flux divertor heating pulse shot data index search retrieve relevant passage "
         "answer document machine physics tokamak reactor measurement analysis time series").split()


def make_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))) for _ in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def texts_for(batch: int) -> int:
    return max(100, 2 * batch)


# -- (a) raw forward ------------------------------------------------------------------------
def bench_raw(model_path: str, device: str) -> dict[str, float]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from .pooling import pool, read_layout

    tok = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    model = AutoModel.from_pretrained(model_path, local_files_only=True,
                                      dtype=torch.float16 if device.startswith("cuda") else torch.float32)
    model.to(device).eval()
    layout = read_layout(Path(model_path), model.config.model_type)
    if layout.pooling == "lasttoken":
        tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token

    @torch.inference_mode()
    def forward(batch: list[str]) -> None:
        enc = tok(batch, padding=True, truncation=True, max_length=512, return_tensors="pt").to(device)
        out = pool(model(**enc).last_hidden_state, enc["attention_mask"], layout.pooling)
        torch.nn.functional.normalize(out.float(), dim=-1).cpu()

    forward(make_texts(8))
    result = {}
    for b in BATCHES:
        texts = make_texts(texts_for(b), seed=b)
        start = time.perf_counter()
        for i in range(0, len(texts), b):
            forward(texts[i:i + b])
        result[f"b{b}"] = len(texts) / (time.perf_counter() - start)
    return result


# -- HTTP client ----------------------------------------------------------------------------
class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive POST client on asyncio streams.

    The machine has 2 cores shared by client and server; httpx spends ~1.5 ms of CPU per
    request, which would measure the client more than the servers. This spends ~0.1 ms.
    """

    def __init__(self, url: str) -> None:
        parsed = httpx.URL(url)
        self.host, self.port, self.path = parsed.host, parsed.port or 80, parsed.raw_path.decode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, payload: dict) -> bytes:
        conn = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        body = json.dumps(payload).encode()
        writer.write(f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        data = await reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {data[:200]!r}")
        self.idle.append(conn)
        return data

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def bench_http(url: str, body: Callable[[list[str]], dict]) -> dict[str, float]:
    result: dict[str, float] = {}
    client = KeepAliveClient(url)
    try:
        async def call(batch: list[str]) -> None:
            await client.post(body(batch))

        await call(make_texts(8))
        for b in BATCHES:
            texts = make_texts(texts_for(b), seed=b)
            start = time.perf_counter()
            for i in range(0, len(texts), b):
                await call(texts[i:i + b])
            result[f"b{b}"] = len(texts) / (time.perf_counter() - start)
        for c in CONCURRENCY:
            texts = make_texts(max(100, 10 * c), seed=100 + c)
            queue = list(texts)

            async def client_loop() -> None:
                while queue:
                    await call([queue.pop()])

            start = time.perf_counter()
            await asyncio.gather(*(client_loop() for _ in range(c)))
            result[f"c{c}"] = len(texts) / (time.perf_counter() - start)
    finally:
        await client.close()
    return result


async def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def run_server(argv: list[str], ready_url: str, bench_url: str,
               body: Callable[[list[str]], dict], env: dict[str, str] | None = None) -> dict[str, float]:
    log = open(f"/tmp/codex-bench-{Path(argv[0]).name}-{os.getpid()}.log", "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        asyncio.run(wait_ready(ready_url, proc))
        return asyncio.run(bench_http(bench_url, body))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- (c) naive serving: one forward per request, no batching ---------------------------------
def naive_app(model_path: str, device: str):
    import torch
    from fastapi import FastAPI
    from transformers import AutoModel, AutoTokenizer

    from .pooling import pool, read_layout

    tok = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    model = AutoModel.from_pretrained(model_path, local_files_only=True).to(device).eval()
    layout = read_layout(Path(model_path), model.config.model_type)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/embed")
    def embed(body: dict) -> dict:
        with torch.inference_mode():
            enc = tok(body["texts"], padding=True, truncation=True, max_length=512,
                      return_tensors="pt").to(device)
            out = pool(model(**enc).last_hidden_state, enc["attention_mask"], layout.pooling)
            vecs = torch.nn.functional.normalize(out.float(), dim=-1).cpu()
        return {"embeddings": vecs.tolist()}

    return app


def table(rows: dict[str, dict[str, float]], label: str) -> str:
    cols = [f"b{b}" for b in BATCHES] + [f"c{c}" for c in CONCURRENCY]
    head = ["texts/s"] + [f"batch {b}" for b in BATCHES] + [f"{c} clients" for c in CONCURRENCY]
    lines = [f"### {label}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    raw = rows.get("raw forward", {})
    for name, r in rows.items():
        lines.append("| " + " | ".join([name] + [f"{r[c]:.1f}" if c in r else "" for c in cols]) + " |")
    for name, r in rows.items():
        if name == "raw forward":
            continue
        ratios = []
        for c in cols:
            base = raw.get(c) or raw.get("b1") if c.startswith("c") else raw.get(c)
            ratios.append(f"{r[c] / base:.2f}x" if c in r and base else "")
        lines.append("| " + " | ".join([f"{name} / raw"] + ratios) + " |")
    lines.append("")
    lines.append("Concurrency ratios are to the raw forward at batch 1.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--infinity-venv", default=".venv-infinity")
    p.add_argument("--only", default="raw,server,naive,infinity")
    p.add_argument("--json", help="also write the numbers to this file")
    p.add_argument("--naive-serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.naive_serve:
        import uvicorn

        uvicorn.run(naive_app(args.model, args.device), host="127.0.0.1", port=args.port,
                    log_level="warning")
        return 0
    only = set(args.only.split(","))
    rows: dict[str, dict[str, float]] = {}
    if "raw" in only:
        rows["raw forward"] = bench_raw(args.model, args.device)
        print("raw forward done", flush=True)
    if "server" in only:
        port = free_port()
        from transformers import AutoConfig
        native = AutoConfig.from_pretrained(args.model).hidden_size
        rows["codex server"] = run_server(
            [sys.executable, "-m", "server.cli", "--model", args.model, "--device", args.device,
             "--host", "127.0.0.1", "--port", str(port), "--dimension", str(native),
             "--log-level", "warning"],
            f"http://127.0.0.1:{port}/ready", f"http://127.0.0.1:{port}/embed",
            lambda batch: {"texts": batch})
        print("codex server done", flush=True)
    if "naive" in only:
        port = free_port()
        rows["naive FastAPI"] = run_server(
            [sys.executable, "-m", "server.benchmark", "--naive-serve", "--model", args.model,
             "--device", args.device, "--port", str(port)],
            f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}/embed",
            lambda batch: {"texts": batch})
        print("naive done", flush=True)
    infinity = Path(args.infinity_venv) / "bin" / "infinity_emb"
    if "infinity" in only and infinity.exists():
        port = free_port()
        rows["infinity-emb"] = run_server(
            [str(infinity), "v2", "--model-id", args.model, "--engine", "torch", "--device",
             args.device, "--port", str(port), "--host", "127.0.0.1", "--no-bettertransformer"],
            f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}/embeddings",
            lambda batch: {"input": batch, "model": args.model}, env={"INFINITY_ANONYMOUS_USAGE_STATS": "0"})
        print("infinity done", flush=True)
    elif "infinity" in only:
        print(f"infinity-emb not found at {infinity}: skipped (see README, Benchmark)", flush=True)
    print(table(rows, f"{Path(args.model).name} on {args.device}, {os.cpu_count()} CPUs"))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
