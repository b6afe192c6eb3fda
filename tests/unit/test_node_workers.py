"""A job of two nodes on one fake clock: the first node lists the other's instances while that
node's supervisor lives, restarts go one node at a time, and the end reaches every node."""

from __future__ import annotations

import pytest

from codex_console.catalogue import Kind, ServiceSpec
from codex_console.node.supervisor import Where
from codex_console.node.workers import NodeSupervisor, Workers

from .node_fakes import Behaviour, Harness, spec

pytestmark = pytest.mark.timeout(20)
EMBED = ServiceSpec("embed", Kind.EMBED, "codex-embed-server", 18765, model="/m")
NEO4J = ServiceSpec("neo4j", Kind.NEO4J, "neo4j console", 7687, health="")


async def two_nodes(tmp_path):
    first = Harness(spec(tmp_path, NEO4J, EMBED), nodes=("node-a", "node-b"))
    first.supervisor.workers = Workers(first.supervisor)
    second = Harness(spec(tmp_path, NEO4J, EMBED), clock=first.clock, slurm=first.slurm)
    second.supervisor = NodeSupervisor(second.supervisor.spec, Where(job_id="100", node="node-b",
                                       nodes=("node-a", "node-b"), node_index=1), second.parts)
    for h in (first, second):
        h.launcher.behaviours["embed"] = Behaviour(ready_after=3)
    await first.start()
    await second.start()
    await first.clock.advance(5)
    return first, second


def urls(h: Harness) -> list[str]:
    return [u for u in h.supervisor.ready_urls().get("embed", [])]


async def test_the_first_node_lists_the_other_while_it_lives_and_restarts_one_node_at_a_time(tmp_path):
    first, second = await two_nodes(tmp_path)
    assert urls(first) == ["http://node-a:18765", "http://node-b:18765"]  # embed0 here, embed1 there
    assert [i.name for i in second.supervisor.instances] == ["embed1"]  # and no Neo4j on node-b
    first.supervisor.signal("USR1")
    seen = []
    for _ in range(200):
        await first.clock.advance(0.1)
        seen.append(len(urls(first)))
    a, b = first.launcher.of("embed"), second.launcher.of("embed")
    assert len(a) == 2 and len(b) == 2
    assert b[1].started >= a[1].started + 3  # node-b's only once node-a's was back
    assert min(seen) == 1  # one of the two served all the time
    # A node whose supervisor died says nothing any more: its instances leave the list.
    await second.stop()
    await first.clock.advance(40)
    assert urls(first) == ["http://node-a:18765"]
    await first.stop()


async def test_the_end_reaches_every_node_and_each_stops_its_own(tmp_path):
    first, second = await two_nodes(tmp_path)
    first.supervisor.signal("TERM")
    await first.clock.advance(5)
    assert second.task.done() and second.task.result() == 0
    assert all(p.returncode == -15 for p in second.launcher.procs)  # stopped, not killed
    assert not (tmp_path / "services.env.job-100.node-node-b.json").exists()
    [srun] = [p for p in first.launcher.procs if p.name not in ("embed", "neo4j")]
    srun.finish(0)  # its tasks ended: srun ends, and so does the first node's supervisor
    await first.clock.advance(1)
    assert first.task.done() and first.task.result() == 0 and not srun.signals  # never TERMed
