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
