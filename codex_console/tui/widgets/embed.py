"""The embed server: a row per replica (every URL of the endpoints file; both jobs' during a
hand-over) with state, latency and rate, the service's totals, and charts over the window.
Totals count every embedding route alike; the console's own probes are not in them."""

from __future__ import annotations

from urllib.parse import urlsplit

from rich.text import Text
from textual.app import ComposeResult

from ...models import EmbedHealth, ServiceReading
from ...readings import Point, Reading, mean, spread
from ..format import num
from .chart import Line, TimeChart
from .panel import PanelText, SourcePanel
from .replicas import per_replica, replica_names, replica_rows

TOTALS = (("requests", "req/s"), ("texts", "texts/s"), ("errors", "5xx/s"), ("rejected", "429/s"))


class EmbedPanel(SourcePanel):
    source = "embed"

    def __init__(self, **kwargs) -> None:
        super().__init__("Embed", **kwargs)

    def compose(self) -> ComposeResult:
        yield PanelText("waiting for endpoints", id="embed-summary", classes="panel-text")
        yield PanelText("", id="embed-replicas", classes="panel-text")
        yield PanelText("", id="embed-totals", classes="panel-text")
        yield TimeChart("latency p50", "ms", id="embed-latency-chart")
        yield TimeChart("throughput", "per s", id="embed-rate-chart")
        yield TimeChart("errors, 429s, queue", "", id="embed-error-chart")

    def show(self, reading: Reading[ServiceReading]) -> None:
        now, window, history = self.wallclock(), self.window(), reading.history
        service = reading.value or ServiceReading()  # the last one known: rows stay while it is stale
        # One window query per series: the text below and the charts read the same points.
        latency = per_replica(history, "latency_ms", service, window, now)
        names = replica_names(list(latency))
        requests = per_replica(history, "requests", service, window, now)
        totals = {name: history[name].window(window, now) for name, _ in TOTALS}
        queue = history["queue"].window(window, now)
        self.query_one("#embed-summary", PanelText).show(summary(reading))
        self.query_one("#embed-replicas", PanelText).show(replica_rows(service, latency, requests))
        self.query_one("#embed-totals", PanelText).show(totals_text(totals, queue, window))
        self.query_one("#embed-latency-chart", TimeChart).draw(
            [Line(names[url], points, "p50") for url, points in latency.items()], window, now)
        self.query_one("#embed-rate-chart", TimeChart).draw(
            [Line("requests", totals["requests"]), Line("texts", totals["texts"])], window, now)
        self.query_one("#embed-error-chart", TimeChart).draw(
            [Line("5xx/s", totals["errors"]), Line("429/s", totals["rejected"]), Line("queue", queue, "p95")],
            window, now)


def summary(reading: Reading[ServiceReading]) -> Text:
    service = reading.fresh_value
    if service is None:
        if reading.error:
            return Text.assemble(("DOWN", "bold red"), f"  {reading.error}")
        return Text(reading.note or "waiting", style="dim")
    ready, total = len(service.ready), len(service.replicas)
    first = service.first
    style = "bold green" if ready == total else "bold yellow" if ready else "bold red"
    text = Text.assemble((f"READY {ready}/{total}" if ready else "NOT READY", style))
    if isinstance(first, EmbedHealth):
        text.append(f"  {first.model}  {first.dimension or '?'}d  {first.device}")
    hosts = {urlsplit(r.url).hostname for r in service.replicas}
    if len(hosts) == 1:
        text.append(f"  on {hosts.pop()}", style="dim")
    return text


def totals_text(totals: dict[str, list[Point]], queue: list[Point], window: str) -> Text:
    """The service's totals over the window (every replica, every embedding route)."""
    parts = [f"{num(mean(totals[name]), '{:.1f}')} {unit}" for name, unit in TOTALS]
    _, queue_p95 = spread(queue)
    return Text(f"{window}: " + " · ".join(parts) + f" · queue p95 {num(queue_p95)}", style="dim")
