"""Embed server: ready/down, model, dimension, latency sparkline with p50/p95, requests, queue."""

from __future__ import annotations

from rich.text import Text

from ...backends.embed import percentile
from ...models import EmbedHealth
from ..format import num
from .probe import ProbePanel


class EmbedPanel(ProbePanel):
    key = "embed"

    def __init__(self, **kwargs) -> None:
        super().__init__("Embed", **kwargs)

    def show(self, health: EmbedHealth | None, history: tuple[float, ...], error: str = "",
             note: str = "") -> None:
        if health is None:
            return self.draw(self.missing(error, note), history)
        values = list(history)
        text = Text.assemble(
            ("READY" if health.ready else "NOT READY", "bold green" if health.ready else "bold red"),
            f"  {health.model}  {health.dimension or '?'}d  {health.device}\n",
            f"p50 {num(percentile(values, 50), unit=' ms')}  p95 {num(percentile(values, 95), unit=' ms')}"
            f"  req {num(health.requests)}  queue {num(health.queue_depth)}")
        self.draw(text, history)
