"""GPU readings from the job's node: one nvidia-smi call for the check, a stream for the console.

Every `srun --overlap` is a job step, and Slurm allows 40,000 per job (MaxStepCount): a step
per poll would run out in about a day and a half. The console therefore runs ONE long-lived step
that prints both queries every few seconds and reads its frames as they come; the step is
started again only when it ends (the job moved, the connection dropped).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import time
from typing import Callable

from ..models import GpuReport, Job
from .nvidia_smi import (
    QUERY_APPS,
    QUERY_GPU,
    NvidiaSmiError,
    check_exit,
    parse_apps,
    parse_gpus,
)
from .runner import RemoteError, Runner
from .slurm import check_job_id

log = logging.getLogger(__name__)
QUERIES = (f'{shlex.join(QUERY_GPU)} 2>&1; echo "@@gpu $?"; '
           f'{shlex.join(QUERY_APPS)} 2>&1; echo "@@apps $?"')
NODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def loop_script(interval: float) -> str:
    return f"while :; do {QUERIES}; sleep {max(0.2, interval):g}; done"


def gpu_argv(mode: str, node: str, job_id: str, script: str = QUERIES, *, once: bool = True) -> list[str]:
    """How the login node reaches nvidia-smi on `node`: a step in the job, or ssh (pam_slurm_adopt)."""
    if mode == "srun":
        limit = ["--time=1"] if once else []
        return ["srun", f"--jobid={check_job_id(job_id)}", "--overlap", "--gres=none", "--quiet",
                *limit, "sh", "-c", script]
    if mode == "ssh":
        if not NODE.match(node):
            raise RemoteError(f"not a node name: {node!r}")
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", node, shlex.join(["sh", "-c", script])]
    return ["sh", "-c", script]


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
        """One reading (one step): what the headless check uses."""
        res = await self.runner.poll(gpu_argv(self.mode, node, job_id), timeout=timeout)
        if "@@gpu" not in res.stdout:
            raise RemoteError(res.error_text())
        return parse_report(node, res.stdout)


class GpuStream:
    """One long-lived nvidia-smi loop on the job's node; each frame goes to the listeners as soon
    as it is read (the console's GPU source is one of them)."""

    def __init__(self, runner: Runner, mode: str = "srun", interval: float = 3.0) -> None:
        self.runner, self.mode, self.interval = runner, mode, interval
        self.starts = 0  # how many loops (steps) this stream has started
        self.listeners: list[Callable[[GpuReport], None]] = []
        self._frame_at = 0.0  # when the last frame came, or the loop started
        self._error = ""
        self._target: tuple[str, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_start = 0.0
        self._failures = 0

    async def follow(self, job: Job) -> None:
        """Keep a loop running for `job` (another job: a new loop). Raises RemoteError when the
        loop failed or its frames stopped coming."""
        target = (job.job_id, job.node)
        if target != self._target:
            await self.stop()
            self._target, self._error, self._failures = target, "", 0
        if (self._task is None or self._task.done()) and time.monotonic() >= self._next_start:
            self._start(job)
        silent = time.monotonic() - self._frame_at
        if self._error:
            raise RemoteError(self._error)
        if silent > max(3 * self.interval, 10):
            raise RemoteError(f"no GPU reading for {silent:.0f}s")

    def _start(self, job: Job) -> None:
        argv = gpu_argv(self.mode, job.node, job.job_id, loop_script(self.interval), once=False)
        self.starts += 1
        self._frame_at = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._read(job.node, argv), name="gpu-stream")

    async def _read(self, node: str, argv: list[str]) -> None:
        chunk: list[str] = []
        try:
            async for line in self.runner.stream(argv):
                chunk.append(line)
                if re.match(r"^@@apps \d+$", line.strip()):
                    try:
                        frame = parse_report(node, "\n".join(chunk))
                    except NvidiaSmiError as exc:
                        self._error = str(exc)
                    else:
                        self._frame_at, self._error, self._failures = time.monotonic(), "", 0
                        for listener in list(self.listeners):
                            listener(frame)
                    chunk = []
            self._error = "the nvidia-smi loop ended: " + (" ".join(chunk[-2:]) or "no output")
        except RemoteError as exc:
            self._error = str(exc)
        self._failures += 1
        self._next_start = time.monotonic() + min(60.0, 2.0 ** self._failures)
        log.info("GPU stream ended (%s); next start in %.0fs", self._error, self._next_start - time.monotonic())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._target = None
