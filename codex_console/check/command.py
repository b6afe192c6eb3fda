"""`codex-console --check` as a process: one deadline, counted from the process's start as
Nagios and cron count it, that every step keeps (the probes, the resubmission, the log lines,
the history line, closing); output that a closed pipe cannot turn into a traceback; and an exit
that no thread or connection left behind can hold up."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

from .. import history
from ..backends.cluster import Cluster
from ..backends.runner import RemoteError
from ..config import Config
from ..operations import NotPossible, OperationFailed, operation, perform
from . import CheckResult, State, run_check, unknown

CLOSING = 0.3  # seconds of the deadline kept for closing the connection and the probes


def process_started() -> float:
    """When this process started, on the monotonic clock (Linux: from /proc; elsewhere: now)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()
    return time.monotonic() - min(max(0.0, age), 60.0)


def run_check_command(cfg: Config, args: argparse.Namespace) -> int:
    deadline = process_started() + cfg.thresholds.check_timeout
    try:
        code, output = asyncio.run(_check(cfg, args, deadline))
    except KeyboardInterrupt:
        code, output = 3, unknown("interrupted")
    except Exception as exc:  # noqa: BLE001 - a check never ends in a traceback
        code, output = 3, unknown(f"{type(exc).__name__}: {exc}")
    return finish(code, output)


def finish(code: int, output: str) -> int:
    """Print and end the process now: nothing left running (a thread stuck in a name lookup, a
    connection that will not close) may hold the exit past the deadline. A reader that went
    away (`| head -1`) costs the output, never the exit code."""
    try:
        if output:
            print(output, flush=True)
    except BrokenPipeError:
        pass
    logging.shutdown()
    try:
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


async def _check(cfg: Config, args: argparse.Namespace, deadline: float) -> tuple[int, str]:
    cluster = Cluster(cfg)

    def left() -> float:
        return deadline - CLOSING - time.monotonic()

    try:
        result = await run_check(cluster, timeout=max(0.1, left()), nominal=cfg.thresholds.check_timeout)
        if args.resubmit:
            await _resubmit(cluster, result, left())
        if result.state is not State.OK:
            await _log_lines(cluster, result, left())
        await _remember(cluster, result, left())
    finally:
        await cluster.close(deadline=deadline)
    if args.json:
        return result.exit_code, result.dumps()
    if args.quiet and result.state is State.OK and not result.resubmitted:
        return result.exit_code, ""
    return result.exit_code, "\n".join(result.lines())


async def _remember(cluster: Cluster, result: CheckResult, seconds: float) -> None:
    """One line in the history file next to the endpoints file (not when the login node is out
    of reach: there is nowhere to write it)."""
    if any(r.error_kind == "unreachable" for r in (cluster.sources.jobs.reading, cluster.sources.endpoints.reading)):
        return
    entry = history.Entry(time.time(), result.state.name, result.summary, result.job.job_id if result.job else "")
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await cluster.record_check(entry)
    except (RemoteError, TimeoutError) as exc:
        result.notes.append(f"history not written: {str(exc) or 'no time left before the deadline'}")


async def _log_lines(cluster: Cluster, result: CheckResult, seconds: float, lines: int = 5) -> None:
    """When the job wrote why it stopped serving, the last lines of its log say the rest."""
    ep = cluster.sources.endpoints.reading.value
    log_file = ep.get("LOG_FILE") if ep is not None and ep.stale and ep.reason else ""
    if not log_file or seconds <= 0:
        return
    try:
        async with asyncio.timeout(min(5.0, seconds)):
            res = await cluster.runner.poll(["tail", "-n", str(lines), log_file])
    except (RemoteError, TimeoutError):
        return
    if res.ok and res.stdout.strip():
        result.notes.append(f"the job says: {ep.reason}; last lines of {log_file}:")
        result.notes += ["  " + line for line in res.stdout.rstrip().splitlines()]


async def _resubmit(cluster: Cluster, result: CheckResult, seconds: float) -> None:
    """Submit when Slurm answered that no job exists (never on a guess: an unreachable login
    node or a failed squeue is not "no job"). The submission itself is guarded on the cluster."""
    jobs = cluster.sources.jobs.reading
    if jobs.stale or jobs.value is None or any(j.state.alive for j in jobs.value):
        return
    op = operation("serve", "start")
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            plan = await op.plan(cluster, jobs.value)
            outcome = await perform(cluster, op, plan)
    except TimeoutError:
        result.notes.append("resubmit failed: no time left before the check's deadline (-t)")
        return
    except (NotPossible, OperationFailed, RemoteError) as exc:
        result.notes.append(f"resubmit failed: {exc}")
        return
    result.resubmitted = outcome.job_id or None
    result.notes.append(f"resubmitted: {outcome.message}")
