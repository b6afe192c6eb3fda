"""Benchmark: texts/s of the raw forward, this server, naive serving and infinity-emb, in one run.

    python -m benchmarks.run --model PATH [--device cpu|cuda] [--rounds 5] [--json out.json]
    python -m benchmarks.run --qwen3-shape /tmp/qwen3-0.6b-shape --device cuda   # GPU, random weights

Every server is started once and stays idle while another is measured; each cell (a batch size
or a client count) is measured for every target in turn (the order rotating from round to
round), `--rounds` times, and the median is reported, so slow spells of a shared machine hit
all targets alike. Same client, same texts.
Batch columns: one client sending requests of that many texts; client columns: that many
clients each sending one-text requests. Ratios are to the plain raw forward of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

from codex_console.benchmark_spec import BATCH_SIZES, CLIENT_COUNTS, make_texts

from . import servers
from .client import batch_rate, clients_rate
from .raw import forward_plain, forward_sorted, texts_per_second

RAW_PLAIN, RAW_SORTED = "raw forward", "raw forward, length-sorted"
CELLS = [f"b{b}" for b in BATCH_SIZES] + [f"c{c}" for c in CLIENT_COUNTS]


def cell_texts(cell: str, round_: int) -> list[str]:
    size = int(cell[1:])
    n = max(200, size) if cell[0] == "b" else max(200, 10 * size)
    return make_texts(n, seed=1000 * round_ + size + (500 if cell[0] == "c" else 0))


def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from transformers import AutoConfig
    from transformers.utils import logging as hf_logging

    from server.model import EmbeddingModel

    hf_logging.disable_progress_bar()
    targets = [s for s in (
        servers.codex(args.model, args.device, AutoConfig.from_pretrained(args.model).hidden_size,
                      args.server_args.split()) if "server" in args.only else None,
        servers.naive(args.model, args.device) if "naive" in args.only else None,
        servers.infinity(args.model, args.device, Path(args.infinity_venv)) if "infinity" in args.only else None,
    ) if s is not None]
    if "infinity" in args.only and not any(t.name.startswith("infinity") for t in targets):
        print(f"infinity-emb not found in {args.infinity_venv}: skipped (scripts/setup-infinity)", flush=True)
    raw = EmbeddingModel(args.model, args.device) if "raw" in args.only else None
    samples: dict[str, dict[str, list[float]]] = {}
    try:
        for target in targets:
            target.start()
        for target in targets:
            target.wait_ready()
            asyncio.run(batch_rate(target.url, target.body, make_texts(20), 10))  # warm
        if raw is not None:
            texts_per_second(forward_plain, raw, make_texts(20), 10)
        order: list[str | servers.ServerProcess] = ([RAW_PLAIN, RAW_SORTED] if raw else []) + targets
        for round_ in range(args.rounds):
            for cell in CELLS:
                texts, size = cell_texts(cell, round_), int(cell[1:])
                for target in order[round_ % len(order):] + order[:round_ % len(order)]:
                    if isinstance(target, str):
                        if cell[0] == "c":
                            continue
                        forward = forward_plain if target == RAW_PLAIN else forward_sorted
                        name, rate = target, texts_per_second(forward, raw, texts, size)
                    else:
                        run = batch_rate if cell[0] == "b" else clients_rate
                        name, rate = target.name, asyncio.run(run(target.url, target.body, texts, size))
                    samples.setdefault(name, {}).setdefault(cell, []).append(rate)
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    finally:
        for target in targets:
            target.stop()
    return {name: {cell: statistics.median(v) for cell, v in cells.items()} for name, cells in samples.items()}


def table(rows: dict[str, dict[str, float]]) -> str:
    head = ["texts/s"] + [f"batch {b}" for b in BATCH_SIZES] + [f"{c} client{'s' * (c > 1)}" for c in CLIENT_COUNTS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in rows.items():
        lines.append("| " + " | ".join([name] + [f"{r[c]:.1f}" if c in r else "" for c in CELLS]) + " |")
    raw = rows.get(RAW_PLAIN, {})
    for name, r in rows.items():
        if name == RAW_PLAIN:
            continue
        ratios = [f"{r[c] / base:.2f}x" if c in r and (base := raw.get(c if c[0] == "b" else "b1")) else ""
                  for c in CELLS]
        lines.append("| " + " | ".join([f"{name} / raw"] + ratios) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="local model folder")
    p.add_argument("--qwen3-shape", metavar="DIR",
                   help="build (once) and use a random-weight model of Qwen3-Embedding-0.6B's shape in DIR")
    p.add_argument("--device", default="cpu")
    p.add_argument("--infinity-venv", default=".venv-infinity")
    p.add_argument("--only", default="raw,server,naive,infinity")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--server-args", default="", help="extra flags for codex-embed-server")
    p.add_argument("--json", help="also write the numbers to this file")
    args = p.parse_args(argv)
    if args.qwen3_shape:
        from .qwen3_shape import build

        args.model = str(build(Path(args.qwen3_shape)))
    if not args.model:
        p.error("--model or --qwen3-shape is required")
    rows = measure(args)
    print(f"\n{Path(args.model).name} on {args.device}, {os.cpu_count()} CPUs, median of {args.rounds} rounds\n")
    print(table(rows))
    print("\nClient columns are ratios to the plain raw forward at batch 1.")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
