"""The catalogue of services in config: tables added to and replacing the defaults, errors that
name the service and the key, GPUs that must fit the job, ports that must not collide, and a
rollover lead that cannot work refused naming both keys."""

from __future__ import annotations

import pytest

from codex_console import config, deploy
from codex_console.catalogue import Kind, resolve
from codex_console.job_spec import JobSpec
from codex_console.node.neo4j_store import filesystem, locking_warning, size_memory
from codex_console.node.placement import place


def load(tmp_path, text: str, **overrides: str) -> config.Config:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return config.load(str(path), overrides, environ={})


VLLM = """
[slurm]
gpus = 4

[[service]]
name = "embed-8b"
kind = "embed"
model = "~/models/Qwen3-Embedding-8B"
gpus = 2
port = 18900

[[service]]
name = "llm"
kind = "http"
command = "vllm serve ~/models/Qwen3-8B --host {host} --port {port} --tensor-parallel-size 1"
port = 18800
health = "/health"
ready_timeout = 1800
env = { HF_HUB_OFFLINE = "1" }
"""


def test_tables_add_services_and_embed_takes_the_gpus_they_leave(tmp_path):
    cfg = load(tmp_path, VLLM)
    specs = resolve(cfg.services, cfg.slurm, cfg.catalogue)
    assert [(s.name, s.kind) for s in specs] == [("embed", Kind.EMBED), ("neo4j", Kind.NEO4J),
                                                 ("embed-8b", Kind.EMBED), ("llm", Kind.HTTP)]
    slots = place(specs, ["0", "1", "2", "3"])
    gpus = {f"{s.spec.name}{s.index}": s.gpus for s in slots}
    assert gpus == {"embed0": ("3",), "neo4j0": (), "embed-8b0": ("0", "1"), "llm0": ("2",)}
    assert dict(specs[3].env) == {"HF_HUB_OFFLINE": "1"} and specs[3].ready_timeout == 1800
    # The job reads the same catalogue back from its script.
    script = deploy.render(cfg)
    line = next(li for li in script.splitlines() if li.startswith("export CODEX_JOB_SPEC="))
    import shlex
    spec = JobSpec.from_json(shlex.split(line.split("=", 1)[1])[0])
    assert spec.services == specs
    assert "[[service]]" in config.to_toml(cfg) and config.load(str(_again(tmp_path, cfg)), environ={}).catalogue


def _again(tmp_path, cfg):
    path = tmp_path / "again.toml"
    path.write_text(config.to_toml(cfg))
    return path


def test_a_table_with_an_existing_name_replaces_that_service(tmp_path):
    cfg = load(tmp_path, '[[service]]\nname = "embed"\nmodel = "/m/other"\ninstances = 2\ngpus = 0\n')
    [embed] = [s for s in resolve(cfg.services, cfg.slurm, cfg.catalogue) if s.name == "embed"]
    assert (embed.model, embed.instances, embed.gpus, embed.port) == ("/m/other", 2, 0, 18765)


@pytest.mark.parametrize("table,message", [
    ('name = "LLM"\nport = 1', "name = 'LLM'"),
    ('name = "llm"\nport = 1\ncolour = "red"', "'llm': unknown key 'colour'"),
    ('name = "llm"\nport = 1\ngpus = -1', "'llm': gpus = -1: a whole number from 0 to 16"),
    ('name = "llm"\nport = 1\nkind = "grpc"', "kind = 'grpc'"),
    ('name = "llm"\nport = 1\nkind = "http"\ncommand = "serve --port {prt}"', "{prt}"),
    ('name = "llm"\nkind = "http"\ncommand = "x"', "service 'llm' needs a port"),
    ('name = "llm"\nkind = "http"\nport = 18770\ncommand = "x"', "'embed' and 'llm' both use port 18770"),
    ('name = "g"\nkind = "neo4j"\nport = 7000', "only one service of kind neo4j"),
])
def test_a_bad_table_names_the_service_and_the_key(tmp_path, table, message):
    with pytest.raises(config.ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load(tmp_path, "[[service]]\n" + table)


def test_render_and_start_refuse_services_that_need_more_gpus_than_the_job_asks_for(tmp_path):
    cfg = load(tmp_path, VLLM, **{"slurm.gpus": "2"})
    with pytest.raises(config.ConfigError, match=r"need 4 GPU\(s\) per node \(embed-8b 1x2, llm 1x1, "
                                                 r"embed 1x1 \(one per GPU left\)\) but slurm.gpus = 2"):
        deploy.render(cfg)
    assert "neo4j" in deploy.render(cfg, "neo4j")  # Neo4j alone needs no GPU


def test_a_rollover_lead_that_cannot_work_is_refused_naming_both_keys():
    with pytest.raises(config.ConfigError, match=r"services.rollover_lead = '90' cannot work with "
                                                 r"services.stop_timeout = 110.*at least 180s"):
        config.load(None, {"services.rollover_lead": "90"}, environ={}, search=False)
    assert config.load(None, {"services.rollover_lead": "180"}, environ={}, search=False)
    assert config.load(None, {"services.rollover_lead": "0"}, environ={}, search=False)


def test_neo4j_memory_is_sized_from_the_job_and_settings_win():
    auto = size_memory(64 * 1024)
    assert auto.heap == "25395m" and auto.pagecache == "38093m" and "65536 MB" in auto.source
    small = size_memory(4096)
    assert small.heap == "1228m" and small.pagecache == "1844m"  # 1 GB left to the system
    assert size_memory(512 * 1024).heap == "31744m"  # never past 31 GB: compressed pointers
    assert size_memory(64 * 1024, "8g", "40g").heap == "8g" and size_memory(64 * 1024, "8g", "40g").source == "set"
    env = auto.env()
    assert env["NEO4J_server_memory_heap_initial__size"] == env["NEO4J_server_memory_heap_max__size"] == "25395m"


def test_a_store_on_nfs_is_warned_about(tmp_path, monkeypatch):
    assert locking_warning(str(tmp_path / "store_lock")) == ""  # a local disk
    mounts = tmp_path / "mounts"
    mounts.write_text(f"server:/home {tmp_path} nfs4 rw 0 0\n/dev/vda / ext4 rw 0 0\n")
    real = __import__("pathlib").Path.read_text
    monkeypatch.setattr("pathlib.Path.read_text",
                        lambda self, *a, **k: mounts.read_text() if str(self) == "/proc/mounts" else real(self, *a, **k))
    assert filesystem(str(tmp_path / "neo4j" / "data")) == "nfs4"
    assert "nfs4, whose file locks Neo4j cannot trust" in locking_warning(str(tmp_path / "databases" / "store_lock"))
