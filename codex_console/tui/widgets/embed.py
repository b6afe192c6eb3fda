"""Embed server: ready/down, model, dimension, latency sparkline with p50/p95, requests, queue."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Sparkline, Static

from ...backends.embed import percentile
from ...models import EmbedHealth
from ..format import num
from .panel import Panel


class EmbedPanel(Panel):
    def __init__(self, **kwargs) -> None:
        super().__init__("Embed", **kwargs)

    def compose(self):
        yield Static("waiting for endpoints", id="embed-text")
        yield Sparkline([], id="embed-spark")

    def show(self, health: EmbedHealth | None, history: tuple[float, ...], error: str = "",
             note: str = "") -> None:
        text = Text()
        if health is None:
            text.append("DOWN" if error else (note or "waiting"), style="bold red" if error else "dim")
            if error:
                text.append(f"  {error}"[:70])
        else:
            text.append("READY" if health.ready else "NOT READY",
                        style="bold green" if health.ready else "bold red")
            text.append(f"  {health.model}  {health.dimension or '?'}d  {health.device}\n",)
            values = list(history)
            text.append(f"p50 {num(percentile(values, 50), unit=' ms')}  "
                        f"p95 {num(percentile(values, 95), unit=' ms')}  "
                        f"req {num(health.requests)}  queue {num(health.queue_depth)}")
        self.query_one("#embed-text", Static).update(text)
        self.query_one("#embed-spark", Sparkline).data = list(history) or [0]
