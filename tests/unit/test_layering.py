"""The backends and the headless path never import Textual (a cron job must not need a TTY lib)."""

from __future__ import annotations

import subprocess
import sys


def test_backends_and_check_do_not_import_textual():
    code = ("import sys, codex_console.check, codex_console.commands, codex_console.backends.cluster, "
            "codex_console.backends.tunnels, codex_console.deploy; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_help_works_without_the_ui():
    for prog in (["codex_console.cli"], ["server.cli"]):
        out = subprocess.run([sys.executable, "-m", *prog, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "usage:" in out.stdout
