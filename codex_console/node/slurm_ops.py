"""What the job asks of Slurm from inside: its own end time, another job's state, submitting its
successor, requeueing itself off a node, cancelling. Every call has a deadline; a failed call is
never read as an answer ("?" is not "gone")."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from ..models import JobState
from ..protocol import PREDECESSOR_ENV, ROLLOVER_COMMENT

GONE = "GONE"  # Slurm no longer knows the job
UNKNOWN = "?"  # squeue failed: nothing is known
TIMEOUT = 20.0


def finished(state: str) -> bool:
    """A state that will not serve again (GONE included); "?" is not finished."""
    return state == GONE or (state != UNKNOWN and not JobState.parse(state).alive)


@dataclass(frozen=True)
class Result:
    ok: bool
    out: str


@dataclass(frozen=True)
class Waiting:
    """A job that does not run yet: its state, Slurm's reason, its nodes."""

    state: str
    reason: str
    nodes: str


class SlurmOps(Protocol):
    async def job_state(self, job_id: str) -> str: ...

    async def times(self, job_id: str) -> tuple[float, float] | None: ...

    async def waiting(self, job_id: str) -> Waiting | None: ...

    async def submit_successor(self, job_id: str, partitions: tuple[str, ...]) -> Result: ...

    async def requeue(self, job_id: str) -> Result: ...

    async def exclude(self, job_id: str, node: str) -> Result: ...

    async def cancel(self, job_id: str) -> Result: ...

    async def other_nodes(self, partitions: tuple[str, ...], node: str) -> list[str]: ...

    async def log_file(self, job_id: str) -> str: ...


async def run(argv: list[str], stdin: str | None = None, timeout: float = TIMEOUT) -> Result:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    except OSError as exc:
        return Result(False, f"{argv[0]}: {exc.strerror}")
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate(stdin.encode() if stdin is not None else None)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return Result(False, f"{argv[0]} did not answer within {timeout:.0f}s")
    return Result(proc.returncode == 0, out.decode(errors="replace").strip())


def without_singleton(script: str) -> str:
    """A successor runs beside its predecessor: the same script without the singleton line."""
    return "".join(line for line in script.splitlines(keepends=True)
                   if not line.startswith("#SBATCH --dependency=singleton"))


class Slurm:
    """The real commands (squeue, sbatch, scontrol, scancel, sinfo)."""

    async def job_state(self, job_id: str) -> str:
        res = await run(["squeue", "-h", "-j", job_id, "-O", "StateCompact"])
        if res.ok:
            return "".join(res.out.split()) or GONE
        return GONE if "Invalid job id" in res.out else UNKNOWN

    async def times(self, job_id: str) -> tuple[float, float] | None:
        """The job's start and end time (epoch); None when Slurm cannot say (no limit, N/A)."""
        res = await run(["squeue", "-h", "-j", job_id, "-O", "StartTime:|,EndTime:|"])
        try:
            start, end = (time.mktime(time.strptime(w.strip(), "%Y-%m-%dT%H:%M:%S"))
                          for w in res.out.split("|")[:2])
        except ValueError:
            return None  # UNLIMITED, N/A, a failed squeue
        return start, end

    async def waiting(self, job_id: str) -> Waiting | None:
        res = await run(["squeue", "-h", "-j", job_id, "-O", "StateCompact:|,Reason:|,NodeList:|"])
        parts = [p.strip() for p in res.out.split("|")] if res.ok else []
        return Waiting(*parts[:3]) if len(parts) >= 3 else None

    async def submit_successor(self, job_id: str, partitions: tuple[str, ...]) -> Result:
        script = await run(["scontrol", "write", "batch_script", job_id, "-"])
        if not script.ok:
            return Result(False, f"cannot read this job's script: {script.out}")
        return await run(["sbatch", "--parsable", f"--partition={','.join(partitions)}",
                          f"--comment={ROLLOVER_COMMENT}{job_id}",
                          # RESTART_COUNT=0: Slurm sets it only when > 0, so a requeued job's own
                          # count would reach the successor and make it think it was requeued.
                          f"--export=ALL,{PREDECESSOR_ENV}={job_id},SLURM_RESTART_COUNT=0"],
                         stdin=without_singleton(script.out + "\n"))

    async def requeue(self, job_id: str) -> Result:
        return await run(["scontrol", "requeue", job_id])

    async def exclude(self, job_id: str, node: str) -> Result:
        return await run(["scontrol", "update", f"JobId={job_id}", f"ExcNodeList={node}"])

    async def cancel(self, job_id: str) -> Result:
        return await run(["scancel", job_id])

    async def other_nodes(self, partitions: tuple[str, ...], node: str) -> list[str]:
        res = await run(["sinfo", "-h", "-N", "-p", ",".join(partitions), "-o", "%N"])
        return sorted({n for n in res.out.split() if n != node}) if res.ok else []

    async def log_file(self, job_id: str) -> str:
        res = await run(["scontrol", "show", "job", job_id, "--oneliner"])
        for word in res.out.split() if res.ok else []:
            if word.startswith("StdOut="):
                return word.removeprefix("StdOut=")
        return ""
