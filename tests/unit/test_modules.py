"""No dead code ships: every module of codex_console/ and server/ is reached, through real
imports (read with ast), from an entry point (a console script, a module run as a program, a
script or benchmark of the repo) or from the client library the tools import."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("codex_console", "server")
PUBLIC = ("codex_console.client",)  # the library the tools import (README: For tool authors)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path, name: str) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_by(path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that the file at `path` imports (anywhere in it, lazily too)."""
    name = module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = package_of(path, name).split(".")
                anchor = ".".join(package[: len(package) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & known
    return found


def test_every_module_is_reached_from_an_entry_point():
    files = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    known = set(files)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    roots = {target.split(":")[0] for target in scripts.values()} | set(PUBLIC)
    roots |= {name for name, path in files.items()
              if path.name == "__main__.py" or 'if __name__ == "__main__":' in path.read_text()}
    outside = [*ROOT.joinpath("scripts").glob("*.py"), *ROOT.joinpath("benchmarks").glob("*.py")]
    todo = sorted(roots) + [m for path in outside for m in imported_by(path, known)]
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += imported_by(files[name], known)
    packages = {name for name, path in files.items() if path.name == "__init__.py"}
    dead = sorted(known - reached - packages)
    assert dead == [], f"modules nothing reaches: {dead}"


def test_the_reach_is_read_from_real_imports(tmp_path):
    """What the test above relies on: relative, lazy and `from . import x` imports all count."""
    pkg = tmp_path / "codex_console"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from . import b\nfrom ..c import thing\ndef f():\n    import codex_console.d\n")
    known = {"codex_console", "codex_console.sub", "codex_console.sub.b", "codex_console.c", "codex_console.d",
             "codex_console.e"}
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = imported_by(pkg / "sub" / "a.py", known)
    finally:
        ROOT = saved
    assert found == {"codex_console", "codex_console.sub", "codex_console.sub.b", "codex_console.c",
                     "codex_console.d"}


def test_importing_the_console_writes_nothing_to_stderr():
    """A health check's stderr goes to cron's mail: the libraries' import-time warnings (asyncssh
    naming cryptography's deprecated DSA types) must not reach it, whatever versions pip chose."""
    import subprocess
    import sys

    modules = "codex_console.backends.ssh, codex_console.backends.login_auth, codex_console.cli"
    out = subprocess.run([sys.executable, "-c", f"import {modules}"], check=False, capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
