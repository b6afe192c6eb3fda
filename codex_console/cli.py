"""Entry point: `codex-console` opens the dashboard; `--check` and the subcommands run headless.

    codex-console [--readonly]                    the Textual dashboard
    codex-console --check [--json] [--resubmit] [--quiet] [-t SECONDS[:STATE]] [--embed-warn RANGE]...
    codex-console serve status|start|stop|requeue|restart|restart-neo4j|resubmit|render [--yes] [--json]
    codex-console tunnel start|stop|status [--json]
    codex-console logs [-f] [-n N]       codex-console bench [--json]
    codex-console bench --neo4j [--uri BOLT] [--seed N] [--runs N] [--json]   Cypher queries: p50/p95, rows/s
    codex-console config show [--json] [--toml] [--show-secrets]
    codex-console login                  (OpenSSH transport: open the master connection once)
    codex-console report [--since 7d] [--json]   availability and incidents from the check history
    codex-console history [--since 7d] [--json]  the service's past jobs and why each ended (sacct)
    codex-console install-watchdog [--print|--cron]     codex-console sandbox up|down|status
    codex-console embed TEXT... [--query] [--dimension N] [--json]   the tools' client, from the shell
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys

from . import __version__
from . import config as config_mod
from .client.command import add_parser as embed_parser
from .operations import OPERATIONS

CHECK_FLAGS = {"embed_warn": "embed_latency_warn", "embed_crit": "embed_latency_crit",
               "neo4j_warn": "neo4j_latency_warn", "neo4j_crit": "neo4j_latency_crit",
               "gpu_temp_warn": "gpu_temp_warn", "gpu_temp_crit": "gpu_temp_crit"}


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """Parse errors raise instead of exiting 2: in check mode they must be UNKNOWN (3)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> Parser:
    # No abbreviations: `bench --neo4j` must not read as an abbreviated --neo4j-warn or --neo4j-crit.
    p = Parser(prog="codex-console", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
               allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"codex-console {__version__}")
    p.add_argument("--config", help="config file (default: $XDG_CONFIG_HOME/codex-console/config.toml,"
                   " else the sandbox's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set login.host=login1 (repeatable)")
    p.add_argument("--host", help="login node or ~/.ssh/config alias (login.host)")
    p.add_argument("--local", action="store_true", help="run on the login node itself (no SSH)")
    p.add_argument("--readonly", action="store_true", help="dashboard: disable every action (ui.readonly)")
    p.add_argument("-v", "--verbose", action="store_true", help="log more (to the log file)")
    check = p.add_argument_group("health check (Nagios plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)")
    check.add_argument("--check", action="store_true", help="one line, perfdata, Nagios exit code")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--resubmit", action="store_true", help="submit the job when none exists")
    check.add_argument("--quiet", action="store_true", help="print nothing when OK (cron mail)")
    check.add_argument("-t", "--timeout", metavar="SECONDS[:STATE]",
                       help="overall deadline; STATE (default UNKNOWN) for probes it cuts off")
    for flag, key in CHECK_FLAGS.items():
        check.add_argument(f"--{flag.replace('_', '-')}", metavar="RANGE", dest=flag,
                           help=f"thresholds.{key} (Nagios range: 10, 10:, ~:10, 10:20, @10:20)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    serve = sub.add_parser("serve", help="the services job")
    serve_ops = [op for op in OPERATIONS if op.group == "serve"]
    serve.add_argument("action", choices=["status", "render", *(op.name for op in serve_ops)],
                       help="; ".join(f"{op.name}: {op.description.lower()}" for op in serve_ops))
    serve.add_argument("target", nargs="?", default="", help="with restart: the service of the catalogue to "
                       "restart in place (default: embed); with neo4j-load: the dump (a folder or a .dump file)")
    serve.add_argument("--template", choices=["services", "embed", "neo4j"], help="with render")
    serve.add_argument("--partition", help="with render")
    serve.add_argument("--yes", action="store_true", help="do not ask before a destructive action")
    serve.add_argument("--json", action="store_true", dest="sub_json")
    tunnel = sub.add_parser("tunnel", help="SSH tunnels to the job's node, kept up by a keeper")
    tunnel.add_argument("action", choices=["start", "stop", "status"])
    tunnel.add_argument("--json", action="store_true", dest="sub_json")
    logs = sub.add_parser("logs", help="the service job's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=100)
    bench = sub.add_parser("bench", help="benchmark the embed server (texts/s per batch size), or Neo4j")
    bench.add_argument("--json", action="store_true", dest="sub_json")
    bench.add_argument("--neo4j", action="store_true", help="Neo4j instead: neo4j.bench_queries, p50/p95 and rows/s")
    bench.add_argument("--uri", default="", help="with --neo4j: this Bolt address (as the login node reaches it) "
                       "instead of the job's, e.g. a Neo4j on the login node to compare with")
    bench.add_argument("--seed", type=int, default=0, metavar="N", help="with --neo4j: a test graph of about N "
                       "nodes for the run (label CodexBench), removed after; for an empty graph")
    bench.add_argument("--runs", type=int, default=None, metavar="N", help="with --neo4j: neo4j.bench_runs")
    cfg = sub.add_parser("config", help="the effective settings and where each came from")
    cfg.add_argument("action", choices=["show"])
    cfg.add_argument("--json", action="store_true", dest="sub_json")
    cfg.add_argument("--toml", action="store_true", help="as a config file")
    cfg.add_argument("--show-secrets", action="store_true", help="print passwords too")
    sub.add_parser("login", help="OpenSSH transport: open the master connection (asks once)")
    hist = sub.add_parser("history", help="the service's past jobs and why each ended (Slurm accounting, sacct)")
    hist.add_argument("--since", default="7d", help="how far back (e.g. 24h, 7d)")
    hist.add_argument("--json", action="store_true", dest="sub_json")
    rep = sub.add_parser("report", help="availability and incidents from the watchdog's check history")
    rep.add_argument("--since", default="7d", help="how far back the incidents go (e.g. 24h, 7d)")
    rep.add_argument("--json", action="store_true", dest="sub_json")
    wd = sub.add_parser("install-watchdog", help="systemd user timer (every 5 min), or a cron line")
    wd.add_argument("--print", action="store_true", help="only print what would be installed")
    wd.add_argument("--cron", action="store_true", help="print the cron line only")
    embed_parser(sub)
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
    if args.readonly:
        overrides["ui.readonly"] = "true"
    for flag, key in CHECK_FLAGS.items():
        if getattr(args, flag, None) is not None:
            overrides[f"thresholds.{key}"] = getattr(args, flag)
    if getattr(args, "timeout", None):
        seconds, _, state = args.timeout.partition(":")
        overrides["thresholds.check_timeout"] = seconds
        if state:
            overrides["thresholds.timeout_state"] = state.upper()
    return config_mod.load(args.config, overrides)


def check_mode(argv: list[str]) -> int:
    """Check mode: every outcome is one line on stdout and a Nagios exit code; usage errors,
    --help and --version included (UNKNOWN, 3). The process ends in `finish`, within -t."""
    from .check import unknown
    from .check.command import finish, run_check_command

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            args = build_parser().parse_args(argv)
    except UsageError as exc:
        return finish(3, unknown(f"usage: {exc}"))
    except SystemExit:  # --help / --version printed and wanted to exit 0
        return finish(3, out.getvalue().rstrip("\n"))
    try:
        cfg = load_config(args)
    except config_mod.ConfigError as exc:
        return finish(3, unknown(f"config: {exc}"))
    return run_check_command(cfg, args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--check" in argv:
        return check_mode(argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"codex-console: {exc} (see --help)", file=sys.stderr)
        return 2
    if args.command == "sandbox":
        from .sandbox.manager import main as sandbox_main

        return sandbox_main(args.action)
    try:
        cfg = load_config(args)
    except config_mod.ConfigError as exc:
        print(f"codex-console: config: {exc}", file=sys.stderr)
        return 2
    from .logfile import setup_logging

    setup_logging(verbose=args.verbose)
    if args.command is None:
        from .tui.startup import run_app

        return run_app(cfg)
    from .subcommands import dispatch

    return dispatch(cfg, args)


if __name__ == "__main__":
    sys.exit(main())
