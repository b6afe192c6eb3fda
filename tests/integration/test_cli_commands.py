"""The headless commands as scripts call them: real processes, real sandbox, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ..helpers import service_config, write_config


def cli(path, *args: str, home: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"HOME": home} if home else {}), **(env or {})}
    return subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), *args],
                          capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_serve_start_status_logs_stop(sandbox, tmp_path):
    cfg = service_config(sandbox, tmp_path, "cli")
    path = write_config(cfg, tmp_path / "config.toml")

    rendered = cli(path, "serve", "render", "--template", "embed")
    assert rendered.returncode == 0 and '"template":"embed"' in rendered.stdout  # no Neo4j in it
    assert '"kind":"neo4j"' not in rendered.stdout and '"kind":"embed"' in rendered.stdout
    assert subprocess.run(["bash", "-n"], input=rendered.stdout, text=True).returncode == 0

    first = json.loads(cli(path, "serve", "start", "--json").stdout)
    assert first["job_id"] and f"services on {cfg.slurm.partitions[0]}" in first["message"]
    assert any(c.startswith("flock -w 30 ") and "sbatch --parsable --comment=codex-submit:" in c
               for c in first["commands"])
    again = cli(path, "serve", "start", "--json")
    assert again.returncode == 1 and f"job {first['job_id']}" in again.stderr and "exists already" in again.stderr

    deadline = time.monotonic() + 90
    while True:
        status = cli(path, "serve", "status", "--json")
        if status.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status.returncode == 0, status.stdout
    assert json.loads(status.stdout)["job"]["job_id"] == first["job_id"]
    logs = cli(path, "logs", "-n", "50")
    assert logs.returncode == 0 and "embed0 is ready" in logs.stdout

    refused = cli(path, "serve", "stop")  # no terminal, no --yes: refuses
    assert refused.returncode == 1 and "--yes" in refused.stderr
    stopped = json.loads(cli(path, "serve", "stop", "--yes", "--json").stdout)
    assert stopped["commands"] == [f"scancel --name={cfg.slurm.job_name} --user=root"] and first["job_id"] in stopped["message"]
    tunnels = json.loads(cli(path, "tunnel", "status", "--json").stdout)
    assert [t["name"] for t in tunnels] == ["embed", "bolt"] and not any(t["up"] for t in tunnels)


def test_config_show_says_where_each_value_came_from_and_hides_secrets(sandbox, tmp_path):
    base = [sys.executable, "-m", "codex_console.cli", "--config", str(sandbox.config_file)]
    out = subprocess.run([*base, "--set", "poll.gpu=9", "--set", "services.neo4j_password=hunter2",
                          "config", "show", "--json"],
                         capture_output=True, text=True, env={**os.environ, "CODEX_CONSOLE_SLURM_MEM": "8G"})
    rows = {r["key"]: r for r in json.loads(out.stdout)["settings"]}
    assert rows["poll.gpu"] == {"key": "poll.gpu", "value": 9.0, "source": "command line"}
    assert rows["slurm.mem"]["source"] == "$CODEX_CONSOLE_SLURM_MEM"
    assert rows["login.port"]["source"] == str(sandbox.config_file)
    assert "hunter2" not in out.stdout and rows["services.neo4j_password"]["value"] == "********"
    for flags in (["config", "show"], ["config", "show", "--toml"]):
        plain = subprocess.run([*base, "--set", "services.neo4j_password=hunter2", *flags],
                               capture_output=True, text=True)
        assert plain.returncode == 0 and "hunter2" not in plain.stdout
    shown = subprocess.run([*base, "--set", "services.neo4j_password=hunter2", "config", "show", "--show-secrets"],
                           capture_output=True, text=True)
    assert "hunter2" in shown.stdout
    bad = subprocess.run([*base, "--set", "login.hots=x", "config", "show"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown key 'login.hots'" in bad.stderr


@pytest.mark.parametrize("section", ["login", "slurm", "services", "tunnels", "poll", "thresholds", "ui"])
def test_an_out_of_range_value_in_any_section_is_refused_with_its_key(sandbox, tmp_path, section):
    bad = {"login": "connect_timeout = 0", "slurm": "gpus = -1", "services": "stop_timeout = 1",
           "tunnels": "bolt_local_port = 70000", "poll": "tunnels = 0.01",
           "thresholds": 'gpu_temp_crit = "hot"', "ui": 'chart_window = "2y"'}[section]
    path = tmp_path / "config.toml"
    path.write_text(f"[{section}]\n{bad}\n")
    out = cli(path, "config", "show")
    assert out.returncode == 2 and f"{section}.{bad.split()[0]}" in out.stderr


def test_version_on_both_programs():
    console = subprocess.run([sys.executable, "-m", "codex_console.cli", "--version"], capture_output=True, text=True)
    assert console.returncode == 0 and console.stdout.startswith("codex-console ")
    server = subprocess.run([sys.executable, "-m", "server.cli", "--version"], capture_output=True, text=True)
    assert server.returncode == 0 and "codex-embed-server" in server.stdout


def test_install_watchdog_writes_units_that_cannot_wedge(sandbox, tmp_path):
    out = cli(sandbox.config_file, "install-watchdog", home=str(tmp_path))
    assert out.returncode == 0
    unit_dir = tmp_path / ".config" / "systemd" / "user"
    service = (unit_dir / "codex-console-watchdog.service").read_text()
    timer = (unit_dir / "codex-console-watchdog.timer").read_text()
    assert "--check --resubmit --quiet" in service and "TimeoutStartSec=" in service
    assert "OnCalendar=" in timer and "Persistent=true" in timer and "OnUnitActiveSec" not in timer
    assert "*/5 * * * *" in out.stdout and "systemctl --user enable --now" in out.stdout
    assert "linger" in out.stdout  # says what happens at logout (no loginctl here: it cannot tell)
