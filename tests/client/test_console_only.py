"""A console-only install (no torch, no numpy, no server extras) embeds through the client."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import codex_console

from .conftest import KEY

ROOT = os.path.dirname(os.path.dirname(codex_console.__file__))
# Run in a fresh interpreter where the server's packages cannot be imported, as after
# `pip install codex-console` without the [server] extra.
SCRIPT = """
import importlib.abc, json, sys
ABSENT = {"torch", "numpy", "transformers", "fastapi", "uvicorn", "server", "orjson", "pydantic"}
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NotInstalled())
from codex_console.client import EmbedClient, graph_driver
with EmbedClient.from_environment() as client:
    rows = client.embed(["a tokamak", "a stellarator"])
print(json.dumps({"type": type(rows).__name__, "rows": rows,
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ABSENT)}))
"""


def test_the_client_needs_no_torch_and_returns_lists_without_numpy(replicas, key_file, home):
    env = {**os.environ, "PYTHONPATH": ROOT, "CODEX_CONSOLE_CONFIG": os.devnull, "CODEX_CONSOLE_LOGIN_LOCAL": "1",
           "IMAS_CODEX_EMBED_REMOTE_URL": replicas[0].url, "CODEX_EMBED_KEY_FILE": str(key_file)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["type"] == "list" and len(data["rows"]) == 2 and len(data["rows"][0]) == 384
    assert data["loaded"] == []
    assert KEY not in out.stdout
