"""The hand-over to a successor before the time limit, both jobs on one fake clock and one fake
Slurm: its phases as the old job reports them, Neo4j moved once, a successor that dies, a limit
within the lead, the end-of-time signal while a successor starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_console.backends.endpoints import endpoints_from, parse_env_file
from codex_console.protocol import state_file

from .node_fakes import Behaviour, Harness, spec

pytestmark = pytest.mark.timeout(20)


def endpoints(h: Harness):
    path = h.supervisor.endpoints_file
    return endpoints_from(parse_env_file(open(path).read()), path)


async def handing_over(tmp_path: Path, limit: float = 3600, lead: int = 600) -> Harness:
    old = Harness(spec(tmp_path, rollover_lead=lead, stop_timeout=20))
    old.slurm.limit = limit
    old.slurm.reasons["501"] = "Resources"  # the successor, once submitted, waits for a while
    await old.start()
    await old.clock.advance(limit - lead + 1)
    return old


async def successor_of(old: Harness, tmp_path: Path) -> Harness:
    new_id = old.supervisor.handover.successor
    old.slurm.states[new_id] = "R"
    new = Harness(spec(tmp_path, rollover_lead=600, stop_timeout=20), job_id=new_id, clock=old.clock,
                  slurm=old.slurm, predecessor="100")
    await new.start()
    return new


async def test_the_old_job_says_how_far_its_successor_got(tmp_path):
    old = await handing_over(tmp_path)
    successor = old.supervisor.handover.successor
    assert successor == "501" and "hand-over: successor 501 submitted, 600s before the limit" in old.log()
    assert endpoints(old).get("HANDOVER") == "pending: successor 501 waits (Resources)"
    old.slurm.states[successor] = "R"
    await old.clock.advance(11)
    assert endpoints(old).get("HANDOVER") == "starting: successor 501 on node-b"
    await old.stop()


async def test_neo4j_moves_once_and_the_old_job_ends_by_itself(tmp_path):
    old = await handing_over(tmp_path)
    new = await successor_of(old, tmp_path)
    both = []
    for _ in range(100):
        await old.clock.advance(0.1)
        ep = endpoints(old)
        if ep.job_id == "100" and len(ep.embed_urls) == 2:
            both.append(ep.embed_urls)
    assert both and both[0] == ("http://node-a:18765", "http://node-a:18773")  # the next block of ports
    ep = endpoints(new)
    assert ep.job_id == "501" and ep.get("PREDECESSOR") == "100" and not ep.stale and ep.neo4j_uri
    # One Neo4j at a time: the successor's starts after the old one exited.
    [old_neo4j], [new_neo4j] = old.launcher.of("neo4j"), new.launcher.of("neo4j")
    old_exit = next(t for t, what, who, _ in old.launcher.log if what == "exit" and who == "neo4j")
    assert old_neo4j.returncode == -15 and new_neo4j.started >= old_exit
    moved = new.supervisor.handover.moved
    assert moved["start"] >= moved["launch"] and "Neo4j started in" in ep.get("NEO4J_MOVED")
    assert abs(moved["let_go"] + moved["stop"] + moved["seen"] + moved["launch"] - moved["start"]) <= 0.25
    await old.clock.advance(10)  # DRAIN + 3 s later the old replicas stop and the job ends
    assert old.task.done() and old.task.result() == 0
    assert all(p.returncode is not None for p in old.launcher.procs)
    assert not (tmp_path / "services.env.job-100.json").exists()
    await new.stop()


async def test_a_successor_that_dies_before_taking_over_gives_neo4j_back(tmp_path):
    old = await handing_over(tmp_path)
    new = await successor_of(old, tmp_path)
    new.launcher.behaviours["neo4j"] = Behaviour(ready_after=None)  # never answers: it cannot take over
    await old.clock.advance(3)
    assert endpoints(old).get("HANDOVER") == "neo4j-moving"
    await new.stop()
    old.slurm.states[new.supervisor.job_id] = "CA"
    await old.clock.advance(25)  # gone, twice in a row
    ep = endpoints(old)
    assert "successor 501 ended (CA) before taking over" in ep.get("EVENTS")
    assert ep.get("HANDOVER").startswith("failed: the successor ended (CA)") and ep.neo4j_uri and not ep.stale
    assert len(old.launcher.live("neo4j")) == 1
    assert not (tmp_path / f"services.env.job-{new.supervisor.job_id}.json").exists()
    await old.clock.advance(60)
    assert [c for c in old.slurm.calls if c[0] == "submit"] == [("submit", "100")] * 2  # tried again
    await old.stop()


async def test_a_limit_within_the_lead_never_hands_over(tmp_path):
    h = Harness(spec(tmp_path, rollover_lead=300))
    h.slurm.limit = 180
    await h.start()
    await h.clock.advance(170)
    assert "no hand-over: the time limit (180s) is within rollover_lead (300s)" in endpoints(h).get("EVENTS")
    assert h.slurm.calls == []
    await h.stop()


async def test_the_end_of_time_with_a_running_successor_hands_neo4j_over(tmp_path):
    old = await handing_over(tmp_path)
    old.slurm.states[old.supervisor.handover.successor] = "R"
    old.supervisor.handover.partner_urls = {"embed": ["http://node-b:18765"]}  # its replicas serve
    old.slurm.states.pop("100")  # and one squeue fails: asked again, not taken for "gone"
    old.slurm.flaky = 1
    old.supervisor.signal("XCPU")
    await old.clock.advance(30)
    assert "time limit: successor 501 takes over" in endpoints(old).reason
    assert endpoints(old).embed_urls == ("http://node-b:18765",)  # the tools keep the successor's
    assert (tmp_path / "services.env.job-100.json").exists()
    assert '"neo4j": "released"' in (tmp_path / "services.env.job-100.json").read_text()
    assert ("requeue", "100") not in old.slurm.calls and old.task.result() == 0


async def test_a_successor_whose_predecessor_ended_takes_over_as_it_stands(tmp_path):
    old = await handing_over(tmp_path)
    successor = old.supervisor.handover.successor
    await old.stop()
    old.slurm.states["100"] = "CD"
    new = await successor_of(old, tmp_path)
    await new.clock.advance(8)
    ep = endpoints(new)
    assert ep.job_id == successor and ep.neo4j_uri and not ep.stale
    assert "job 100 ended (CD) before the hand-over finished" in ep.get("EVENTS")
    assert state_file(str(tmp_path / "services.env"), successor).endswith(f"job-{successor}.json")
    await new.stop()
