"""Per-GPU utilization and memory bars, temperature, power, processes; both over time."""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ...models import GpuReport
from ...readings import Reading
from ..format import NA, bar, mib, num
from .chart import Line, TimeChart
from .panel import SourcePanel


class GpuPanel(SourcePanel):
    source = "gpu"

    def __init__(self, **kwargs) -> None:
        super().__init__("GPUs", **kwargs)

    def compose(self) -> ComposeResult:
        yield Static(NA, id="gpu-table", classes="panel-text")
        yield TimeChart("utilization", "%", id="gpu-util-chart")
        yield TimeChart("memory", "%", id="gpu-mem-chart")

    def show(self, reading: Reading[GpuReport]) -> None:
        report = reading.value
        table = self.query_one("#gpu-table", Static)
        if report is None:
            table.update(Text(reading.note or reading.error or "no running job", style="dim"))
        else:
            table.update(gpu_text(report, wide=self.size.width >= 44))
        history, now, window = reading.history, self.wallclock(), self.window()
        indices = sorted({int(n[3:].split("_")[0]) for n in history.names() if n.startswith("gpu") and "_" in n})
        for kind, chart_id in (("util", "#gpu-util-chart"), ("mem", "#gpu-mem-chart")):
            lines = [Line(f"gpu{i}", history[f"gpu{i}_{kind}"].window(86400, now)) for i in indices]
            self.query_one(chart_id, TimeChart).draw(lines, window, now)


def gpu_text(report: GpuReport, wide: bool = True) -> Text:
    by_uuid: dict[str, list[str]] = {}
    for p in report.processes:
        by_uuid.setdefault(p.gpu_uuid, []).append(f"{os.path.basename(p.name)}:{p.pid}")
    text = Text(no_wrap=True, overflow="ellipsis")
    for g in report.gpus:
        util = None if g.utilization is None else g.utilization / 100
        mem = None if g.memory_used is None or not g.memory_total else g.memory_used / g.memory_total
        if text:
            text.append("\n")
        text.append(f"{g.index} ", style="bold")
        if not wide:
            text.append(f"{num(g.utilization, unit='%'):>4} {mib(g.memory_used)}/{mib(g.memory_total)} "
                        f"{num(g.temperature, unit='C')}")
            continue
        text.append(short_name(g.name))
        text.append(f"  {num(g.temperature, unit='C')} {num(g.power, unit='W')}  ", style="dim")
        text.append(" ".join(by_uuid.get(g.uuid, [])) or "idle", style="cyan")
        text.append(f"\n  util {bar(util, 6)} {num(g.utilization, unit='%'):>4}  "
                    f"mem {bar(mem, 6)} {mib(g.memory_used)}/{mib(g.memory_total)}")
    return text


def short_name(name: str) -> str:
    """`Tesla P100-PCIE-16GB (sandbox)` -> `P100-PCIE-16GB (sandbox)`."""
    for prefix in ("NVIDIA ", "Tesla "):
        name = name.removeprefix(prefix)
    return name
