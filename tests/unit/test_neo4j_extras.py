"""What the probe reads from a real Neo4j (5.x: SHOW SETTINGS; 4.x: dbms.listConfig; APOC's store
size), on a scripted Bolt session: no Neo4j server can be installed here, so this pins the queries'
answers as Neo4j documents them. FalkorDB's side runs for real in the sandbox tests."""

from __future__ import annotations

import asyncio

import neo4j
import pytest

from codex_console.backends.neo4j_extras import counts, server_facts


class Result:
    def __init__(self, records: list[dict]) -> None:
        self.records = records

    async def single(self):
        return list(self.records[0].values()) if self.records else None

    def __aiter__(self):
        async def gen():
            for r in self.records:
                yield r
        return gen()


class ScriptedDriver:
    """Answers each query from a table: a list of records, or an exception to raise."""

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def session(self, database=None):
        driver = self

        class Session:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            async def run(self, query, params=None):
                driver.asked.append(query.split()[0] + " " + query.split()[1])
                answer = next((a for key, a in driver.answers.items() if query.startswith(key)), None)
                if isinstance(answer, Exception):
                    raise answer
                if answer == "hang":
                    await asyncio.sleep(3600)
                return Result(answer or [])
        return Session()


UNKNOWN = neo4j.exceptions.ClientError("There is no procedure with the name `x` registered")
NEO4J_5 = {"CALL dbms.components": [{"v": "5.26.0 community"}],
           "SHOW DATABASES": [{"name": "neo4j"}, {"name": "system"}],
           "SHOW SETTINGS": [{"name": "server.memory.heap.max_size", "value": "31g"},
                             {"name": "server.memory.pagecache.size", "value": ""}],
           "CALL apoc.monitor.store": [{"totalStoreSize": 18_200_000_000}]}


async def test_neo4j_5_reports_heap_page_cache_and_store_size():
    facts = await server_facts(ScriptedDriver(NEO4J_5), budget=1)  # type: ignore[arg-type]
    assert (facts.version, facts.databases) == ("5.26.0 community", ("neo4j", "system"))
    assert (facts.heap, facts.pagecache, facts.store_bytes) == ("31g", "auto", 18_200_000_000)


async def test_neo4j_4_falls_back_to_list_config_and_apoc_may_be_missing():
    answers = {**NEO4J_5, "SHOW SETTINGS": neo4j.exceptions.ClientError("Invalid input 'SETTINGS'"),
               "CALL dbms.listConfig": [{"name": "dbms.memory.heap.max_size", "value": "8g"},
                                        {"name": "dbms.memory.pagecache.size", "value": "12g"}],
               "CALL apoc.monitor.store": UNKNOWN}
    facts = await server_facts(ScriptedDriver(answers), budget=1)  # type: ignore[arg-type]
    assert (facts.heap, facts.pagecache, facts.store_bytes) == ("8g", "12g", None)


@pytest.mark.parametrize("failure", [neo4j.exceptions.DatabaseError("An unknown error occurred"), TimeoutError()])
async def test_a_server_without_dbms_components_is_asked_nothing_more(failure):
    driver = ScriptedDriver({"CALL dbms.components": failure})
    facts = await server_facts(driver, budget=1)  # type: ignore[arg-type]
    assert facts.version == "" and facts.heap == "" and driver.asked == ["CALL dbms.components()"]


async def test_counts_that_fail_are_unknown_not_zero():
    driver = ScriptedDriver({"MATCH (n)": [{"c": 12}], "MATCH ()-[r]->()": UNKNOWN})
    assert await counts(driver, budget=1) == (12, None)  # type: ignore[arg-type]


async def test_a_server_that_hangs_on_an_extra_leaves_it_unknown_within_the_budget():
    facts = await server_facts(ScriptedDriver({**NEO4J_5, "SHOW SETTINGS": "hang"}), budget=0.2)  # type: ignore[arg-type]
    assert facts.version == "5.26.0 community" and (facts.heap, facts.store_bytes) == ("", None)
