"""The headless subcommands: the check, `serve`, `tunnel`, `logs`, `bench`, `config`, `login`, `embed`.

Each is a thin wrapper that calls the backends or the operations table and prints (or --json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict
from typing import Any

import httpx

from . import bench_log, deploy, history, report, watchdog
from . import config as config_mod
from .backends.cluster import Cluster
from .backends.graph_bench import EmptyGraph
from .backends.poller import Waiting
from .backends.runner import RemoteError
from .backends.tunnels import TunnelError
from .check import CheckResult, State, run_check, unknown
from .config import Config, ConfigError
from .operations import NotPossible, Operation, OperationFailed, operation, perform


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "sub_json", False))


def _print(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, default=str) if as_json else text)


# -- the check ------------------------------------------------------------------------------
def run_check_command(cfg: Config, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_check(cfg, args))
    except KeyboardInterrupt:
        print(unknown("interrupted"))
        return 3
    except Exception as exc:  # noqa: BLE001 - a check never ends in a traceback
        print(unknown(f"{type(exc).__name__}: {exc}"))
        return 3


async def _check(cfg: Config, args: argparse.Namespace) -> int:
    cluster = Cluster(cfg)
    try:
        result = await run_check(cluster)
        if args.resubmit:
            await _resubmit(cluster, result)
        if result.state is not State.OK:
            await _log_lines(cluster, result)
        await _remember(cluster, result)
    finally:
        await cluster.close(step_timeout=0.5)  # a check must end in time: half a second a part
    if args.json:
        print(result.dumps())
    elif not (args.quiet and result.state is State.OK and not result.resubmitted):
        print("\n".join(result.lines()))
    return result.exit_code


async def _remember(cluster: Cluster, result: CheckResult) -> None:
    """One line in the history file next to the endpoints file (not when the login node is out
    of reach: there is nowhere to write it)."""
    if any(r.error_kind == "unreachable" for r in (cluster.sources.jobs.reading, cluster.sources.endpoints.reading)):
        return
    entry = history.Entry(time.time(), result.state.name, result.summary, result.job.job_id if result.job else "")
    try:
        async with asyncio.timeout(10):
            await cluster.record_check(entry)
    except (RemoteError, TimeoutError) as exc:
        result.notes.append(f"history not written: {exc}")


async def _log_lines(cluster: Cluster, result: CheckResult, lines: int = 5) -> None:
    """When the job wrote why it stopped serving, the last lines of its log say the rest."""
    ep = cluster.sources.endpoints.reading.value
    log_file = ep.get("LOG_FILE") if ep is not None and ep.stale and ep.reason else ""
    if not log_file:
        return
    try:
        async with asyncio.timeout(5):
            res = await cluster.runner.poll(["tail", "-n", str(lines), log_file])
    except (RemoteError, TimeoutError):
        return
    if res.ok and res.stdout.strip():
        result.notes.append(f"the job says: {ep.reason}; last lines of {log_file}:")
        result.notes += ["  " + line for line in res.stdout.rstrip().splitlines()]


async def _resubmit(cluster: Cluster, result: CheckResult) -> None:
    """Submit when Slurm answered that no job exists (never on a guess: an unreachable login
    node or a failed squeue is not "no job"). The submission itself is guarded on the cluster."""
    jobs = cluster.sources.jobs.reading
    if jobs.stale or jobs.value is None or any(j.state.alive for j in jobs.value):
        return
    op = operation("serve", "start")
    try:
        plan = await op.plan(cluster, jobs.value)
        async with asyncio.timeout(cluster.cfg.thresholds.check_timeout):
            outcome = await perform(cluster, op, plan)
    except (NotPossible, OperationFailed, RemoteError, TimeoutError) as exc:
        result.notes.append(f"resubmit failed: {exc}")
        return
    result.resubmitted = outcome.job_id or None
    result.notes.append(f"resubmitted: {outcome.message}")


# -- everything else ------------------------------------------------------------------------
def dispatch(cfg: Config, args: argparse.Namespace) -> int:
    if args.command == "config":
        return config_show(cfg, args)
    if args.command == "install-watchdog":
        return watchdog.install_command(args.print, args.cron)
    if args.command == "embed":
        from .client.command import embed_command

        return embed_command(cfg, args)
    try:
        return asyncio.run(_run(cfg, args))
    except (RemoteError, Waiting, NotPossible, OperationFailed, ConfigError, TunnelError, OSError,
            httpx.HTTPError, EmptyGraph) as exc:
        print(f"codex-console: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _run(cfg: Config, args: argparse.Namespace) -> int:
    if args.command == "login":
        return await login(cfg)
    cluster = Cluster(cfg)
    try:
        if args.command == "serve":
            return await serve(cluster, args)
        if args.command == "tunnel":
            return await tunnel(cluster, args)
        if args.command == "logs":
            return await logs(cluster, args)
        if args.command == "bench":
            return await bench(cluster, args)
        if args.command == "report":
            summary = await cluster.health_summary(config_mod.seconds(args.since))
            print(report.as_json(summary) if _json(args) else report.as_text(summary, args.since))
            return 0
        raise AssertionError(args.command)
    finally:
        await cluster.close()


async def run_operation(cluster: Cluster, op: Operation, args: argparse.Namespace) -> int:
    """The CLI face of an operation: the same plan the dashboard confirms, asked on a terminal."""
    jobs = await cluster.slurm.jobs()
    target = getattr(args, "target", "")
    if target and not op.target:
        raise NotPossible(f"`{op.group} {op.name}` takes nothing after it ({target!r})")
    plan = await (op.plan(cluster, jobs, target) if op.target else op.plan(cluster, jobs))
    as_json = _json(args)
    if op.destructive and not confirm(plan.summary, plan.commands, args):
        return 1
    outcome = await perform(cluster, op, plan)
    _print({"operation": f"{op.group} {op.name}", "commands": plan.commands, "message": outcome.message,
            "job_id": outcome.job_id or None}, as_json, outcome.message)
    return 0


def confirm(summary: str, commands: list[str], args: argparse.Namespace) -> bool:
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        print(f"{summary}: refused, not a terminal; pass --yes to confirm", file=sys.stderr)
        return False
    print(summary + "\n" + "\n".join(f"  $ {c}" for c in commands))
    return input("Run this? [y/N] ").strip().lower() in ("y", "yes")


async def serve(cluster: Cluster, args: argparse.Namespace) -> int:
    if args.action == "render":
        home = await cluster.remote_home()
        print(deploy.render(cluster.cfg, args.template, partition=args.partition, home=home,
                            api_key_file=cluster.api_key_file), end="")
        return 0
    if args.action == "status":
        result = await run_check(cluster)
        _print(result.to_json(), _json(args), "\n".join(result.lines()))
        return result.exit_code
    return await run_operation(cluster, operation("serve", args.action), args)


async def tunnel(cluster: Cluster, args: argparse.Namespace) -> int:
    if args.action in ("start", "stop"):
        code = await run_operation(cluster, operation("tunnel", args.action), args)
        if args.action == "stop":
            return code
    tunnels = await asyncio.to_thread(cluster.tunnels.status)
    text = "\n".join(
        f"{t.name:<6} 127.0.0.1:{t.local_port} -> {t.remote_host or '-'}:{t.remote_port}  "
        f"{'up' if t.up else 'down'}  restarts {t.restarts}" + (f"  {t.error}" if t.error else "")
        for t in tunnels)
    _print([asdict(t) for t in tunnels], _json(args), text)
    return 0 if tunnels and all(t.up for t in tunnels) else 2


async def logs(cluster: Cluster, args: argparse.Namespace) -> int:
    argv = await cluster.log_argv(args.lines, follow=args.follow)
    if not args.follow:
        res = await cluster.runner.poll(argv)
        print(res.stdout, end="")
        return 0 if res.ok else 1
    async for line in cluster.runner.stream(argv):
        print(line, flush=True)
    return 0


async def bench(cluster: Cluster, args: argparse.Namespace) -> int:
    as_json = _json(args)
    if args.neo4j:
        from .graph_bench_command import graph_bench

        return await graph_bench(cluster, args)
    if args.uri or args.seed or args.runs:
        raise ConfigError("--uri, --seed and --runs go with --neo4j")

    def progress(done: int, total: int, point) -> None:
        if not as_json:
            print(f"  batch {point.batch_size:>4}: {point.texts_per_s:8.1f} texts/s  ({done}/{total})", flush=True)

    run = await cluster.benchmark(progress)
    if as_json:
        print(json.dumps(asdict(run)))
    else:
        print(f"{run.label}, dimension {run.dimension}, {run.route} via {run.path}; saved to {bench_log.log_path()}")
    return 0


async def login(cfg: Config) -> int:
    """Open the OpenSSH master connection on this terminal; later calls ride on it."""
    if cfg.login.transport != "openssh":
        print('codex-console: `login` is for login.transport = "openssh"; the asyncssh transport '
              "asks its questions when the dashboard starts", file=sys.stderr)
        return 2
    from .backends.openssh import OpenSshRunner

    runner = OpenSshRunner(cfg.login)
    if await runner.master_up():
        print(f"already logged in to {cfg.login.host} (master connection up)")
        return 0
    code = await asyncio.to_thread(runner.login_interactively)
    if code == 0:
        print(f"logged in to {cfg.login.host}; the connection stays up for {cfg.login.control_persist}")
    return code


def config_show(cfg: Config, args: argparse.Namespace) -> int:
    secrets = args.show_secrets
    if args.toml:
        print(config_mod.to_toml(cfg, show_secrets=secrets), end="")
        return 0
    rows = [{"key": k, "value": v, "source": src} for k, v, src in cfg.items(show_secrets=secrets)]
    if _json(args):
        print(json.dumps({"file": str(cfg.path) if cfg.path else None, "settings": rows}, default=str))
        return 0
    print(f"# config file: {cfg.path or '(none: built-in defaults)'}")
    width = max(len(r["key"]) for r in rows)
    for r in rows:
        print(f"{r['key']:<{width}}  {json.dumps(r['value'], default=str):<40}  # {r['source']}")
    return 0
