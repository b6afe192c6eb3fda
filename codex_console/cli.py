"""Entry point: `codex-console [--check] [sandbox|config|serve|tunnel|logs|bench|install-watchdog]`."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="codex-console", description=__doc__)
    sub = p.add_subparsers(dest="command")
    sb = sub.add_parser("sandbox", help="the local sandbox cluster (real Slurm, sshd, Bolt)")
    sb.add_argument("action", choices=["up", "down", "status"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox":
        from .sandbox.manager import main as sandbox_main

        return sandbox_main(args.action)
    return 0


if __name__ == "__main__":
    sys.exit(main())
