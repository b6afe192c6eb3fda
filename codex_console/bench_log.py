"""Benchmark runs that say what they measured and are remembered: one JSON line per run under
the XDG data directory, labelled with model, device, dimension, route and path."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .models import BenchPoint


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


def log_path() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "codex-console" / "bench.jsonl"


def save(run: BenchRun, path: Path | None = None) -> Path:
    path = path or log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(asdict(run), separators=(",", ":")) + "\n")
    return path


def load(path: Path | None = None, last: int = 20) -> list[BenchRun]:
    """The most recent runs, oldest first; lines it cannot read are skipped."""
    path = path or log_path()
    try:
        lines = path.read_text().splitlines()[-last:]
    except OSError:
        return []
    runs = []
    for line in lines:
        try:
            data = json.loads(line)
            points = tuple(BenchPoint(**p) for p in data.pop("points"))
            runs.append(BenchRun(points=points, **data))
        except (ValueError, TypeError, KeyError):
            continue
    return runs
