"""The headless health check: gather a snapshot of every source, then judge it.

Output follows the monitoring-plugin guidelines (see `nagios.py`); this package never imports
Textual (a test checks that).
"""

from __future__ import annotations

import time

from ..backends.cluster import Cluster
from ..config import seconds
from .judge import Snapshot, Thresholds, judge, verdict
from .nagios import State
from .probe import ProbeResult
from .result import CheckResult, unknown

__all__ = ["CheckResult", "ProbeResult", "Snapshot", "State", "Thresholds", "run_check", "snapshot", "unknown"]


def snapshot(cluster: Cluster) -> Snapshot:
    s = cluster.sources
    return Snapshot(jobs=s.jobs.reading, endpoints=s.endpoints.reading, gpu=s.gpu.reading,
                    embed=s.embed.reading, neo4j=s.neo4j.reading,
                    tunnels=None if cluster.cfg.login.local else s.tunnels.reading, services=s.services.reading)


async def run_check(cluster: Cluster, timeout: float | None = None,
                    thresholds: Thresholds | None = None, nominal: float | None = None) -> CheckResult:
    """Every probe at once (each as soon as what it reads is known), under one deadline:
    `timeout` seconds from now (what is left of the process's -t, `nominal`, which a probe that
    ran out of time names)."""
    cfg = cluster.cfg
    timeout = timeout or cfg.thresholds.check_timeout
    start = time.monotonic()
    await cluster.sources.gather(timeout, nominal)
    snap = snapshot(cluster)
    results = judge(snap, cfg.slurm.job_name, thresholds or Thresholds.from_config(cfg.thresholds),
                    seconds(cfg.services.rollover_lead), seconds(cfg.neo4j.dump_every))
    return CheckResult(verdict(snap, results), results, time.monotonic() - start, snap.job,
                       snap.endpoints.fresh_value, ssh_connections=cluster.runner.connections_opened)
