"""Rendering the sbatch script: valid bash, strict header values, the spec as one word, partition fallback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codex_console import config, deploy
from codex_console.job_spec import JobSpec
from codex_console.models import Partition
from codex_console.node.files import expand
from codex_console.node.instance import command_argv


def cfg(**overrides: str) -> config.Config:
    return config.load(None, overrides, environ={}, search=False)


@pytest.mark.parametrize("template", deploy.TEMPLATES)
def test_every_template_renders_to_valid_bash(template, tmp_path):
    script = deploy.render(cfg(), template, home="/home/alice")
    path = tmp_path / f"{template}.sbatch"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    header = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    for flag in ("--job-name=codex-services", "--time=7-00:00:00", "--requeue", "--dependency=singleton",
                 "--signal=B:XCPU@120", "--output=/home/alice/.local/share/codex-console/services/%x-%j.log"):
        assert f"#SBATCH {flag}" in header
    assert ("#SBATCH --gres=gpu:1" in header) == (template != "neo4j")
    assert "{{" not in script


def test_nodelist_is_optional():
    assert "--nodelist" not in deploy.render(cfg())
    assert "#SBATCH --nodelist=98dci4-gpu-0002" in deploy.render(cfg(**{"slurm.nodelist": "98dci4-gpu-0002"}))


@pytest.mark.parametrize("key,value", [
    ("slurm.partitions", "titan; rm -rf ~"), ("slurm.job_name", "x\n#SBATCH --uid=0"),
    ("slurm.mem", "64G --wrap=evil"), ("slurm.time_limit", "7-00:00:00 --x"),
    ("slurm.nodelist", "n1 $(reboot)"), ("services.log_dir", "/tmp/x y"),
])
def test_hostile_header_values_are_rejected(key, value):
    with pytest.raises(config.ConfigError, match=key.split(".")[1].rstrip("s")):
        deploy.render(cfg(**{key: value}))


def spec_of(script: str, tmp_path) -> JobSpec:
    """The spec as the job's shell exports it (the script's own line, run by bash)."""
    line = next(line for line in script.splitlines() if line.startswith("export CODEX_JOB_SPEC="))
    probe = tmp_path / "probe.sh"
    probe.write_text(f"HOME={tmp_path}\n{line}\nprintf '%s' \"$CODEX_JOB_SPEC\"\n")
    out = subprocess.run(["bash", str(probe)], capture_output=True, text=True, check=True)
    return JobSpec.from_json(out.stdout)


def test_hostile_values_reach_the_job_as_one_word(tmp_path):
    hostile = "/models/x; touch $HOME/pwned"
    script = deploy.render(cfg(**{"services.model": hostile, "services.embed_command": "printf '%s|'"}), home="/h")
    spec = spec_of(script, tmp_path)
    assert spec.service("embed").model == hostile and not (tmp_path / "pwned").exists()
    # The job passes it to the embed server as one argument, never through a shell.
    argv = command_argv(spec.service("embed"), 18765, "node", (), "")
    out = subprocess.run(argv, capture_output=True, text=True, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert f"--model|{hostile}|" in out.stdout and not (tmp_path / "pwned").exists()


def test_home_paths_expand_on_the_node(tmp_path, monkeypatch):
    script = deploy.render(cfg(**{"services.endpoints_file": "~/.codex-services.env",
                                  "services.python": "~/codex/.venv/bin/python"}))
    assert script.rstrip().endswith('exec "$HOME"/codex/.venv/bin/python -m codex_console.node')
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand(spec_of(script, tmp_path).endpoints_file) == f"{tmp_path}/.codex-services.env"


def test_the_script_is_a_launcher_and_all_bash_is_short():
    script = deploy.render(cfg())
    body = [line for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert body == [body[0], body[1]] and body[0].startswith("export CODEX_JOB_SPEC=") and "exec" in body[1]
    folder = Path(deploy.__file__).parent.parent / "slurm_templates"
    bash = [p for p in folder.iterdir() if p.suffix in (".sh", ".sbatch")]
    assert sum(len(p.read_text().splitlines()) for p in bash) <= 80


def test_several_nodes_ask_for_one_task_each_and_neo4j_alone_for_one():
    script = deploy.render(cfg(**{"slurm.nodes": "2", "slurm.gpus": "2"}))
    assert "#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n#SBATCH --gres=gpu:2" in script
    assert "--nodes" not in deploy.render(cfg(**{"slurm.nodes": "2"}), "neo4j")


def part(name: str, free: int, up: bool = True) -> Partition:
    return Partition(name, up, 1, 1 if free else 0, "gpu:8", free)


def test_placement_prefers_the_gpu_partition():
    assert deploy.placement(cfg(), [part("titan", 2), part("rigel", 0)]) == deploy.Placement("titan", "services")


def test_placement_falls_back_to_neo4j_only_on_the_next_partition():
    place = deploy.placement(cfg(), [part("titan", 0), part("rigel", 0, up=False), part("sun", 0)])
    assert (place.partition, place.template) == ("sun", "neo4j")
    assert "titan has no free GPU" in place.note


def test_placement_queues_on_gpu_partition_when_nothing_else_is_up():
    place = deploy.placement(cfg(), [part("titan", 0)])
    assert place.partition == "titan" and place.template == "services" and "queueing" in place.note


def test_the_signal_lead_is_neo4j_stop_time_plus_a_margin(tmp_path):
    script = deploy.render(cfg(**{"services.stop_timeout": "300", "services.rollover_lead": "0"}))
    assert "#SBATCH --signal=B:XCPU@310" in script and spec_of(script, tmp_path).stop_timeout == 300


def test_guard_and_keygen_are_valid_sh():
    for script in (deploy.GUARD, deploy.WAIT_GONE, deploy.KEYGEN):
        assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0


def test_the_key_file_is_created_once_private_and_never_printed(tmp_path):
    argv = list(deploy.keygen_argv(str(tmp_path / "embed.key"), "0600", ""))
    first = subprocess.run(argv, capture_output=True, text=True)
    key = (tmp_path / "embed.key").read_text()
    assert first.returncode == 0 and first.stdout == "" and len(key) == 64
    assert oct((tmp_path / "embed.key").stat().st_mode & 0o777) == "0o600"
    subprocess.run(argv, check=True)
    assert (tmp_path / "embed.key").read_text() == key


def test_a_failing_squeue_is_never_taken_for_no_job(tmp_path):
    fake = tmp_path / "squeue"
    fake.write_text("#!/bin/sh\necho 'slurm_load_jobs error: Socket timed out' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    guard = subprocess.run(["sh", "-c", deploy.GUARD, "sh", "codex-services", "echo", "SUBMITTED"],
                           capture_output=True, text=True, env=env)
    assert guard.returncode == 4 and "SUBMITTED" not in guard.stdout and "not submitting" in guard.stderr
    wait = subprocess.run(["sh", "-c", deploy.WAIT_GONE, "sh", "codex-services"], capture_output=True, env=env)
    assert wait.returncode == 4
