"""The headless commands as scripts call them: real processes, real sandbox, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from codex_console import config

from .conftest import service_config


def cli(path, *args: str, home: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"HOME": home} if home else {})}
    return subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), *args],
                          capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_serve_start_status_logs_stop(sandbox, tmp_path):
    cfg = service_config(sandbox, tmp_path, "cli")
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml(cfg))

    rendered = cli(path, "serve", "render", "--template", "embed")
    assert rendered.returncode == 0 and "RUN_NEO4J=0" in rendered.stdout
    assert subprocess.run(["bash", "-n"], input=rendered.stdout, text=True).returncode == 0

    first = json.loads(cli(path, "serve", "start", "--json").stdout)
    assert first["submitted"] and first["template"] == "services"
    again = json.loads(cli(path, "serve", "start", "--json").stdout)
    assert again == {"job_id": first["job_id"], "submitted": False, "state": again["state"]}

    deadline = time.monotonic() + 90
    while True:
        status = cli(path, "serve", "status", "--json")
        if status.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status.returncode == 0, status.stdout
    assert json.loads(status.stdout)["job"]["job_id"] == first["job_id"]
    logs = cli(path, "logs", "-n", "50")
    assert logs.returncode == 0 and "endpoints written" in logs.stdout

    refused = cli(path, "serve", "stop")  # no terminal, no --yes: refuses
    assert refused.returncode == 1 and "--yes" in refused.stderr
    stopped = json.loads(cli(path, "serve", "stop", "--yes", "--json").stdout)
    assert stopped == {"cancelled": [first["job_id"]]}
    tunnels = json.loads(cli(path, "tunnel", "status", "--json").stdout)
    assert [t["name"] for t in tunnels] == ["embed", "bolt"] and not any(t["up"] for t in tunnels)


def test_config_show_says_where_each_value_came_from(sandbox, tmp_path):
    out = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(sandbox.config_file),
                          "--set", "poll.gpu=9", "config", "show", "--json"],
                         capture_output=True, text=True, env={**os.environ, "CODEX_CONSOLE_SLURM_MEM": "8G"})
    rows = {r["key"]: r for r in json.loads(out.stdout)["settings"]}
    assert rows["poll.gpu"] == {"key": "poll.gpu", "value": 9.0, "source": "command line"}
    assert rows["slurm.mem"]["source"] == "$CODEX_CONSOLE_SLURM_MEM"
    assert rows["login.port"]["source"] == str(sandbox.config_file)
    bad = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(sandbox.config_file),
                          "--set", "login.hots=x", "config", "show"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown key 'login.hots'" in bad.stderr


def test_install_watchdog_writes_units_and_prints_cron(sandbox, tmp_path):
    out = cli(sandbox.config_file, "install-watchdog", home=str(tmp_path))
    assert out.returncode == 0
    unit_dir = tmp_path / ".config" / "systemd" / "user"
    service = (unit_dir / "codex-console-watchdog.service").read_text()
    assert "--check --resubmit --quiet" in service and "OnUnitActiveSec=5min" in (
        unit_dir / "codex-console-watchdog.timer").read_text()
    assert "*/5 * * * *" in out.stdout and "systemctl --user enable --now" in out.stdout
