"""The check's judgement as pure functions: every state boundary, no sandbox."""

from __future__ import annotations

import re

import pytest

from codex_console.check.judge import (
    Snapshot,
    Thresholds,
    judge,
    judge_gpu,
    judge_job,
    judge_replicas,
    judge_service,
    verdict,
)
from codex_console.check.nagios import Perf, Range, RangeError, State, judge_value
from codex_console.config import ThresholdsConfig
from codex_console.models import (
    EmbedHealth,
    Endpoints,
    GpuReport,
    GpuSample,
    Job,
    JobState,
    Neo4jHealth,
    ReplicaHealth,
    ServiceReading,
)
from codex_console.readings import Reading

TH = Thresholds.from_config(ThresholdsConfig())  # embed 500/3000 ms, neo4j 250/2000 ms, GPU 85/92 C
ENDPOINTS = Reading(Endpoints(embed_urls=("http://gpu-2:18765",), neo4j_uri="bolt://gpu-2:7687"), taken=1.0)


def replica(latency_ms: float | None, ready: bool = True, port: int = 18765) -> ReplicaHealth:
    url = f"http://gpu-2:{port}"
    return ReplicaHealth(url=url, health=EmbedHealth(url=url, ready=ready, latency_ms=latency_ms, queue_depth=1.0))


def embed(latency_ms: float | None, ready: bool = True) -> Reading[ServiceReading]:
    return Reading(ServiceReading(replicas=(replica(latency_ms, ready),)), taken=1.0)


def job(state: JobState, reason: str = "") -> Job:
    return Job(job_id="812345", name="codex-services", state=state, node="gpu-2", reason=reason)


@pytest.mark.parametrize("text,value,alerts", [
    ("10", 10, False), ("10", 10.001, True), ("10", 0, False), ("10", -0.001, True),
    ("10:", 10, False), ("10:", 9.999, True), ("10:", 1e9, False),
    ("~:10", 10, False), ("~:10", 10.001, True), ("~:10", -1e9, False),
    ("10:20", 10, False), ("10:20", 20, False), ("10:20", 9.999, True), ("10:20", 20.001, True),
    ("@10:20", 10, True), ("@10:20", 20, True), ("@10:20", 9.999, False), ("@10:20", 20.001, False),
    ("@10:20", 15, True),
])
def test_every_range_form(text, value, alerts):
    assert Range.parse(text).alerts(value) is alerts


@pytest.mark.parametrize("bad", ["", "abc", "10:5", "@", "1:2:3", "~"])
def test_bad_ranges_are_refused(bad):
    with pytest.raises(RangeError):
        Range.parse(bad)


@pytest.mark.parametrize("latency,state", [
    (499.99, State.OK), (500, State.OK), (500.01, State.WARNING),
    (2999.99, State.WARNING), (3000, State.WARNING), (3000.01, State.CRITICAL)])
def test_embed_latency_at_just_under_and_just_over_each_threshold(latency, state):
    result = judge_replicas("embed", embed(latency), ENDPOINTS, TH.embed_warn, TH.embed_crit, TH)
    assert result.state is state and result.summary == f"embed ready {latency:.0f} ms"
    assert result.perfdata[0].render() == f"'embed_latency'={latency:g}ms;500;3000;0"


def test_every_replica_is_judged_and_the_slowest_serving_one_sets_the_latency():
    two = Reading(ServiceReading(replicas=(replica(20.0), replica(600.0, port=18766))), taken=1.0)
    result = judge_replicas("embed", two, ENDPOINTS, TH.embed_warn, TH.embed_crit, TH)
    assert result.state is State.WARNING and result.summary == "embed 2/2 ready 600 ms"
    assert [p.render() for p in result.perfdata] == ["'embed_latency'=600ms;500;3000;0", "'embed_queue'=2;;;0"]
    one_down = Reading(ServiceReading(replicas=(
        replica(20.0), ReplicaHealth(url="http://gpu-3:18765", error="ConnectError: refused"))), taken=1.0)
    result = judge_replicas("embed", one_down, ENDPOINTS, TH.embed_warn, TH.embed_crit, TH)
    assert result.state is State.WARNING
    assert result.summary == "embed 1/2 ready 20 ms; http://gpu-3:18765 down (ConnectError: refused)"
    none = Reading(ServiceReading(replicas=(replica(None, ready=False),)), taken=1.0)
    result = judge_replicas("embed", none, ENDPOINTS, TH.embed_warn, TH.embed_crit, TH)
    assert result.state is State.CRITICAL and result.summary == "http://gpu-2:18765 not ready (no answer)"


@pytest.mark.parametrize("latency,state", [(250, State.OK), (250.01, State.WARNING), (2000, State.WARNING),
                                           (2000.01, State.CRITICAL)])
def test_neo4j_latency_is_judged_by_the_same_function(latency, state):
    reading = Reading(Neo4jHealth(url="bolt://gpu-2:7687", ready=True, latency_ms=latency), taken=1.0)
    assert judge_service("neo4j", reading, ENDPOINTS, TH.neo4j_warn, TH.neo4j_crit, TH).state is state


def test_a_service_that_is_down_not_ready_or_unknown():
    down = Reading(error="ConnectError: refused", error_kind="error", error_at=2.0)
    assert judge_service("embed", down, ENDPOINTS, TH.embed_warn, TH.embed_crit, TH).state is State.CRITICAL
    loading = embed(None, ready=False)
    result = judge_replicas("embed", loading, ENDPOINTS, TH.embed_warn, TH.embed_crit, TH)
    assert result.state is State.CRITICAL and result.perfdata[0].render() == "'embed_latency'=U;500;3000;0"
    cut = Reading(error="timed out after 20s", error_kind="timeout", error_at=2.0)
    assert judge_service("embed", cut, ENDPOINTS, TH.embed_warn, TH.embed_crit, TH).state is State.UNKNOWN
    critical_timeouts = Thresholds.from_config(ThresholdsConfig(timeout_state="CRITICAL"))
    assert judge_service("embed", cut, ENDPOINTS, TH.embed_warn, TH.embed_crit,
                         critical_timeouts).state is State.CRITICAL


