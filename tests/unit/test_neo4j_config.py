"""The [neo4j] section: dumps (dir, schedule, retention, neo4j-admin prefix) and the query benchmark."""

from __future__ import annotations

import pytest

from codex_console import config


def test_defaults_match_the_neo4j_image_of_the_services_section():
    cfg = config.load(None, environ={}, search=False)
    n = cfg.neo4j
    assert (n.dump_dir, n.dump_every, n.dump_keep, n.bench_runs) == ("~/neo4j/dumps", "24h", 7, 20)
    # neo4j-admin runs from the same image, with the same data bind, as `neo4j console`
    image_and_bind = cfg.services.neo4j_command.rsplit(" neo4j console", 1)[0]
    assert n.admin_command == image_and_bind + " neo4j-admin"
    assert [q.split(":")[0] for q in n.bench_queries] == ["point", "2-hop", "aggregate"]


def test_the_section_loads_from_a_file_and_shows_with_its_sources(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[neo4j]\ndump_every = "0"\ndump_keep = 3\n'
                    'bench_queries = ["count: MATCH (n) RETURN count(n)", "MATCH (n)\\nRETURN n LIMIT 1"]\n')
    cfg = config.load(str(path), {"neo4j.bench_runs": "5"}, environ={"CODEX_CONSOLE_NEO4J_DUMP_DIR": "/scratch/d"})
    assert (cfg.neo4j.dump_every, cfg.neo4j.dump_keep, cfg.neo4j.bench_runs) == ("0", 3, 5)
    assert cfg.neo4j.dump_dir == "/scratch/d" and len(cfg.neo4j.bench_queries) == 2
    sources = {k: s for k, _, s in cfg.items()}
    assert sources["neo4j.dump_keep"] == str(path) and sources["neo4j.bench_runs"] == "command line"
    assert "[neo4j]" in config.to_toml(cfg) and 'dump_keep = 3' in config.to_toml(cfg)


@pytest.mark.parametrize("key,value,message", [
    ("neo4j.dump_every", "daily", "neo4j.dump_every = 'daily': not allowed"),
    ("neo4j.dump_keep", "0", "neo4j.dump_keep = 0: out of range"),
    ("neo4j.bench_runs", "many", "neo4j.bench_runs = 'many': expected an integer"),
    ("neo4j.bench_queries", " ", "neo4j.bench_queries: at least one query"),
    ("neo4j.dump_dir", "dumps; rm -rf ~", "neo4j.dump_dir"),
    ("neo4j.heap", "4 GB", "neo4j.heap = '4 GB': not allowed"), ("neo4j.colour", "blue", "unknown key 'neo4j.colour'"),
])
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises(config.ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        config.load(None, {key: value}, environ={}, search=False)
