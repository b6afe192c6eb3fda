"""`codex-console embed TEXT... [--query] [--dimension N] [--json]`: a quick look from the shell."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ..config import Config
from .blocking import EmbedClient
from .errors import ClientError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed texts with the services (the client tools use)")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--query", action="store_true", help="embed as search queries (the model's query prompt)")
    p.add_argument("--dimension", type=int, help="output dimension (default: the server's)")
    p.add_argument("--deadline", type=float, default=60.0, help="seconds to wait in all (default 60)")
    p.add_argument("--json", action="store_true", dest="sub_json", help="the vectors as JSON")


def short(text: str, width: int = 30) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def embed_command(cfg: Config, args: argparse.Namespace) -> int:
    try:
        with EmbedClient.from_environment(cfg, deadline=args.deadline) as client:
            result = client.embed_detailed(args.texts, dimension=args.dimension, query=args.query, as_numpy=False)
    except (ClientError, ValueError, TypeError) as exc:
        print(f"codex-console embed: {exc}", file=sys.stderr)
        return 1
    replicas = ", ".join(f"{url} ({n})" for url, n in result.stats.by_replica.items())
    if args.sub_json:
        print(json.dumps({"model": result.model, "dimension": result.dimension,
                          "elapsed_ms": round(result.elapsed * 1000, 1), "replicas": result.stats.by_replica,
                          "retries": result.stats.retries, "failovers": result.stats.failovers,
                          "embeddings": result.vectors}))
        return 0
    print(f"{result.model}, {result.dimension} dims, {len(args.texts)} text(s) in {result.elapsed * 1000:.0f} ms"
          f" via {replicas}" + (" (as queries)" if args.query else ""))
    for text, vec in zip(args.texts, result.vectors):
        head = " ".join(f"{x:+.4f}" for x in vec[:4])
        norm = math.sqrt(sum(x * x for x in vec))
        print(f"  {short(text):<30}  [{head} … {vec[-1]:+.4f}]  |v| {norm:.3f}")
    return 0
