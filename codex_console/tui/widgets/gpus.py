"""Per-GPU utilization and memory bars, temperature, power, processes; both over time. Memory is
in GB everywhere (text, chart, the check's perfdata)."""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult

from ...models import GpuReport
from ...readings import Reading
from ..format import NA, bar, gb, num
from .chart import Line, TimeChart
from .panel import PanelText, SourcePanel


class GpuPanel(SourcePanel):
    source = "gpu"

    def __init__(self, **kwargs) -> None:
        super().__init__("GPUs", **kwargs)

    def compose(self) -> ComposeResult:
        yield PanelText(NA, id="gpu-table", classes="panel-text")
        yield TimeChart("utilization", "%", id="gpu-util-chart")
        yield TimeChart("memory", "GB", id="gpu-mem-chart")

    def show(self, reading: Reading[GpuReport]) -> None:
        report = reading.value
        table = self.query_one("#gpu-table", PanelText)
        if report is None:
            table.show(Text(reading.note or reading.error or "no running job", style="dim"))
        else:
            table.show(gpu_text(report, wide=self.size.width >= 44))
        history, now, window = reading.history, self.wallclock(), self.window()
        for measure, chart_id in (("util", "#gpu-util-chart"), ("mem_gb", "#gpu-mem-chart")):
            lines = [Line(f"gpu{gpu}", history[measure, gpu].window(window, now)) for gpu in history.subjects(measure)]
            self.query_one(chart_id, TimeChart).draw(lines, window, now)


def gpu_text(report: GpuReport, wide: bool = True) -> Text:
    by_uuid: dict[str, list[str]] = {}
    for p in report.processes:
        by_uuid.setdefault(p.gpu_uuid, []).append(f"{os.path.basename(p.name)}:{p.pid}")
    text = Text(no_wrap=True, overflow="ellipsis")
    for g in report.gpus:
        util = None if g.utilization is None else g.utilization / 100
        used, total = g.memory_used_gb, g.memory_total_gb
        mem = None if used is None or not total else used / total
        if text:
            text.append("\n")
        text.append(f"{g.index} ", style="bold")
        if not wide:
            text.append(f"{num(g.utilization, unit='%'):>4} {gb(used, total)} {num(g.temperature, unit='C')}")
            continue
        text.append(short_name(g.name))
        text.append(f"  {num(g.temperature, unit='C')} {num(g.power, unit='W')}  ", style="dim")
        text.append(" ".join(by_uuid.get(g.uuid, [])) or "idle", style="cyan")
        text.append(f"\n  util {bar(util, 6)} {num(g.utilization, unit='%'):>4}  "
                    f"mem {bar(mem, 6)} {gb(used, total)}")
    return text


def short_name(name: str) -> str:
    """`Tesla P100-PCIE-16GB (sandbox)` -> `P100-PCIE-16GB (sandbox)`."""
    for prefix in ("NVIDIA ", "Tesla "):
        name = name.removeprefix(prefix)
    return name
