"""Where the client looks, in order: env overrides, the endpoints files, the key files."""

from __future__ import annotations

from pathlib import Path

from codex_console.client import FILE_ENV, KEY_ENV, Locator


def endpoints(path: Path, job: str, url: str = "http://gpu-1:18765", stale: int = 0) -> Path:
    path.write_text(f"EMBED_URL={url}\nEMBED_URLS={url}\nNEO4J_URI=bolt://gpu-1:7687\nJOB_ID={job}\n"
                    f"NODE=gpu-1\nSTARTED=2026-01-01T00:00:00Z\nSTALE={stale}\n")
    return path


async def test_endpoints_files_first_that_exists_env_then_config_then_home(cfg, home, tmp_path):
    mine, shared = tmp_path / "mine.env", tmp_path / "project" / "services.env"
    shared.parent.mkdir()
    cfg.services.endpoints_file = str(shared)
    endpoints(home / ".codex-services.env", "1")
    assert (await Locator(cfg, {}).find()).endpoints.job_id == "1", "the home file when nothing else exists"
    endpoints(shared, "2")
    found = await Locator(cfg, {FILE_ENV: str(mine)}).find()
    assert found.endpoints.job_id == "2" and found.endpoints.source == str(shared)
    assert found.notes == (f"{mine}: no such file", f"{shared}: read")
    endpoints(mine, "3", stale=1)
    found = await Locator(cfg, {FILE_ENV: str(mine)}).find()
    assert found.endpoints.job_id == "3" and found.endpoints.stale and found.generation[0] == "3"


async def test_environment_overrides_win_over_the_file(cfg, home):
    endpoints(home / ".codex-services.env", "1")
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": "http://a:1,http://b:2", "NEO4J_URI": "bolt://c:3"}
    found = await Locator(cfg, env).find()
    assert found.endpoints.embed_urls == ("http://a:1", "http://b:2") and found.endpoints.neo4j_uri == "bolt://c:3"
    assert any("IMAS_CODEX_EMBED_REMOTE_URL" in n for n in found.notes)
    nothing = await Locator(cfg, {"IMAS_CODEX_EMBED_REMOTE_URL": "http://a:1"}).find()
    assert nothing.endpoints.embed_urls == ("http://a:1",)


async def test_key_files_in_order_and_none_means_no_key(cfg, home, tmp_path):
    (home / ".codex-embed.key").write_text("home-key\n")
    assert await Locator(cfg, {}).api_key() == "home-key"
    team = tmp_path / "team.key"
    team.write_text("team-key\n")
    cfg.services.api_key_file = str(team)
    assert await Locator(cfg, {}).api_key() == "team-key"
    mine = tmp_path / "mine.key"
    mine.write_text("  \n")
    locator = Locator(cfg, {KEY_ENV: str(mine)})
    assert await locator.api_key() == "team-key", "an empty file is skipped"
    assert locator.key_note == f"{mine}: empty; {team}", "the note says what was skipped and what was used"
    assert await Locator(cfg, {KEY_ENV: "none"}).api_key() is None
    cfg.services.api_key_file = "none"
    assert await Locator(cfg, {}).api_key() is None
