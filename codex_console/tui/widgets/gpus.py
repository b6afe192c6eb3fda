"""Per-GPU utilization and memory bars, temperature, power, processes, utilization sparkline."""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Sparkline, Static

from ...models import GpuReport
from ...readings import Reading
from ..format import NA, bar, mib, num
from .panel import SourcePanel


class GpuPanel(SourcePanel):
    source = "gpu"

    def __init__(self, **kwargs) -> None:
        super().__init__("GPUs", **kwargs)

    def compose(self) -> ComposeResult:
        yield Static(NA, id="gpu-table")
        yield Sparkline([], id="gpu-spark")

    def show(self, reading: Reading[GpuReport]) -> None:
        report = reading.value
        table = self.query_one("#gpu-table", Static)
        if report is None:
            table.update(Text(reading.note or reading.error or "no running job", style="dim"))
        else:
            table.update(gpu_text(report))
        series = reading.history["util"].window(300, self.wallclock())
        self.query_one("#gpu-spark", Sparkline).data = [p.mean for p in series]


def gpu_text(report: GpuReport) -> Text:
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
