"""Where a request's time goes: py-spy samples of the server at batch 1 and 10, by stage.

    pip install py-spy; python -m benchmarks.profile MODEL_PATH [PY_SPY] [SECONDS]

CPU milliseconds per request of the server's Python threads (the OpenMP workers of the forward
are not Python threads and are not counted), next to the wall time per request.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import subprocess
import sys
import tempfile
import time

from codex_console.benchmark_spec import make_texts

from .client import KeepAliveClient
from .servers import codex

RATE = 200
STAGES = [  # first match from the leaf up wins
    ("pooling+normalize", re.compile(r"server/pooling\.py|matryoshka|normalize \(torch")),
    ("forward", re.compile(r"torch/nn/modules|transformers/models|transformers/integrations|masking_utils")),
    ("tokenize", re.compile(r"tokenization_|tokenizers|\bencode \(|server/encoder\.py")),
    ("pad+tensors", re.compile(r"_pad \(|server/model\.py|server/packing\.py")),
    ("json parse", re.compile(r"json/decoder|json/__init__|orjson.*loads|read_json|server/bodies\.py")),
    ("validation", re.compile(r"pydantic|schemas\.py")),
    ("serialise", re.compile(r"fast_json|orjson|dumps|base64")),
    ("metrics", re.compile(r"prometheus_client")),
    ("http+asgi", re.compile(r"uvicorn|httptools|h11|starlette|fastapi|server/app\.py|server/guard\.py")),
    ("batcher+service", re.compile(r"server/batch|server/service\.py")),
    ("event loop+threads", re.compile(r"asyncio|selectors|threading|concurrent/futures|uvloop|torch_thread")),
]


def classify(stack: list[str]) -> str:
    """The stage of a sampled stack: the innermost frame that names one."""
    for frame in reversed(stack):
        for name, pattern in STAGES:
            if pattern.search(frame):
                return name
    return "other"


async def drive(url: str, batch: int, seconds: float) -> int:
    """Requests of `batch` texts, one after another, for `seconds`; how many were sent."""
    client = KeepAliveClient(url)
    texts = make_texts(1000, seed=11)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        await client.post({"texts": texts[(n * batch) % 900:(n * batch) % 900 + batch]})
        n += 1
    await client.close()
    return n

def profile(pid: int, spy: str, url: str, batch: int, seconds: float) -> None:
    asyncio.run(drive(url, batch, 2))  # warm
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        out = f.name
    rec = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
                            "--output", out, "--duration", str(int(seconds)), "--nonblocking", "--threads"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    started = time.monotonic()
    n = asyncio.run(drive(url, batch, seconds - 1.5))
    wall = time.monotonic() - started
    rec.wait()
    per_stage: collections.Counter[str] = collections.Counter()
    with open(out) as fh:
        for line in fh:
            stack, _, count = line.rstrip().rpartition(" ")
            per_stage[classify(stack.split(";")[1:])] += int(count)
    os.unlink(out)
    # Samples cover `seconds`, requests `wall`: scale the samples to CPU ms per request.
    scale = 1000 / RATE * (wall / seconds) / n
    print(f"batch {batch}: {n} requests, {wall * 1000 / n:.2f} ms per request ({batch * n / wall:.1f} texts/s); "
          "CPU ms per request by stage (the server's Python threads):")
    for name, c in per_stage.most_common():
        print(f"  {name:22s} {c * scale:7.2f} ms")
    print(f"  {'total':22s} {sum(per_stage.values()) * scale:7.2f} ms")


def main() -> int:
    model = sys.argv[1]
    spy = sys.argv[2] if len(sys.argv) > 2 else "py-spy"
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 8
    from transformers import AutoConfig

    server = codex(model, "cpu", AutoConfig.from_pretrained(model).hidden_size, [])
    server.start()
    try:
        server.wait_ready()
        for batch in (1, 10):
            profile(server.proc.pid, spy, server.url, batch, seconds)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
