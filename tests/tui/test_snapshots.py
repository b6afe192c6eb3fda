"""Snapshots of the main screens, drawn from recorded readings (pytest-textual-snapshot)."""

from __future__ import annotations

from .recorded import recorded_app

SIZE = (100, 30)


def test_dashboard(snap_compare):
    assert snap_compare(recorded_app(), terminal_size=SIZE)


def test_dashboard_at_80x24(snap_compare):
    assert snap_compare(recorded_app(), terminal_size=(80, 24))


async def settled(pilot) -> None:
    """Charts are laid out after the first frame: take the picture once they are."""
    await pilot.pause(0.3)


def test_dashboard_at_120x40(snap_compare):
    assert snap_compare(recorded_app(), terminal_size=(120, 40), run_before=settled)


def test_dashboard_at_200x60(snap_compare):
    assert snap_compare(recorded_app(), terminal_size=(200, 60), run_before=settled)


def test_dashboard_with_a_stale_source(snap_compare):
    assert snap_compare(recorded_app(stale_neo4j=True), terminal_size=SIZE)


def test_cancel_confirmation(snap_compare):
    assert snap_compare(recorded_app(), press=["c"], terminal_size=SIZE)


def test_help(snap_compare):
    assert snap_compare(recorded_app(), press=["question_mark"], terminal_size=SIZE)


def test_benchmark_panel(snap_compare):
    assert snap_compare(recorded_app(), press=["b"], terminal_size=SIZE)


def test_readonly_footer(snap_compare):
    assert snap_compare(recorded_app(readonly=True), terminal_size=SIZE)
