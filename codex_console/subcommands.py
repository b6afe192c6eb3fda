"""The headless subcommands: `serve`, `tunnel`, `logs`, `bench`, `config`, `login`, `embed`,
`report`, `history` (the check as a process is `check/command.py`).

Each is a thin wrapper that calls the backends or the operations table and prints (or --json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

import httpx

from . import bench_log, deploy, report, watchdog
from . import config as config_mod
from .backends.cluster import Cluster
from .backends.graph_bench import EmptyGraph
from .backends.poller import Waiting
from .backends.runner import RemoteError
from .backends.tunnels import TunnelError
from .check import run_check
from .config import Config, ConfigError
from .operations import NotPossible, Operation, OperationFailed, operation, perform


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "sub_json", False))


def _print(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, default=str) if as_json else text)


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
        if args.command == "history":
            return await past_jobs(cluster, args)
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


async def past_jobs(cluster: Cluster, args: argparse.Namespace) -> int:
    """`history`: every run of the service's jobs that accounting knows of, and why it ended."""
    jobs = await cluster.slurm.past_jobs(config_mod.seconds(args.since))
    rows = [(j.job_id, j.state_text, "" if j.exit_code is None else f"{j.exit_code}:{j.signal or 0}", j.node or "-",
             j.partition, j.start or "-", j.elapsed, j.why) for j in jobs]
    head = ("JOBID", "STATE", "EXIT:SIG", "NODE", "PARTITION", "START", "ELAPSED", "WHY IT ENDED")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head) - 1)]
    text = "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in [head, *rows])
    _print([{**asdict(j), "state": j.state.name, "finished": j.finished} for j in jobs], _json(args),
           text if rows else f"no {cluster.cfg.slurm.job_name} jobs in the last {args.since}")
    return 0


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