def test_no_endpoints_file_says_why_with_the_jobs_reason():
    waiting = Reading(taken=1.0, note="no EMBED_URL in the endpoints file")
    gave_up = Reading(Endpoints(stale=True, reason="gave up after 3 requeues"), taken=1.0)
    result = judge_service("embed", waiting, gave_up, TH.embed_warn, TH.embed_crit, TH)
    assert result.state is State.CRITICAL and "gave up after 3 requeues" in result.summary


@pytest.mark.parametrize("jobs,state", [
    ([], State.CRITICAL), ([job(JobState.PENDING, "Priority")], State.WARNING),
    ([job(JobState.RUNNING)], State.OK), ([job(JobState.SPECIAL_EXIT)], State.WARNING),
    ([job(JobState.CANCELLED)], State.CRITICAL)])
def test_job_states(jobs, state):
    assert judge_job(Reading(jobs, taken=1.0), "codex-services", TH).state is state


@pytest.mark.parametrize("temperature,state", [(85, State.OK), (85.5, State.WARNING), (92, State.WARNING),
                                               (92.5, State.CRITICAL)])
def test_gpu_temperature_boundaries_and_memory_in_gb(temperature, state):
    gpu = GpuSample(index=0, name="Tesla P100", uuid="GPU-0", utilization=50.0, memory_used=1024.0,
                    memory_total=16384.0, temperature=temperature, power=100.0)
    result = judge_gpu(Reading(GpuReport("gpu-2", (gpu,)), taken=1.0), TH)
    assert result is not None and result.state is state
    assert [p.render() for p in result.perfdata] == ["'gpu0_util'=50%;;;0;100",
                                                     "'gpu0_mem'=1.074GB;;;0;17.18"]


def test_unreachable_login_node_is_unknown_overall():
    unreachable = Reading(error="cannot reach login node", error_kind="unreachable", error_at=1.0)
    snap = Snapshot(jobs=unreachable, endpoints=unreachable, gpu=Reading(taken=1.0, note="no job"),
                    embed=Reading(taken=1.0, note="no endpoints file yet"),
                    neo4j=Reading(taken=1.0, note="no endpoints file yet"))
    results = judge(snap, "codex-services", TH)
    assert State.CRITICAL in [r.state for r in results] and verdict(snap, results) is State.UNKNOWN


def test_the_worst_probe_decides():
    snap = Snapshot(jobs=Reading([job(JobState.RUNNING)], taken=1.0), endpoints=ENDPOINTS,
                    gpu=Reading(taken=1.0, note="x"), embed=embed(600),
                    neo4j=Reading(Neo4jHealth(url="b", ready=True, latency_ms=1.0), taken=1.0))
    assert verdict(snap, judge(snap, "codex-services", TH)) is State.WARNING
    assert judge_value(1, None, None) is State.OK


# The guidelines' grammar: 'label'=value[UOM];[warn];[crit];[min];[max], value may be U.
PERF = re.compile(r"^'[^'=]+'=(U|-?\d+(\.\d+)?(e[-+]?\d+)?(s|ms|us|%|B|KB|MB|GB|TB|c)?)"
                  r"(;[@~:.\d-]*){0,2}(;-?[\d.]*){0,2}$")


@pytest.mark.parametrize("perf", [
    Perf("embed_latency", 12.5, "ms", "500", "3000", 0), Perf("embed_latency", None, "ms", "500", "3000", 0),
    Perf("gpu0_mem", 1073.7, "MB", min=0, max=17179.9), Perf("jobs_alive", 1, min=0),
    Perf("x", 3, "c", "@10:20", "~:30"), Perf("check_time", 0.25, "s", min=0)])
def test_perfdata_follows_the_grammar(perf):
    assert PERF.match(perf.render()), perf.render()


def test_a_unit_outside_the_list_is_refused():
    with pytest.raises(ValueError, match="MiB"):
        Perf("gpu0_mem", 1, "MiB")


def running(left: str, job_id: str = "812345") -> Reading[list[Job]]:
    return Reading([Job(job_id=job_id, name="codex-services", state=JobState.RUNNING, node="gpu-2",
                        time_left=left)], taken=1.0)


def endpoints_saying(handover: str, job_id: str = "812345") -> Reading[Endpoints]:
    extra = (("HANDOVER", handover),) if handover else ()
    return Reading(Endpoints(job_id=job_id, node="gpu-2", extra=extra), taken=1.0)


@pytest.mark.parametrize("left,handover,state", [
    ("1:00:00", "", None),  # 60 min left, a 30 min lead: nothing to say yet
    ("30:00", "", State.WARNING), ("30:01", "", None),  # at the lead, not started: warn
    ("25:00", "submitted", State.OK), ("25:00", "pending: successor 9 waits (Resources)", State.WARNING),
    ("25:00", "failed: sbatch said: no", State.WARNING), ("10:01", "starting: successor 9 on gpu-3", State.OK),
    ("10:00", "starting: successor 9 on gpu-3", State.CRITICAL), ("10:00", "", State.CRITICAL),
    ("9:59", "ready", State.OK), ("2:00", "neo4j-moving", State.OK), ("1:00", "done", State.OK),
])
def test_handover_states_at_each_boundary(left, handover, state):
    from codex_console.check.judge import judge_handover

    result = judge_handover(running(left), endpoints_saying(handover), lead=1800)
    assert (result.state if result else None) is state
