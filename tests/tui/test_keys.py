"""Keys: every operation is a binding, in the help screen and in the palette; --readonly."""

from __future__ import annotations

from codex_console.operations import OPERATIONS
from codex_console.tui.screens.confirm import ConfirmScreen
from codex_console.tui.screens.help import HelpScreen

from .recorded import recorded_app


async def test_every_operation_is_in_the_palette_and_the_help():
    app = recorded_app()
    async with app.run_test(size=(100, 30)) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for op in OPERATIONS:  # a load names its dump: the CLI's alone
            assert (op.description in titles) == bool(op.key) and (op.key or op.target == "path")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = dict(app.screen.sections[0][1])
        assert rows["?"].startswith("Every key") and rows["q"].startswith("Quit") and ":" in rows
        for op in OPERATIONS:
            assert not op.key or rows[op.key].startswith(op.description)
        assert "question_mark" not in str(app.screen.sections)


async def test_readonly_disables_every_operation():
    app = recorded_app(readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.check_action("operation", ("serve", "stop")) is False
        assert app.check_action("bench", ()) is False
        await pilot.press("c")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert not any(op.description in titles for op in OPERATIONS)


async def test_quit_and_help_stay_in_the_footer_at_80_columns():
    app = recorded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one("Footer")
        keys = [item.key_display for item in footer.query("FooterKey") if item.region.width
                and item.region.right <= 80]
        assert "?" in keys and "q" in keys
