"""Config: defaults < file < env < CLI, unknown keys named, every value's source known."""

from __future__ import annotations

import pytest

from codex_console import config


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_layers_and_sources(tmp_path):
    path = write(tmp_path, '[login]\nhost = "login1"\nport = 2200\n[slurm]\npartitions = ["a", "b"]\n')
    cfg = config.load(path, {"login.port": "2300"}, environ={"CODEX_CONSOLE_LOGIN_USER": "bob",
                                                             "CODEX_CONSOLE_POLL_GPU": "1.5"})
    assert (cfg.login.host, cfg.login.port, cfg.login.user) == ("login1", 2300, "bob")
    assert cfg.slurm.partitions == ["a", "b"] and cfg.poll.gpu == 1.5
    sources = {k: s for k, _, s in cfg.items()}
    assert sources["login.host"] == path and sources["login.port"] == "command line"
    assert sources["login.user"] == "$CODEX_CONSOLE_LOGIN_USER" and sources["slurm.gpus"] == "default"


@pytest.mark.parametrize("text,message", [
    ('[login]\nhots = "x"\n', "unknown key 'login.hots'"),
    ('[logon]\nhost = "x"\n', "unknown section [logon]"),
    ('[login]\nport = "twenty"\n', "login.port"),
    ('[login]\nlocal = "maybe"\n', "expected true or false"),
    ('host = "x"\n', "settings live in sections"),
    ('[login\n', "config.toml"),
])
def test_bad_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(config.ConfigError, match=message.replace("[", r"\[")):
        config.load(write(tmp_path, text), environ={})


def test_bad_env_names_the_variable():
    with pytest.raises(config.ConfigError, match="CODEX_CONSOLE_LOGIN_PROT"):
        config.load(None, search=False, environ={"CODEX_CONSOLE_LOGIN_PROT": "22"})


def test_list_from_env_is_comma_separated():
    cfg = config.load(None, search=False, environ={"CODEX_CONSOLE_SLURM_PARTITIONS": "titan, sun"})
    assert cfg.slurm.partitions == ["titan", "sun"]


@pytest.mark.parametrize("key,value,message", [
    ("poll.gpu", "0", "poll.gpu = 0.0: out of range"), ("poll.slurm", "-5", "out of range"),
    ("services.restart_limit", "-1", "services.restart_limit"), ("login.port", "99999", "login.port"),
    ("thresholds.check_timeout", "nan", "not a finite number"), ("tunnels.embed_local_port", "0", "out of range"),
    ("login.transport", "telnet", "one of asyncssh, openssh"), ("thresholds.embed_latency_warn", "fast", "expected"),
    ("services.requeue_window", "forever", "services.requeue_window"),
    ("services.embed_dimension", "9" * 5000, "sane size"), ("slurm.gpus", "1.5", "expected an integer"),
])
def test_values_out_of_range_are_refused_naming_the_key(key, value, message):
    with pytest.raises(config.ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        config.load(None, {key: value}, environ={}, search=False)


def test_out_of_range_in_a_file_names_the_file_and_key(tmp_path):
    with pytest.raises(config.ConfigError, match=r"config\.toml: poll\.embed = -1\.0: out of range"):
        config.load(write(tmp_path, "[poll]\nembed = -1\n"), environ={})


def test_secrets_are_hidden_unless_asked():
    cfg = config.load(None, {"services.neo4j_password": "hunter2"}, environ={}, search=False)
    shown = {k: v for k, v, _ in cfg.items()}
    assert shown["services.neo4j_password"] == config.HIDDEN
    assert "hunter2" not in config.to_toml(cfg, show_secrets=False)
    assert {k: v for k, v, _ in cfg.items(show_secrets=True)}["services.neo4j_password"] == "hunter2"


def test_thresholds_take_the_range_syntax_and_bare_numbers(tmp_path):
    cfg = config.load(write(tmp_path, "[thresholds]\nembed_latency_warn = 400\nneo4j_latency_crit = \"@0:1\"\n"),
                      environ={})
    assert cfg.thresholds.embed_latency_warn == "400" and cfg.thresholds.neo4j_latency_crit == "@0:1"
