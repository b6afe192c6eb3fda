"""Keys: every action is a binding, in the help screen and in the command palette; --readonly."""

from __future__ import annotations

from codex_console.tui.app import ACTIONS, KEYS
from codex_console.tui.screens.confirm import ConfirmScreen
from codex_console.tui.screens.help import HelpScreen

from .recorded import recorded_app


async def test_every_key_is_in_the_palette_and_the_help():
    app = recorded_app()
    async with app.run_test(size=(100, 30)) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for _, action, _, description in KEYS:
            if action not in ("quit", "help"):
                assert description in titles
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert [row[2] for row in app.screen.rows] == [description for *_, description in KEYS]


async def test_readonly_disables_every_action():
    app = recorded_app(readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        for action in ACTIONS:
            assert app.check_action(action, ()) is False
        await pilot.press("c")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert not any("Cancel the job" in t for t in titles)


async def test_restart_confirmation_shows_both_commands():
    app = recorded_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmScreen)
        command = str(app.screen.query_one("#command").render())
        assert "scancel 812345" in command and "sbatch --parsable" in command
        await pilot.press("enter")  # Cancel has the focus: nothing happens
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)
