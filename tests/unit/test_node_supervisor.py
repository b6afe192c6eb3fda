"""The job's supervisor, decision by decision, on a fake clock with fake processes and Slurm:
restart limits and "marked down", the requeue cap, the end-of-time stop order, restarts in place.
Each test runs hours of the job in well under a second."""

from __future__ import annotations

import pytest

from codex_console.backends.endpoints import endpoints_from, parse_env_file
from codex_console.catalogue import Kind, ServiceSpec
from codex_console.node import policy
from codex_console.protocol import request_file, requeues_file

from .node_fakes import Behaviour, Harness, spec

pytestmark = pytest.mark.timeout(20)


def endpoints(h: Harness):
    path = h.supervisor.endpoints_file
    return endpoints_from(parse_env_file(open(path).read()), path)


def starts(h: Harness, name: str) -> list[float]:
    return [t for t, what, who, _ in h.launcher.log if what == "start" and who == name]


def test_backoff_doubles_to_its_cap_and_a_long_run_starts_the_count_anew():
    assert [policy.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    first = policy.after_exit(0, 5, limit=2)
    assert (first.fails, first.down, first.delay) == (1, False, 1)
    assert policy.after_exit(2, 5, limit=2).down  # the third failure in a row
    assert policy.after_exit(2, policy.GOOD_RUN + 1, limit=2) == policy.AfterExit(1, False, 1)


async def test_a_replica_that_always_fails_is_marked_down_and_neo4j_keeps_serving(tmp_path):
    h = Harness(spec(tmp_path, restart_limit=2))
    h.launcher.behaviours["embed"] = Behaviour(exit_after=0.2, code=1)
    await h.start()
    await h.clock.advance(20)
    assert starts(h, "embed") == pytest.approx([0, 1.2, 3.4])  # backoff 1 s, then 2 s
    ep = endpoints(h)
    assert ep.down == ("embed0",) and ep.stale and ep.neo4j_uri and not ep.embed_urls
    assert "embed0 failed 3 times in a row (last exit 1); marked down" in ep.reason
    assert ep.get("SERVICE_RESTARTS") == "2" and ep.get("RESTART_COUNT") == "0"  # restarts are not requeues
    assert h.slurm.calls == []  # exit 1 is not the GPU's fault: no requeue
    await h.clock.advance(policy.DOWN_RETRY)  # a service marked down is tried again
    assert len(starts(h, "embed")) == 4
    await h.stop()


async def test_a_broken_gpu_requeues_off_the_node_within_the_cap(tmp_path):
    h = Harness(spec(tmp_path, restart_limit=0, requeue_limit=1))
    h.launcher.behaviours["embed"] = Behaviour(exit_after=0.1, code=3)
    await h.start()
    await h.clock.advance(5)
    assert ("requeue", "100") in h.slurm.calls and ("exclude", "100", "node-a") in h.slurm.calls
    assert "requeued off node-a (1/1 in 86400s)" in endpoints(h).reason and endpoints(h).stale
    assert all(p.returncode is not None for p in h.launcher.procs)  # Neo4j stopped before the requeue
    await h.clock.advance(600)
    assert h.task.done() and h.task.result() == 1
    # The job runs again (same id, restart 1): one requeue in the window already, so it gives up.
    again = Harness(spec(tmp_path, restart_limit=0, requeue_limit=1), clock=h.clock, restart_count=1)
    again.launcher.behaviours["embed"] = Behaviour(exit_after=0.1, code=3)
    await again.start()
    await again.clock.advance(5)
    assert again.task.done() and again.task.result() == 1
    assert ("requeue", "100") not in again.slurm.calls
    assert "gave up after 1 requeues in 86400s" in endpoints(again).reason
    assert "ending as FAILED" in again.log()
    assert len(open(requeues_file(again.supervisor.endpoints_file)).readlines()) == 2


async def test_a_requeue_from_the_only_node_does_not_exclude_it(tmp_path):
    h = Harness(spec(tmp_path, restart_limit=0))
    h.slurm.others = []
    h.launcher.behaviours["embed"] = Behaviour(exit_after=0.1, code=3)
    await h.start()
    await h.clock.advance(5)
    assert ("requeue", "100") in h.slurm.calls and not [c for c in h.slurm.calls if c[0] == "exclude"]
    assert "not excluding node-a: no other node" in h.log()
    await h.stop()


async def test_the_end_of_time_marks_stale_first_then_neo4j_gets_its_whole_stop_time(tmp_path):
    h = Harness(spec(tmp_path, stop_timeout=75))
    h.launcher.behaviours["neo4j"] = Behaviour(stop_takes=45)
    h.launcher.behaviours["embed"] = Behaviour(ignores_term=True)
    await h.start()
    await h.clock.advance(2)
    assert not endpoints(h).stale
    h.supervisor.signal("XCPU")
    await h.clock.advance(0.01)
    ep = endpoints(h)  # the file says so before anything stops
    assert ep.stale and not ep.embed_urls and not ep.neo4j_uri
    assert "no successor could start before the time limit (no hand-over): requeued" in ep.reason
    h.supervisor.signal("TERM")  # Slurm's TERM at the limit must not cut Neo4j's stop short
    h.supervisor.signal("USR1")
    await h.clock.advance(100)
    [neo4j] = h.launcher.of("neo4j")
    [embed] = h.launcher.of("embed")
    assert neo4j.returncode == -15 and neo4j.signals[0][0] == embed.signals[0][0]  # stopped together
    assert embed.returncode == -9 and embed.signals[-1][0] - embed.signals[0][0] == pytest.approx(30)
    assert "neo4j stopped after 45s" in h.log() and "embed0 did not stop within 30s" in h.log()
    assert h.slurm.calls == [("requeue", "100")] and h.task.result() == 0
    assert len(h.launcher.procs) == 2  # the restart asked for while stopping was ignored


async def test_a_cancel_stops_everything_and_takes_the_waiting_successor_along(tmp_path):
    h = Harness(spec(tmp_path, rollover_lead=600), slurm=None)
    h.slurm.limit = 3600
    await h.start()
    await h.clock.advance(3000 + 5)  # the hand-over is due: a successor is submitted
    successor = h.supervisor.handover.successor
    assert successor and ("submit", "100") in h.slurm.calls
    h.supervisor.signal("TERM")
    await h.clock.advance(1)
    assert ("cancel", successor) in h.slurm.calls and h.task.result() == 0
    assert "job 100 is ending (cancel or requeue)" in endpoints(h).reason
    assert ("requeue", "100") not in h.slurm.calls


async def test_a_restart_in_place_goes_one_instance_at_a_time(tmp_path):
    demo = ServiceSpec("demo-http", Kind.HTTP, "demo --port {port}", 18800, instances=2, health="/health")
    embed = ServiceSpec("embed", Kind.EMBED, "codex-embed-server", 18765, model="/m", instances=2)
    h = Harness(spec(tmp_path, embed, demo))
    for name in ("embed", "demo"):
        h.launcher.behaviours[name] = Behaviour(ready_after=3)
    await h.start()
    await h.clock.advance(5)
    assert len(endpoints(h).embed_urls) == 2
    with open(request_file(h.supervisor.endpoints_file, "100"), "w") as fh:
        fh.write("demo-http\n")
    h.supervisor.signal("USR1")
    seen = []
    for _ in range(150):
        await h.clock.advance(0.1)
        seen.append(len([u for u in endpoints(h).get("DEMO_HTTP_URLS").split(",") if u]))
    old = h.launcher.of("demo")[:2]
    new = h.launcher.of("demo")[2:]
    assert len(new) == 2 and all(p.returncode == -15 for p in old)
    assert min(seen) == 1  # one of the two served all the time
    assert new[0].started + 3 <= old[1].signals[0][0]  # the second goes only once the first is back
    assert len(h.launcher.of("embed")) == 2  # the other service was not touched
    assert "demo-http restarted in place" in endpoints(h).get("EVENTS")
    await h.stop()


async def test_a_bare_restart_signal_restarts_embed_and_usr2_neo4j(tmp_path):
    h = Harness(spec(tmp_path))
    await h.start()
    await h.clock.advance(2)
    h.supervisor.signal("USR1")
    await h.clock.advance(10)
    h.supervisor.signal("USR2")
    await h.clock.advance(10)
    assert len(h.launcher.of("embed")) == 2 and len(h.launcher.of("neo4j")) == 2
    assert "embed restarted in place" in h.log() and "neo4j restarted in place" in h.log()
    await h.stop()


async def test_requests_count_once_and_old_ones_are_dropped(tmp_path):
    demo = ServiceSpec("demo-http", Kind.HTTP, "demo --port {port}", 18800, health="/health")
    h = Harness(spec(tmp_path, ServiceSpec("embed", Kind.EMBED, "codex-embed-server", 18765, model="/m"), demo))
    path = request_file(h.supervisor.endpoints_file, "100")
    with open(path, "w") as fh:  # left by an earlier life of this job id: never carried out
        fh.write("@1 demo-http\n")
    await h.start()
    await h.clock.advance(2)
    assert not (tmp_path / "services.env.job-100.restart").exists()
    now = int(h.clock.time())
    with open(path, "w") as fh:  # two requests, each with its signal; one from long ago, whose never came
        fh.write(f"@{now} demo-http\n@{now} restart embed\n@{now - 3600} neo4j-load x /dumps/old\n")
    for _ in range(2):
        h.supervisor.signal("USR1")
    await h.clock.advance(20)
    assert len(h.launcher.of("demo")) == 2 and len(h.launcher.of("embed")) == 2  # each restarted once
    assert "ignoring a request of 3600s ago: neo4j-load x /dumps/old" in h.log()
    await h.stop()
