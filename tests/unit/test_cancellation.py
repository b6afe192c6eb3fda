"""Cancelling a task always stops it. Python 3.11's `asyncio.wait_for` swallows a cancel that
arrives in the same loop turn as the awaited result (fixed in 3.12): a polling loop built on it
then never stops, and the dashboard's shutdown hung on it once in CI. `asyncio.timeout` is safe."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import codex_console
from codex_console.backends.poller import Source

ROOT = Path(codex_console.__file__).parent.parent


async def test_a_source_woken_and_cancelled_in_the_same_turn_stops():
    async def fetch() -> int:
        return 1

    for turns in range(1, 6):  # let the loop reach its wait, then wake and cancel it at once
        source = Source("jobs", fetch, interval=30)
        source.start()
        for _ in range(turns):
            await asyncio.sleep(0)
        task = source._task
        source.refresh()
        async with asyncio.timeout(2):
            await source.stop()
        assert task is not None and task.cancelled()


def test_no_asyncio_wait_for_in_the_console_or_the_server():
    found = [f"{path.relative_to(ROOT)}:{n}" for folder in ("codex_console", "server")
             for path in sorted((ROOT / folder).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"\basyncio\.wait_for\(", line)]
    assert found == [], "use `async with asyncio.timeout(...)` instead: " + ", ".join(found)
