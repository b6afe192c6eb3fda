"""The headless subcommands: thin wrappers that call the backends and print (or --json)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from . import watchdog
from .backends.cluster import Cluster, NotAvailable, service_job
from .backends.runner import RemoteError
from .check import Checker, State
from .config import Config, ConfigError


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "sub_json", False))


def _print(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, default=str) if as_json else text)


def confirm(question: str, args: argparse.Namespace) -> bool:
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        print(f"{question} refused: not a terminal; pass --yes to confirm", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


async def check_command(cfg: Config, args: argparse.Namespace) -> int:
    checker = Checker(cfg)
    try:
        result = await checker.run(args.timeout, resubmit=args.resubmit)
    finally:
        try:
            await asyncio.wait_for(checker.cluster.close(), 1)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing must not change the verdict
            pass
    if args.json:
        print(result.dumps())
    elif not (args.quiet and result.state is State.OK and not result.resubmitted):
        print("\n".join(result.lines()))
    return result.exit_code


def dispatch(cfg: Config, args: argparse.Namespace) -> int:
    if args.command == "config":
        return config_show(cfg, _json(args))
    if args.command == "install-watchdog":
        return install_watchdog(args)
    try:
        return asyncio.run(_run(cfg, args))
    except (RemoteError, NotAvailable, ConfigError) as exc:
        print(f"codex-console: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _run(cfg: Config, args: argparse.Namespace) -> int:
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
        raise AssertionError(args.command)
    finally:
        await cluster.close()


async def serve(cluster: Cluster, args: argparse.Namespace) -> int:
    as_json = _json(args)
    if args.action == "render":
        print(await cluster.render(args.template, args.partition), end="")
        return 0
    jobs = await cluster.slurm.jobs()
    job = service_job(jobs)
    if args.action == "status":
        checker = Checker(cluster.cfg, cluster)
        result = await checker.run()
        _print(result.to_json(), as_json, "\n".join(result.lines()))
        return result.exit_code
    if args.action == "start":
        if job is not None:
            _print({"job_id": job.job_id, "submitted": False, "state": job.state.name}, as_json,
                   f"job {job.job_id} is already {job.state.name.lower()}: not submitting another")
            return 0
        res = await cluster.submit()
        _print({**asdict(res), "submitted": True}, as_json,
               f"submitted job {res.job_id} to {res.partition} ({res.template})"
               + (f"; {res.note}" if res.note else ""))
        return 0
    if job is None:
        _print({"job_id": None}, as_json, "no service job")
        return 1
    if args.action == "stop":
        if not confirm(f"scancel {' '.join(j.job_id for j in jobs)}?", args):
            return 1
        for j in jobs:
            await cluster.cancel(j.job_id)
        _print({"cancelled": [j.job_id for j in jobs]}, as_json,
               "cancelled " + ", ".join(j.job_id for j in jobs))
        return 0
    if not confirm(f"scontrol requeue {job.job_id}?", args):
        return 1
    await cluster.requeue(job.job_id)
    _print({"requeued": job.job_id}, as_json, f"requeued job {job.job_id}")
    return 0


async def tunnel(cluster: Cluster, args: argparse.Namespace) -> int:
    as_json = _json(args)
    if args.action == "start":
        await cluster.jobs.poll_once()
        await cluster.endpoints.poll_once()
        tunnels = await cluster.open_tunnels()
    elif args.action == "stop":
        stopped = await cluster.close_tunnels()
        _print({"stopped": stopped}, as_json, "stopped " + (", ".join(stopped) or "nothing"))
        return 0
    else:
        tunnels = await cluster.tunnels.status(check=args.services)
    rows = [asdict(t) for t in tunnels]
    text = "\n".join(
        f"{t.name:<6} 127.0.0.1:{t.local_port} -> {t.remote_host or '-'}:{t.remote_port}  "
        f"{'up' if t.up else 'down'}  pid {t.pid or '-'}" + (f"  {t.error}" if t.error else "")
        for t in tunnels)
    _print(rows, as_json, text)
    return 0 if all(t.up for t in tunnels if t.pid) else 2


async def logs(cluster: Cluster, args: argparse.Namespace) -> int:
    await cluster.jobs.poll_once()
    text = await cluster.log_tail(args.lines)
    print(text, end="")
    seen = text.splitlines()[-1] if text else ""
    while args.follow:
        await asyncio.sleep(2)
        await cluster.jobs.poll_once()
        lines = (await cluster.log_tail(args.lines)).splitlines()
        new = lines[lines.index(seen) + 1:] if seen in lines else lines
        for line in new:
            print(line, flush=True)
        if lines:
            seen = lines[-1]
    return 0


async def bench(cluster: Cluster, args: argparse.Namespace) -> int:
    as_json = _json(args)

    def progress(done: int, total: int, point) -> None:
        if not as_json:
            print(f"  batch {point.batch_size:>4}: {point.texts_per_s:8.1f} texts/s  ({done}/{total})",
                  flush=True)

    points = await cluster.benchmark(progress)
    if as_json:
        print(json.dumps([asdict(p) for p in points]))
    return 0


def config_show(cfg: Config, as_json: bool) -> int:
    rows = [{"key": k, "value": v, "source": src} for k, v, src in cfg.items()]
    if as_json:
        print(json.dumps({"file": str(cfg.path) if cfg.path else None, "settings": rows}, default=str))
        return 0
    print(f"# config file: {cfg.path or '(none: built-in defaults)'}")
    width = max(len(r["key"]) for r in rows)
    for r in rows:
        print(f"{r['key']:<{width}}  {json.dumps(r['value'], default=str):<40}  # {r['source']}")
    return 0


def install_watchdog(args: argparse.Namespace) -> int:
    if args.print:
        print(watchdog.SERVICE.format(exe=watchdog.executable()))
        print(watchdog.TIMER)
    else:
        for path in watchdog.install():
            print(f"wrote {path}")
        print("enable it with:  systemctl --user daemon-reload && "
              "systemctl --user enable --now codex-console-watchdog.timer")
    print("without systemd, add this line with `crontab -e`:")
    print(watchdog.cron_line())
    return 0
