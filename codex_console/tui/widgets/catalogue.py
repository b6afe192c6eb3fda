"""The catalogue's other services (a second embed model, an LLM, a vision server): a line for
each with how many of its instances serve, then a row per replica (state, latency, rate). Shown
only when the job runs such services."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from ...models import ServiceReading
from ...readings import Reading
from .panel import PanelText, SourcePanel
from .replicas import per_replica, replica_rows


class ServicesPanel(SourcePanel):
    source = "services"
    DEFAULT_CSS = "ServicesPanel { display: none; } ServicesPanel.-some { display: block; }"

    def __init__(self, **kwargs) -> None:
        super().__init__("Services", **kwargs)

    def compose(self) -> ComposeResult:
        yield PanelText("", id="services-text", classes="panel-text")

    def show(self, reading: Reading[dict[str, ServiceReading]]) -> None:
        services = reading.value or {}
        self.set_class(bool(services), "-some")
        now, window = self.wallclock(), self.window()
        text = Text(no_wrap=True, overflow="ellipsis")
        for name, service in services.items():
            ready = len(service.ready)
            if text:
                text.append("\n")
            text.append(f"{name} ", style="bold")
            text.append(f"{ready}/{len(service.replicas)} ready" if service.replicas else "no instance ready",
                        style="green" if ready else "bold red")
            if service.replicas:
                latency = per_replica(reading.history, "latency_ms", service, window, now)
                text.append("\n")
                text.append_text(replica_rows(service, latency, None))
        self.query_one("#services-text", PanelText).show(text)
