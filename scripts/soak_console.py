"""Soak: the real dashboard (headless) polling every source every 0.2 s against the sandbox.

    .venv/bin/python scripts/soak_console.py [--minutes 30] [--interval 0.2] [--warmup 6] [--trace]

Submits a services job (a light one: sleeping commands, FalkorDB for Neo4j), runs the Textual
app with every poll interval set to --interval, and every minute samples the process's memory
(RSS), open file descriptors, asyncio tasks, the job's Slurm step count and the SSH connections
opened. Prints a table and the growth to the last sample from minute 1 and from the end of the warm-up
(by then the 5-minute raw history is full); `--trace` adds what grew, by source line (tracemalloc).
Bounded in time, loopback only, cancels its job at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codex_console.backends.cluster import Cluster  # noqa: E402
from codex_console.session import ConsoleSession  # noqa: E402
from codex_console.tui.app import CodexApp  # noqa: E402
from tests.helpers import service_config, submit, wait_endpoints  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def next_step(cluster: Cluster, job_id: str) -> int:
    res = await cluster.runner.run(["srun", f"--jobid={job_id}", "--overlap", "--gres=none", "--quiet",
                                    "sh", "-c", "echo $SLURM_STEP_ID"], timeout=30)
    return int(res.stdout.strip() or -1)


async def soak(minutes: float, interval: float, warmup: float, trace: bool) -> None:
    from codex_console.sandbox.layout import SandboxLayout

    layout = SandboxLayout.from_env()
    tmp = Path(f"/tmp/codex-soak-{os.getpid()}")
    tmp.mkdir(exist_ok=True)
    cfg = service_config(layout, tmp, f"soak{os.getpid()}", slurm__gpus=1, services__api_key_file="none")
    for name in ("slurm", "gpu", "embed", "neo4j", "tunnels"):
        setattr(cfg.poll, name, interval)
    setup = Cluster(cfg)
    job_id = await submit(setup)
    await wait_endpoints(cfg, job_id, timeout=120)
    cluster = Cluster(cfg, stream_gpu=True)
    app = CodexApp(ConsoleSession(cluster))
    rows = []
    base_snapshot = None
    if trace:
        tracemalloc.start(8)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            start = time.monotonic()
            while True:
                elapsed = time.monotonic() - start
                rows.append((elapsed / 60, rss_mb(), len(os.listdir("/proc/self/fd")),
                             len(asyncio.all_tasks()), await next_step(setup, job_id),
                             cluster.runner.connections_opened, cluster.gpu_stream.starts,
                             sum(s.polls for s in cluster.sources.all())))
                print("  %5.1f min  rss %6.1f MB  fds %3d  tasks %3d  next step %5d  ssh %d  gpu streams %d"
                      "  polls %7d" % rows[-1], flush=True)
                if trace and base_snapshot is None and elapsed >= warmup * 60 - 1:
                    base_snapshot = tracemalloc.take_snapshot()
                if elapsed >= minutes * 60:
                    break
                await pilot.pause(min(60, minutes * 60 - elapsed + 0.1))
    finally:
        await setup.runner.run(["scancel", job_id])
        await setup.close()
    first = rows[min(1, len(rows) - 1)]
    base = next((r for r in rows if r[0] >= warmup - 1 / 60), first)
    last = rows[-1]
    print(f"\nsoak {minutes:g} min at {interval:g} s: from minute 1 rss {last[1] - first[1]:+.1f} MB "
          f"({first[1]:.1f} -> {last[1]:.1f}), from minute {base[0]:.0f} {last[1] - base[1]:+.1f} MB; "
          f"fds {last[2] - first[2]:+d}, tasks {last[3] - first[3]:+d}, "
          f"job steps {last[4] - rows[0][4] - (len(rows) - 1)} (besides this script's own {len(rows)} probes), "
          f"ssh connections {last[5]}, polls {last[7]}")
    if base_snapshot is not None:
        print("\ngrew most since the warm-up (tracemalloc, by line):")
        for stat in tracemalloc.take_snapshot().compare_to(base_snapshot, "lineno")[:15]:
            print("  ", stat)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--warmup", type=float, default=6, help="minutes before the baseline (history windows filling)")
    p.add_argument("--trace", action="store_true", help="tracemalloc: what grew after the warm-up, by line")
    args = p.parse_args()
    asyncio.run(soak(args.minutes, args.interval, args.warmup, args.trace))


if __name__ == "__main__":
    main()
