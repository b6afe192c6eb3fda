"""Neo4j dumps and loads inside the job, on a fake clock with fake services and a real
(scripted) neo4j-admin: Neo4j is stopped first and started again whatever happened, the model
servers serve throughout, a dump is refused during a hand-over, the schedule waits for its time,
and the check warns on a dump older than twice the schedule."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from codex_console.backends.endpoints import endpoints_from, parse_env_file, parse_twin
from codex_console.check.job_report import judge_dumps
from codex_console.check.nagios import State
from codex_console.readings import Reading

from .node_fakes import Harness, spec

pytestmark = pytest.mark.timeout(30)

ADMIN = """#!/bin/sh
# A scripted neo4j-admin: database dump|load DB --to-path=D|--from-path=D [--overwrite-destination=true]
action=$2 db=$3 dir=${4#*=}
[ -e "$FAIL" ] && { echo "Failed to $action database '$db': The database is in use." >&2; exit 1; }
if [ "$action" = dump ]; then mkdir -p "$dir" && head -c 1000 /dev/zero >"$dir/$db.dump"
else [ -f "$dir/$db.dump" ] || { echo "Failed to load database '$db': no archive" >&2; exit 1; }; fi
echo "$action of $db done"
"""


@pytest.fixture(autouse=True)
def fail_marker(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIL", str(tmp_path / "fail"))  # neo4j-admin runs in the job's environment


def harness(tmp_path: Path, **values) -> Harness:
    admin = tmp_path / "neo4j-admin"
    admin.write_text(ADMIN)
    admin.chmod(0o755)
    values = {"neo4j_admin_command": str(admin), "neo4j_dump_dir": str(tmp_path / "dumps"), **values}
    return Harness(spec(tmp_path, **values))


def twin(h: Harness) -> dict:
    return parse_twin(open(h.supervisor.endpoints_file + ".json").read()) or {}


def facts(h: Harness) -> dict:
    return twin(h).get("neo4j", {})


async def until(h: Harness, predicate, limit: float = 10.0) -> bool:
    """Real time passes (neo4j-admin is a real process) while the fake clock moves on."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
        await h.clock.advance(0.1)
    return True


async def test_a_dump_stops_neo4j_dumps_both_databases_and_starts_it_again(tmp_path):
    h = harness(tmp_path)
    await h.start()
    await h.clock.advance(2)
    served = []
    h.supervisor._queue(lambda: h.supervisor.neo4j_dump("req1"))
    assert await until(h, lambda: (served.append(bool(endpoints_from(
        parse_env_file(open(h.supervisor.endpoints_file).read()), "x").embed_urls)) or
        facts(h).get("operation_state") == "done"))
    assert all(served)  # the embed replica was listed the whole time
    [folder] = (tmp_path / "dumps").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["neo4j.dump", "system.dump"]
    old, new = h.launcher.of("neo4j")
    assert old.returncode == -15 and new.started >= old.signals[0][0] and new.returncode is None
    assert len(h.launcher.of("embed")) == 1
    f = facts(h)
    assert f["operation_id"] == "req1" and "(2.0 kB)" in f["operation_message"] and "Bolt down" in f["operation_message"]
    assert f["last_dump_folder"] == str(folder) and f["last_dump_bytes"] == 2000
    await h.stop()


async def test_a_failed_dump_leaves_neo4j_running_and_says_why(tmp_path):
    h = harness(tmp_path)
    (tmp_path / "fail").write_text("")
    await h.start()
    await h.clock.advance(2)
    h.supervisor._queue(lambda: h.supervisor.neo4j_dump("req2"))
    assert await until(h, lambda: facts(h).get("operation_state") == "failed")
    assert "The database is in use" in facts(h)["operation_message"]
    assert h.supervisor.neo4j.ready and len(h.launcher.live("neo4j")) == 1
    assert "Neo4j dump failed" in "|".join(twin(h)["events"])
    await h.stop()


async def test_a_load_of_a_dump_and_one_refused_during_a_hand_over(tmp_path):
    h = harness(tmp_path)
    await h.start()
    await h.clock.advance(2)
    h.supervisor._queue(lambda: h.supervisor.neo4j_dump("d"))
    assert await until(h, lambda: facts(h).get("operation_state") == "done")
    folder = facts(h)["last_dump_folder"]
    h.supervisor._queue(lambda: h.supervisor.neo4j_load("l", folder))
    assert await until(h, lambda: facts(h).get("operation_id") == "l" and facts(h)["operation_state"] == "done")
    assert "loaded" in facts(h)["operation_message"] and len(h.launcher.of("neo4j")) == 3
    h.supervisor.handover.successor = "777"  # a hand-over under way: Neo4j is about to move
    h.supervisor._queue(lambda: h.supervisor.neo4j_load("l2", folder))
    assert await until(h, lambda: facts(h).get("operation_id") == "l2")
    assert facts(h)["operation_state"] == "refused" and "hand-over" in facts(h)["operation_message"]
    assert len(h.launcher.of("neo4j")) == 3  # nothing was stopped
    await h.stop()


async def test_scheduled_dumps_come_an_hour_in_then_every_period_never_near_the_limit(tmp_path):
    h = harness(tmp_path, neo4j_dump_every="6h", rollover_lead=1800)
    h.slurm.limit = 13.5 * 3600
    job = h.supervisor
    job.setup()
    job.neo4j.state = job.neo4j.state.READY  # as if it served: only the schedule is looked at here
    job.handover.times = await h.slurm.times(job.job_id)
    asked: list[float] = []
    job._queue = lambda work: (asked.append(h.clock.now), job.neo4j_info.update(last_dump_at=h.clock.time()))

    def look_until(hours: float) -> None:
        while h.clock.now < hours * 3600:
            job.schedule_dumps()
            h.clock.now += 60

    look_until(0.98)
    assert asked == []  # no dump yet: the first comes an hour after the start
    look_until(6)
    assert len(asked) == 1 and 3600 <= asked[0] <= 3660
    look_until(12)
    assert len(asked) == 2 and asked[1] - asked[0] == pytest.approx(6 * 3600, abs=120)
    look_until(13.5)  # due again at 13 h, 30 min before the limit: inside the lead, the next job dumps
    assert len(asked) == 2


def ep_reading(last_dump: float | None, started: str = "2026-12-01T00:00:00Z") -> Reading:
    from codex_console.models import Endpoints

    neo4j = (("last_dump_at", str(last_dump)),) if last_dump else ()
    return Reading(Endpoints(job_id="1", neo4j_uri="bolt://n:7687", started=started, neo4j=neo4j), taken=1.0)


def test_the_check_warns_on_a_dump_older_than_twice_the_schedule():
    day = 86400.0
    now = 1_800_000_000.0
    assert judge_dumps(ep_reading(now - 1.9 * day), day, now).state is State.OK
    late = judge_dumps(ep_reading(now - 2.1 * day), day, now)
    assert late.state is State.WARNING and "2.1d ago" in late.summary and "twice neo4j.dump_every" in late.summary
    assert late.perfdata[0].render().startswith("'neo4j_dump_age'=181440s;172800")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * day))
    assert judge_dumps(ep_reading(None, started), day, now).state is State.WARNING  # never dumped in 3 days
    recent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600))
    assert judge_dumps(ep_reading(None, recent), day, now).state is State.OK
    assert judge_dumps(ep_reading(now - 5 * day), 0, now) is None  # dumps off
    assert json.dumps(late.summary)


