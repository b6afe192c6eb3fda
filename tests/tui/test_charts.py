"""Charts draw the window they name from the tier that keeps it, the text beside them reads the
same points, `w` moves both, and a chart whose points did not change is not drawn again."""

from __future__ import annotations

from codex_console.backends.sources import embed_samples, gpu_samples
from codex_console.models import EmbedHealth, GpuReport, GpuSample, ReplicaHealth, ServiceReading
from codex_console.readings import History, Reading, percentile
from codex_console.tui.app import CodexApp
from codex_console.tui.messages import ReadingArrived
from codex_console.tui.widgets.chart import TimeChart

from .recorded import NOW, WALL
from .test_panels import panel_text

URL = "http://gpu-2:18765"


def embed_reading(latency_at) -> Reading[ServiceReading]:
    """Ten minutes of one-second probes ending now; `latency_at(seconds_ago)`."""
    history, value = History(), None
    for ago in range(600, 0, -1):
        value = ServiceReading(replicas=(ReplicaHealth(url=URL, health=EmbedHealth(
            url=URL, ready=True, latency_ms=latency_at(ago), requests=10.0 * (600 - ago), queue_depth=0.0)),))
        history.add(WALL - ago, *embed_samples(value))
    return Reading(value, NOW, history=history)


def gpu_reading() -> Reading[GpuReport]:
    history, report = History(), None
    for ago in range(600, 0, -1):
        report = GpuReport("gpu-2", tuple(GpuSample(index=i, name="P100", uuid=f"GPU-{i}", utilization=float(ago % 100),
                                                    memory_used=1024.0 * i, memory_total=16384.0, temperature=40.0,
                                                    power=30.0) for i in range(2)))
        history.add(WALL - ago, *gpu_samples(report))
    return Reading(report, NOW, history=history)


async def arrive(app: CodexApp, pilot, reading: Reading) -> None:
    """An embed reading, drawn: a source's first reading at once, later ones by the next frame."""
    app.post_message(ReadingArrived("embed", reading))
    await pilot.pause(0.1)
    app.screen.draw_frame()
    await pilot.pause(0.1)


async def test_one_second_samples_draw_at_least_100_points_in_the_5_minute_chart():
    app = CodexApp(None, clock=lambda: NOW, wallclock=lambda: WALL)
    async with app.run_test(size=(200, 60)) as pilot:
        app.post_message(ReadingArrived("embed", embed_reading(lambda ago: 20.0)))
        app.post_message(ReadingArrived("gpu", gpu_reading()))
        await pilot.pause(0.3)
        latency = app.screen.query_one("#embed-latency-chart", TimeChart)
        utilization = app.screen.query_one("#gpu-util-chart", TimeChart)
        memory = app.screen.query_one("#gpu-mem-chart", TimeChart)
    assert [len(points) for points in latency.lines.values()] == [300]  # raw samples, not 2-minute buckets
    assert [len(points) for points in utilization.lines.values()] == [300, 300]
    assert list(memory.lines) == ["gpu0", "gpu1"] and memory.lines["gpu1"][-1][1] == 1.074  # GB, as the text says


async def test_text_and_chart_read_one_window_and_follow_w():
    # Slow for the first five minutes, fast for the last five: the two windows disagree.
    app = CodexApp(None, clock=lambda: NOW, wallclock=lambda: WALL)
    async with app.run_test(size=(200, 60)) as pilot:
        app.post_message(ReadingArrived("embed", embed_reading(lambda ago: 100.0 if ago > 300 else 10.0)))
        await pilot.pause(0.3)
        panel = app.screen.query_one("#embed-panel")
        chart = app.screen.query_one("#embed-latency-chart", TimeChart)
        five = {label: [v for _, v in points] for label, points in chart.lines.items()}
        text_five = panel_text(app, panel)
        await pilot.press("w")
        await pilot.pause(0.3)
        hour = {label: [v for _, v in points] for label, points in chart.lines.items()}
        text_hour = panel_text(app, panel)
    assert "latency p50 · last 5m" in text_five and "latency p50 · last 1h" in text_hour
    assert len(five[":18765"]) == 300 and 60 <= len(hour[":18765"]) <= 61  # raw, then 10 s buckets
    # The replica's row says p50/p95 of the points its chart line draws (the line is the p50).
    assert percentile(five[":18765"], 50) == 10.0 and ":18765 READY 10/10 ms" in text_five
    assert f":18765 READY {percentile(hour[':18765'], 50):.0f}/" in text_hour and "READY 10/" not in text_hour
    assert "1h: 10.0 req/s" in text_hour and "5m: 10.0 req/s" in text_five


async def test_a_chart_is_built_again_only_when_its_points_changed_and_not_too_often():
    clock, wall = [NOW], [WALL]
    app = CodexApp(None, clock=lambda: clock[0], wallclock=lambda: wall[0])
    reading = embed_reading(lambda ago: 20.0)
    async with app.run_test(size=(200, 60)) as pilot:
        chart = app.screen.query_one("#embed-latency-chart", TimeChart)
        await arrive(app, pilot, reading)
        first = chart.builds
        clock[0] += 60
        for _ in range(3):  # the same reading again (another panel's poll, a redraw): nothing to build
            await arrive(app, pilot, reading)
        same = chart.builds
        clock[0] += 1
        wall[0] += 1
        reading.history.add(wall[0], *embed_samples(reading.value))  # one more sample, a second later
        await arrive(app, pilot, reading)
        soon = chart.builds  # drawn again at once: the last drawing is a minute old
        clock[0] += 1
        wall[0] += 1
        reading.history.add(wall[0], *embed_samples(reading.value))
        await arrive(app, pilot, reading)
        waiting = chart.builds  # a second after the last drawing: it waits
        chart.draw_due()
        still = chart.builds
        clock[0] += TimeChart.MIN_GAP
        chart.draw_due()  # what the dashboard's frame does
        last = chart.lines[":18765"][-1][0]
    assert first >= 1 and same == first and soon == first + 1
    assert waiting == still == soon and chart.builds == soon + 1 and last == WALL + 2  # late, not lost
