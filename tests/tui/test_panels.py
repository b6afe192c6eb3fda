"""Every panel draws from the readings it is handed (nothing else feeds it), and the dashboard
uses the whole screen."""

from __future__ import annotations

import io

from rich.console import Console

from codex_console.tui.app import CodexApp
from codex_console.tui.messages import ReadingArrived
from codex_console.tui.widgets.panel import SourcePanel

from .recorded import NOW, WALL, recorded_readings


def screen_text(app: CodexApp) -> list[str]:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def panel_text(app: CodexApp, panel: SourcePanel) -> str:
    region = panel.region
    rows = screen_text(app)[region.y:region.bottom]
    return "\n".join(row[region.x:region.right] for row in rows)


async def test_every_panel_draws_what_its_messages_carry():
    app = CodexApp(None, clock=lambda: NOW, wallclock=lambda: WALL)  # no session: messages only
    readings = recorded_readings()
    async with app.run_test(size=(200, 60)) as pilot:
        panels = list(app.screen.query(SourcePanel))
        before = {p.id: panel_text(app, p) for p in panels}
        for source, reading in readings.items():
            app.post_message(ReadingArrived(source, reading))
        await pilot.pause(0.5)
        after = {p.id: panel_text(app, p) for p in panels}
    assert {p.source for p in panels} >= set(readings) - {"endpoints"}
    unchanged = [name for name in before if before[name] == after[name] and name != "events"]
    assert unchanged == [], unchanged
    assert "812345" in after["job-card"] and "98dci4-gpu-0002:7687" in after["tunnels-panel"]
    assert "Qwen3-Embedding-0.6B" in after["embed-panel"] and "P100" in after["gpu-panel"]
    assert "99.26%" in after["availability-panel"] and "HEALTHY" in after["neo4j-panel"]


async def test_no_row_is_left_blank_at_200x60():
    from .recorded import recorded_app

    app = recorded_app()
    async with app.run_test(size=(200, 60)) as pilot:
        for _ in range(100):  # laid out and drawn (the footer comes last): however loaded the machine
            await pilot.pause(0.1)
            rows = screen_text(app)
            if rows[-1].strip():
                break
        charts = sum(w.region.height for w in app.screen.query("TimeChart") if w.region.x < 70)
    assert len(rows) == 60 and [i for i, row in enumerate(rows) if not row.strip()] == []
    assert charts >= 30  # the charts of the first column take half the screen and more


async def test_the_jobs_table_keeps_no_dead_renders():
    """A job's elapsed time changes every second; DataTable's render caches are keyed by an update
    counter, so each change leaves the old renders dead. Days of them were megabytes (the soak)."""
    import dataclasses

    from codex_console.readings import Reading
    from codex_console.tui.widgets.jobs import JobsTable

    app = CodexApp(None, clock=lambda: NOW, wallclock=lambda: WALL)
    [job] = recorded_readings()["jobs"].value[:1]
    async with app.run_test(size=(200, 60)) as pilot:
        table = app.screen.query_one(JobsTable)
        for second in range(60):
            elapsed = f"2-03:{second // 60:02d}:{second % 60:02d}"
            app.post_message(ReadingArrived("jobs", Reading([dataclasses.replace(job, elapsed=elapsed)], NOW)))
            await pilot.pause()
            app.screen.draw_frame()  # what the dashboard does every frame
        await pilot.pause(0.2)
        assert table.get_cell(job.job_id, "elapsed / limit").startswith("2-03:00:59")
        cached = len(table._cell_render_cache) + len(table._row_render_cache) + len(table._line_cache)
    assert cached < 3 * len(table.columns) * 3, cached  # this update's renders, not 60 updates' worth


async def test_a_reading_that_changes_nothing_repaints_nothing():
    """An idle console's cost is its screen updates: a reading equal to the last one drawn (the
    sandbox's GPUs at 0% every 3 s) must leave every widget as it was, the panels' boxes too
    (a repainted box redraws all inside it)."""
    from textual.widget import Widget

    app = CodexApp(None, clock=lambda: NOW, wallclock=lambda: WALL)
    readings = recorded_readings()
    async with app.run_test(size=(200, 60)) as pilot:
        for source, reading in readings.items():
            app.post_message(ReadingArrived(source, reading))
        await pilot.pause(0.5)
        app.screen.draw_frame()
        await pilot.pause(0.2)
        repainted: list[str] = []
        original = Widget.refresh

        def counting(widget: Widget, *args, **kwargs):
            if kwargs.get("repaint", True):
                repainted.append(f"{type(widget).__name__}#{widget.id}")
            return original(widget, *args, **kwargs)

        Widget.refresh = counting  # type: ignore[method-assign]
        try:
            for source, reading in readings.items():
                app.post_message(ReadingArrived(source, reading))
            await pilot.pause(0.2)
            app.screen.draw_frame()
            await pilot.pause(0.2)
        finally:
            Widget.refresh = original  # type: ignore[method-assign]
    assert repainted == []