async def test_a_scheduled_dump_that_keeps_failing_waits_longer_each_time_and_warns(tmp_path):
    (tmp_path / "fail").write_text("")
    h = harness(tmp_path, neo4j_dump_every="24h")
    await h.start()
    await h.clock.advance(2)
    job = h.supervisor
    for _ in range(2):
        task = asyncio.ensure_future(job.neo4j_dump("", scheduled=True))
        assert await until(h, task.done)
    assert job.dump_failures == 2 and "scheduled Neo4j dumps fail (2 in a row)" in "|".join(twin(h)["warnings"])
    assert job.neo4j.ready  # started again each time
    # When the next try comes: an hour after the first failure, two after the second, up to a day.
    asked: list[float] = []
    job._queue = lambda work: asked.append(h.clock.now)
    job.dump_failures, job.dump_failed_at, job.next_dump_look = 1, h.clock.now, 0.0
    failed_at = h.clock.now
    while h.clock.now < failed_at + 3 * 3600 and not asked:
        job.schedule_dumps()
        h.clock.now += 60
    assert asked and 3600 <= asked[0] - failed_at <= 3660
    job.dump_failures, job.dump_failed_at, asked[:] = 2, h.clock.now, []
    failed_at = h.clock.now
    while h.clock.now < failed_at + 5 * 3600 and not asked:
        job.schedule_dumps()
        h.clock.now += 60
    assert asked and 7200 <= asked[0] - failed_at <= 7260
    await h.stop()
