"""The backends and the headless path never import Textual (a cron job must not need a TTY lib)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import codex_console
import codex_console.tui


def test_backends_and_check_do_not_import_textual():
    code = ("import sys, codex_console.check, codex_console.check.command, codex_console.subcommands, "
            "codex_console.backends.cluster, "
            "codex_console.backends.tunnel_keeper, codex_console.operations, codex_console.session, "
            "codex_console.deploy; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_help_works_without_the_ui():
    for prog in (["codex_console.cli"], ["server.cli"]):
        out = subprocess.run([sys.executable, "-m", *prog, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "usage:" in out.stdout


TUI = Path(codex_console.tui.__file__).parent


FACADE = ("codex_console.backends.cluster", "codex_console.backends.connect")  # what builds and holds the cluster


def tui_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module or module.name) of every import in a TUI file, relative ones made absolute."""
    package = "codex_console.tui." + ".".join(path.relative_to(TUI).parent.parts)
    package = package.rstrip(".")
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found += [(node.lineno, base)] + [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def test_nothing_in_the_tui_but_its_start_up_imports_the_cluster_facade():
    """Readings flow one way: panels are handed readings, they never reach for them. Read from
    the real imports: `from ...backends import cluster` counts, a variable named cluster does not."""
    offenders = []
    for path in sorted(TUI.rglob("*.py")):
        if path.name == "startup.py":
            continue
        for line, name in tui_imports(path):
            if name.startswith(FACADE) or name == "codex_console.backends.sources.Sources":
                offenders.append(f"{path.relative_to(TUI)}:{line} {name}")
    assert offenders == []
    startup = [name for _, name in tui_imports(TUI / "startup.py")]
    assert "codex_console.backends.cluster.Cluster" in startup  # the one place, seen by this reading


def test_every_module_is_short_and_says_what_it_is_for():
    root = Path(codex_console.__file__).parent.parent
    for path in sorted([*root.joinpath("codex_console").rglob("*.py"), *root.joinpath("server").rglob("*.py")]):
        text = path.read_text()
        assert len(text.splitlines()) <= 300, f"{path} has {len(text.splitlines())} lines"
        if path.name != "__init__.py" or text.strip():
            doc = ast.get_docstring(ast.parse(text))
            assert doc, f"{path} has no docstring"


HEAVY = ("torch", "transformers", "fastapi", "uvicorn", "starlette", "orjson", "prometheus_client")


def test_the_console_runs_with_the_server_packages_missing():
    """What a laptop has: the console, the check and the client, with no server packages."""
    code = (f"import sys, importlib.abc\n"
            f"class NoServer(importlib.abc.MetaPathFinder):\n"
            f"    def find_spec(self, name, path=None, target=None):\n"
            f"        if name.split('.')[0] in {HEAVY!r}: raise ImportError('laptop: no ' + name)\n"
            f"sys.meta_path.insert(0, NoServer())\n"
            f"import codex_console.cli, codex_console.subcommands, codex_console.tui.app, codex_console.tui.startup\n"
            f"import codex_console.backends.tunnel_keeper, codex_console.check\n"
            f"sys.exit(codex_console.cli.main(['--version']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("codex-console "), out.stderr


def test_a_plain_install_asks_for_no_server_package():
    """The project's own metadata: the server's packages come only with the `server` extra."""
    from importlib.metadata import requires

    plain = [r for r in requires("codex-console") if "extra ==" not in r]
    assert not [r for r in plain if r.split(">")[0].split("=")[0].split("[")[0].strip().lower().replace("-", "_")
                in HEAVY + ("pydantic", "pydantic_settings")], plain
