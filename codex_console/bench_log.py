"""Benchmark runs that say what they measured and are remembered: one JSON line per run under
the XDG data directory. Embed runs are labelled with model, device, dimension, route and path;
Neo4j query runs (`"kind": "neo4j"`) with server, node and path, so that a Neo4j on the compute
node and one on the login node can be compared."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from .models import BenchPoint, QueryPoint


@dataclass(frozen=True)
class BenchRun:
    at: float  # epoch
    model: str
    device: str
    dimension: int | None
    route: str  # "/embed"
    path: str  # how the requests travelled: "ssh forward via <login>", "direct"
    points: tuple[BenchPoint, ...]

    @property
    def label(self) -> str:
        return f"{self.model} on {self.device}"

    def rate(self, batch: int) -> float | None:
        return next((p.texts_per_s for p in self.points if p.batch_size == batch), None)


@dataclass(frozen=True)
class GraphBenchRun:
    at: float  # epoch
    server: str  # "Neo4j 5.26.0 community", or the agent of another Bolt server
    node: str  # where the server runs (the Bolt address's host)
    path: str  # how the queries travelled: "ssh forward via <login>", "direct (on the login node)"
    runs: int  # timed runs of each query
    nodes: int  # the graph's size while measured
    seeded: int  # test nodes made for the run (0: the graph as it was)
    queries: tuple[QueryPoint, ...]
    kind: str = "neo4j"

    @property
    def label(self) -> str:
        return f"{self.server} on {self.node}"

    def point(self, label: str) -> QueryPoint | None:
        return next((q for q in self.queries if q.label == label), None)


def log_path() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "codex-console" / "bench.jsonl"


def save(run: BenchRun | GraphBenchRun, path: Path | None = None) -> Path:
    path = path or log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(asdict(run), separators=(",", ":")) + "\n")
    return path


def _records(path: Path | None, kind: str, last: int, make: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """The most recent runs of one kind, oldest first; lines it cannot read are skipped."""
    try:
        lines = (path or log_path()).read_text().splitlines()
    except OSError:
        return []
    runs = []
    for line in lines:
        try:
            data = json.loads(line)
            if data.get("kind", "embed") == kind:
                runs.append(make(data))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return runs[-last:]


def load(path: Path | None = None, last: int = 20) -> list[BenchRun]:
    """The most recent embed runs, oldest first."""
    return _records(path, "embed", last, lambda d: BenchRun(
        points=tuple(BenchPoint(**p) for p in d.pop("points")), **d))


def load_graph(path: Path | None = None, last: int = 20) -> list[GraphBenchRun]:
    """The most recent Neo4j query runs, oldest first."""
    return _records(path, "neo4j", last, lambda d: GraphBenchRun(
        queries=tuple(QueryPoint(**q) for q in d.pop("queries")), **d))
