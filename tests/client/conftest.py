"""Fixtures for the client tests: a home of the test's own, the console config, live replicas."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from codex_console import config
from codex_console.config import Config

from ..helpers import LiveServer, live, minilm_path

KEY = "team-key-1"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own: `~/.codex-services.env` and `~/.codex-embed.key` are its files."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def cfg(home: Path) -> Config:
    """Built-in defaults, on the login node (no tunnels), reading the test's home."""
    cfg = config.load(search=False, environ={})
    cfg.login.local = True
    return cfg


@pytest.fixture(scope="session")
def replicas() -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two real embed servers (MiniLM on CPU) that want the same API key."""
    with live(minilm_path(), dimension=None, api_key=KEY) as one, live(minilm_path(), dimension=None, api_key=KEY) as two:
        yield one, two


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "embed.key"
    path.write_text(KEY + "\n")
    path.chmod(0o600)
    return path
