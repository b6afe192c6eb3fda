"""Histories: raw for minutes, coarser buckets as they age, flat memory; counters become rates."""

from __future__ import annotations

from codex_console.readings import History, Point, Reading, Series, mean, spread


def test_a_day_of_samples_keeps_memory_flat_and_windows_pick_the_right_tier():
    series = Series()
    start = 1_000_000.0
    for i in range(86400 * 2):  # two days at one sample a second
        series.add(start + i, float(i % 100))
    assert len(series) < 300 + 360 + 720 + 3  # raw 5 min + 10 s buckets 1 h + 2 min buckets 1 day
    now = start + 86400 * 2 - 1
    five = series.window("5m", now)
    assert len(five) >= 299 and all(p.mean == p.p95 for p in five)  # raw samples
    hour = series.window("1h", now)
    assert 350 <= len(hour) <= 361 and all(p.p50 <= p.p95 for p in hour)
    day = series.window("24h", now)
    assert 700 <= len(day) <= 721


def test_bucket_statistics():
    series = Series()
    for i, value in enumerate([1.0, 2.0, 3.0, 100.0]):
        series.add(10_000.0 + i, value)  # one 10 s bucket
    [bucket] = [p for p in series.window("1h", 10_004.0) if p.t == 10_000.0]
    assert bucket.mean == 26.5 and bucket.p50 in (2.0, 3.0) and bucket.p95 == 100.0


def test_counters_become_rates_and_a_restart_starts_over():
    history = History()
    history.add(100.0, {}, {"texts": 1000})
    history.add(110.0, {}, {"texts": 1500})
    history.add(120.0, {}, {"texts": 20})  # the server restarted: no negative rate
    history.add(130.0, {}, {"texts": 220})
    assert [p.mean for p in history["texts"].window("5m", 130.0)] == [50.0, 20.0]


def test_a_replica_has_its_own_series_and_its_rate_adds_to_the_total():
    history = History()
    a, b = "http://node-1:18765", "http://node-2:18765"
    history.add(100.0, {("latency_ms", a): 10.0}, {("requests", a): 100})
    history.add(110.0, {("latency_ms", a): 12.0, ("latency_ms", b): 30.0},
                {("requests", a): 200, ("requests", b): 5000})  # b appears with a large total: no burst
    history.add(120.0, {}, {("requests", a): 300, ("requests", b): 5100})
    assert history.subjects("latency_ms") == [a, b] and history.subjects("requests") == [a, b]
    assert [p.mean for p in history["latency_ms", a].window("5m", 120.0)] == [10.0, 12.0]
    assert [p.mean for p in history["requests", b].window("5m", 120.0)] == [10.0]
    assert [p.mean for p in history["requests"].window("5m", 120.0)] == [10.0, 20.0]  # a alone, then a + b


def test_text_figures_come_from_the_points_a_chart_draws():
    raw = [Point(float(t), v, v, v) for t, v in enumerate([5.0, 1.0, 3.0, 2.0, 4.0])]
    assert spread(raw) == (3.0, 5.0) and mean(raw) == 3.0
    buckets = [Point(0.0, 2.0, 2.0, 9.0), Point(10.0, 4.0, 3.0, 7.0), Point(20.0, 6.0, 5.0, 8.0)]
    assert spread(buckets) == (3.0, 9.0) and mean(buckets) == 4.0  # median of p50s, p95 of p95s
    assert spread([]) == (None, None) and mean([]) is None


def test_nan_and_inf_are_not_samples():
    series = Series()
    series.add(1.0, float("nan"))
    series.add(2.0, float("inf"))
    assert len(series) == 0


def test_a_reading_is_stale_only_when_an_error_is_newer_than_its_value():
    fresh = Reading(value=1, taken=10.0)
    assert not fresh.stale and fresh.fresh_value == 1 and fresh.age(12.0) == 2.0
    failed_after = Reading(value=1, taken=10.0, error="boom", error_kind="error", error_at=11.0)
    assert failed_after.stale and failed_after.fresh_value is None and failed_after.value == 1
    never = Reading(error="boom", error_at=1.0)
    assert never.stale and never.age() is None
