"""GPU readings from the job's node: both nvidia-smi queries in one remote call."""

from __future__ import annotations

import re
import shlex

from ..models import GpuReport
from .nvidia_smi import QUERY_APPS, QUERY_GPU, NvidiaSmiError, check_exit, parse_apps, parse_gpus
from .runner import RemoteError, Runner
from .slurm import check_job_id

SCRIPT = (f'{shlex.join(QUERY_GPU)} 2>&1; echo "@@gpu $?"; '
          f'{shlex.join(QUERY_APPS)} 2>&1; echo "@@apps $?"')
NODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def gpu_argv(mode: str, node: str, job_id: str) -> list[str]:
    """How the login node reaches nvidia-smi on `node`: srun into the job, ssh, or run here."""
    if mode == "srun":
        return ["srun", f"--jobid={check_job_id(job_id)}", "--overlap", "--gres=none", "--quiet",
                "--time=1", "sh", "-c", SCRIPT]
    if mode == "ssh":
        if not NODE.match(node):
            raise RemoteError(f"not a node name: {node!r}")
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", node,
                shlex.join(["sh", "-c", SCRIPT])]
    return ["sh", "-c", SCRIPT]


def parse_report(node: str, output: str) -> GpuReport:
    sections: dict[str, tuple[int, str]] = {}
    chunk: list[str] = []
    for line in output.splitlines():
        m = re.match(r"^@@(gpu|apps) (\d+)$", line.strip())
        if m:
            sections[m.group(1)] = (int(m.group(2)), "\n".join(chunk))
            chunk = []
        else:
            chunk.append(line)
    if "gpu" not in sections:
        raise NvidiaSmiError(output.strip().splitlines()[-1] if output.strip() else "no output")
    rc, text = sections["gpu"]
    check_exit(rc, text)
    apps_rc, apps_text = sections.get("apps", (0, ""))
    apps = parse_apps(apps_text) if apps_rc == 0 else []
    return GpuReport(node=node, gpus=tuple(parse_gpus(text)), processes=tuple(apps))


class GpuClient:
    def __init__(self, runner: Runner, mode: str = "srun") -> None:
        self.runner = runner
        self.mode = mode

    async def report(self, node: str, job_id: str, timeout: float = 15.0) -> GpuReport:
        res = await self.runner.poll(gpu_argv(self.mode, node, job_id), timeout=timeout)
        if "@@gpu" not in res.stdout:
            raise RemoteError(res.error_text())
        return parse_report(node, res.stdout)
