"""Entry point: `codex-console` opens the dashboard; subcommands and `--check` run headless.

    codex-console [--readonly]                 the Textual dashboard
    codex-console --check [--json] [--resubmit] [--quiet] [--timeout S]
    codex-console serve status|start|stop|restart|render [--template T] [--json] [--yes]
    codex-console tunnel start|stop|status [--services] [--json]
    codex-console logs [-f] [-n N]
    codex-console bench [--json]
    codex-console config show [--json]
    codex-console install-watchdog [--print]
    codex-console sandbox up|down|status
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from . import config as config_mod


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="codex-console", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="config file (default: $XDG_CONFIG_HOME/codex-console/config.toml,"
                   " else the sandbox's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set login.host=login1 (repeatable)")
    p.add_argument("--host", help="login node (login.host)")
    p.add_argument("--local", action="store_true", help="run on the login node itself (no SSH)")
    p.add_argument("--readonly", action="store_true", help="dashboard: disable every action")
    p.add_argument("--check", action="store_true", help="headless health check (Nagios exit codes)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--resubmit", action="store_true", help="with --check: resubmit the job when gone")
    p.add_argument("--quiet", action="store_true", help="with --check: print nothing when OK")
    p.add_argument("--timeout", type=float, help="with --check: overall deadline in seconds")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="the services job: status, start, stop, restart, render")
    serve.add_argument("action", choices=["status", "start", "stop", "restart", "render"])
    serve.add_argument("--template", choices=["services", "embed", "neo4j"])
    serve.add_argument("--partition")
    serve.add_argument("--yes", action="store_true", help="do not ask before stop/restart")
    serve.add_argument("--json", action="store_true", dest="sub_json")
    tunnel = sub.add_parser("tunnel", help="SSH tunnels to the job's node")
    tunnel.add_argument("action", choices=["start", "stop", "status"])
    tunnel.add_argument("--services", action="store_true", help="with status: also probe the services")
    tunnel.add_argument("--json", action="store_true", dest="sub_json")
    logs = sub.add_parser("logs", help="the service job's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=100)
    bench = sub.add_parser("bench", help="benchmark the embed server (texts/s per batch size)")
    bench.add_argument("--json", action="store_true", dest="sub_json")
    cfg = sub.add_parser("config", help="show the effective settings and where each came from")
    cfg.add_argument("action", choices=["show"])
    cfg.add_argument("--json", action="store_true", dest="sub_json")
    wd = sub.add_parser("install-watchdog", help="systemd user timer (every 5 min) + cron line")
    wd.add_argument("--print", action="store_true", help="only print what would be installed")
    sb = sub.add_parser("sandbox", help="the local sandbox cluster (real Slurm, sshd, Bolt)")
    sb.add_argument("action", choices=["up", "down", "status"])
    return p


def load_config(args: argparse.Namespace) -> config_mod.Config:
    overrides: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise config_mod.ConfigError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = value
    if args.host:
        overrides["login.host"] = args.host
    if args.local:
        overrides["login.local"] = "true"
    return config_mod.load(args.config, overrides)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        import logging

        logging.basicConfig(level="INFO", stream=sys.stderr)
    if args.command == "sandbox":
        from .sandbox.manager import main as sandbox_main

        return sandbox_main(args.action)
    try:
        cfg = load_config(args)
    except config_mod.ConfigError as exc:
        print(f"codex-console: config: {exc}", file=sys.stderr)
        return 3 if args.check else 2
    if args.check:
        from .commands import check_command

        return asyncio.run(check_command(cfg, args))
    if args.command is None:
        from .tui.app import run_app

        return run_app(cfg, readonly=args.readonly)
    from . import commands

    return commands.dispatch(cfg, args)


if __name__ == "__main__":
    sys.exit(main())
