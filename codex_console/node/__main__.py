"""`python -m codex_console.node [--worker]`: what the sbatch script execs on the job's first node
(and, with `--worker`, what runs on each other node of a job of several).

It reads the spec from `CODEX_JOB_SPEC`, what Slurm says about the job from its environment, and
turns Slurm's signals into the supervisor's: TERM and INT (cancel, requeue), XCPU (end of time),
USR1 and USR2 (restarts in place).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys

from ..job_spec import JobSpec, SpecError
from ..protocol import PREDECESSOR_ENV, SPEC_ENV
from .clock import RealClock
from .processes import OsLauncher
from .slurm_ops import Slurm
from .supervisor import Parts, Supervisor, Where

SIGNALS = ("TERM", "INT", "XCPU", "USR1", "USR2")


def hostnames(nodelist: str) -> tuple[str, ...]:
    """`gpu[0001-0002]` -> the names, as Slurm expands them."""
    if not nodelist:
        return ()
    try:
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return (nodelist,)
    return tuple(out.stdout.split()) if out.returncode == 0 and out.stdout.split() else (nodelist,)


def where_from(env: dict[str, str]) -> Where:
    node = env.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]  # Slurm's name for it
    restarts = int(env.get("SLURM_RESTART_COUNT") or 0)
    nodes = hostnames(env.get("SLURM_JOB_NODELIST", "")) or (node,)
    return Where(
        job_id=env.get("SLURM_JOB_ID", "0"), node=node, nodes=nodes,
        node_index=nodes.index(node) if node in nodes else 0, restart_count=restarts,
        gpu_ids=tuple(g for g in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if g),
        predecessor="" if restarts else env.get(PREDECESSOR_ENV, ""),  # a requeued successor starts on its own
        mem_mb=int(env.get("SLURM_MEM_PER_NODE") or 0))


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def serve(spec: JobSpec, worker: bool) -> int:
    env = dict(os.environ)
    parts = Parts(RealClock(), OsLauncher(), Slurm(), out=lambda line: print(line, flush=True),
                  port_taken=port_answers, env=env)
    where = where_from(env)
    if worker:
        from .workers import NodeSupervisor

        supervisor: Supervisor = NodeSupervisor(spec, where, parts)
    else:
        supervisor = Supervisor(spec, where, parts)
        if len(where.nodes) > 1:
            from .workers import Workers

            supervisor.workers = Workers(supervisor)
    loop = asyncio.get_running_loop()
    for name in SIGNALS:
        loop.add_signal_handler(getattr(signal, f"SIG{name}"), supervisor.signal, name)
    return await supervisor.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codex_console.node", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help="a node of a job of several, not the first")
    args = parser.parse_args(argv)
    try:
        spec = JobSpec.from_json(os.environ.get(SPEC_ENV, ""))
    except SpecError as exc:
        print(f"codex-services: {exc}", file=sys.stderr, flush=True)
        return 2
    return asyncio.run(serve(spec, args.worker))


if __name__ == "__main__":
    sys.exit(main())
