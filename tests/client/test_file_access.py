"""What the console reads about who can read the endpoints and key files, and how it shows it."""

from __future__ import annotations

from codex_console.backends.endpoints import EndpointsReader
from codex_console.backends.runner import LocalRunner
from codex_console.readings import Reading
from codex_console.tui.widgets.job_card import card_text


async def test_the_console_reads_who_can_read_the_endpoints_and_key_files(tmp_path):
    env, key = tmp_path / "services.env", tmp_path / "embed.key"
    env.write_text("EMBED_URL=http://gpu-1:18765\nJOB_ID=9\nNODE=gpu-1\nSTALE=0\n")
    key.write_text("k\n")
    env.chmod(0o640)
    key.chmod(0o644)
    ep = await EndpointsReader(LocalRunner(), str(env), shared=(str(key), "none")).read(environ={})
    assert ep.job_id == "9" and ep.embed_urls == ("http://gpu-1:18765",)
    [e, k] = ep.access
    assert (e.path, e.mode, e.owner, e.readers) == (str(env), "0640", "root", f"root and group {e.group}")
    assert (k.mode, k.readers) == ("0644", "everyone")
    text = card_text([], Reading(value=ep), 0).plain
    assert f"readable by: services.env root and group {e.group} (0640) · embed.key everyone (0644)" in text
    key.unlink()
    missing = await EndpointsReader(LocalRunner(), str(tmp_path / "none.env"), shared=(str(key),)).read(environ={})
    assert missing.access == () and missing.embed_url == ""


async def test_paths_in_the_home_directory_are_read_there(home):
    (home / ".codex-services.env").write_text("EMBED_URL=http://gpu-1:18765\nJOB_ID=4\nSTALE=0\n")
    (home / "team.key").write_text("k\n")
    (home / "team.key").chmod(0o600)
    ep = await EndpointsReader(LocalRunner(), "~/.codex-services.env", shared=("$HOME/team.key",)).read(environ={})
    assert ep.job_id == "4" and [(a.path, a.mode, a.readers) for a in ep.access] == [
        ("~/.codex-services.env", "0644", "everyone"), ("$HOME/team.key", "0600", "root only")]
