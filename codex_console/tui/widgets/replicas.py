"""A row per replica of a service: where it is, its state, its latency over the chart window
(p50/p95) and its request rate. Knows nothing of which service: any ServiceReading and its
history fit."""

from __future__ import annotations

from typing import Mapping, Sequence
from urllib.parse import urlsplit

from rich.text import Text

from ...models import ReplicaHealth, ServiceReading
from ...readings import History, Point, mean, spread
from ..format import clip, grid, num


def replica_name(url: str) -> str:
    """`http://node:18765/x` -> `node:18765`: what tells two replicas apart."""
    parts = urlsplit(url)
    return parts.netloc or url


def replica_names(urls: Sequence[str]) -> dict[str, str]:
    """Short names: `:18765` when every replica is on one node (the panel says which), else
    `node:18765`."""
    hosts = {urlsplit(url).hostname for url in urls}
    if len(hosts) == 1 and all(urlsplit(url).port for url in urls):
        return {url: f":{urlsplit(url).port}" for url in urls}
    return {url: replica_name(url) for url in urls}


def replica_state(replica: ReplicaHealth, width: int = 40) -> Text:
    if replica.health is None:
        return Text.assemble(("DOWN", "bold red"), f" {clip(replica.error, width)}")
    if replica.ready:
        return Text("READY", style="bold green")
    return Text.assemble(("NOT READY", "bold yellow"), f" {clip(replica.health.detail, width)}")


def per_replica(history: History, measure: str, reading: ServiceReading, window: str,
                now: float) -> dict[str, list[Point]]:
    """The window's points of `measure` for each replica (the one query text and charts share)."""
    return {r.url: history[measure, r.url].window(window, now) for r in reading.replicas}


def replica_rows(reading: ServiceReading, latency: Mapping[str, Sequence[Point]],
                 rate: Mapping[str, Sequence[Point]] | None, rate_unit: str = "req/s") -> Text:
    """One row a replica: name, state, p50/p95 latency and mean rate over the window's points
    (no rate column for a service that counts nothing: rate None)."""
    names = replica_names([r.url for r in reading.replicas])
    rows: list[list[str | Text]] = []
    for replica in reading.replicas:
        p50, p95 = spread(latency.get(replica.url, ()))
        row: list[str | Text] = [Text(names[replica.url], style="bold"), replica_state(replica),
                                 f"{num(p50)}/{num(p95)} ms"]
        if rate is not None:
            row.append(f"{num(mean(rate.get(replica.url, ())), '{:.1f}')} {rate_unit}")
        rows.append(row)
    return grid(rows)
