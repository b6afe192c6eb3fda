"""The Neo4j panel shows the graph's health: counts, store, last dump, heap and page cache; N/A
for what neither Neo4j nor the job reported."""

from __future__ import annotations

from codex_console.models import Neo4jHealth
from codex_console.readings import Reading
from codex_console.tui.app import CodexApp
from codex_console.tui.messages import ReadingArrived

from .recorded import NOW, WALL
from .test_panels import panel_text


async def neo4j_panel(health: Neo4jHealth, size: tuple[int, int]) -> str:
    app = CodexApp(None, clock=lambda: NOW, wallclock=lambda: WALL)
    async with app.run_test(size=size) as pilot:
        app.post_message(ReadingArrived("neo4j", Reading(health, NOW - 1)))
        await pilot.pause(0.3)
        return panel_text(app, app.screen.query_one("#neo4j-panel"))


async def test_a_real_neo4j_with_the_jobs_report_shows_every_field():
    health = Neo4jHealth(url="bolt://gpu-2:7687", ready=True, latency_ms=2.5, server="Neo4j/5.26.0",
                         version="5.26.0 community", databases=("neo4j", "system"), nodes=1_234_567,
                         relationships=890, heap="31g", pagecache="auto", store_bytes=18_200_000_000,
                         last_dump=WALL - 5400)
    text = await neo4j_panel(health, (160, 40))
    for part in ("HEALTHY", "Neo4j 5.26.0 community", "1.2M nodes 890 rels", "store 18.2 GB", "dump 1.5h ago",
                 "heap 31g", "cache auto"):
        assert part in text, (part, text)


async def test_a_bolt_server_that_says_little_shows_n_a_and_fits_80_columns():
    health = Neo4jHealth(url="bolt://gpu-2:7687", ready=True, latency_ms=2.5, server="Neo4j/5.13.0",
                         version="5.13.0", nodes=0, relationships=0)  # FalkorDB: counts only
    text = await neo4j_panel(health, (80, 24))
    lines = [line.strip("│ ") for line in text.splitlines()]
    assert lines[1].startswith("HEALTHY") and lines[2].startswith("Neo4j/5.13.0")
    assert lines[3].startswith("0 nodes 0 rels") and lines[4].startswith("dump N/A")
    wide = await neo4j_panel(health, (160, 40))
    assert "store N/A" in wide and "heap N/A  cache N/A" in wide
