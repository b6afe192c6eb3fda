"""On a laptop (`login.local = false`, the tunnel keeper running) the client goes through the
console's tunnels and reads the key file on the login node; Neo4j the same way."""

from __future__ import annotations

from pathlib import Path

from codex_console.backends.tunnels import TunnelManager
from codex_console.client import AsyncEmbedClient, Locator, async_graph_driver
from codex_console.client.graph import locate_graph

from ..helpers import free_port, live, minilm_path

KEY = "laptop-key"


async def test_the_client_uses_the_tunnels_and_the_key_on_the_login_node(sandbox, sandbox_config, tmp_path):
    cfg = sandbox_config
    assert not cfg.login.local
    cfg.tunnels.forwards = ["embed", "bolt"]
    cfg.tunnels.embed_local_port, cfg.tunnels.bolt_local_port = free_port(), free_port()
    cfg.services.bolt_port = sandbox.bolt_port
    cfg.services.endpoints_file = str(tmp_path / "services.env")
    cfg.services.api_key_file = str(tmp_path / "embed.key")
    Path(cfg.services.api_key_file).write_text(KEY + "\n")
    with live(minilm_path(), api_key=KEY, dimension=None) as server:
        cfg.services.embed_port = int(server.url.rsplit(":", 1)[1])
        Path(cfg.services.endpoints_file).write_text(
            f"EMBED_URL=http://localhost:{cfg.services.embed_port}\nNEO4J_URI=bolt://localhost:{sandbox.bolt_port}\n"
            "JOB_ID=5\nNODE=localhost\nSTALE=0\n")
        manager = TunnelManager(cfg)
        try:
            tunnels = await manager.start()
            assert all(t.up for t in tunnels), tunnels
            async with AsyncEmbedClient.from_environment(cfg, environ={}) as client:
                result = await client.embed_detailed(["through the tunnel"])
                note = client.locator.key_note
            assert list(result.stats.by_replica) == [f"http://127.0.0.1:{cfg.tunnels.embed_local_port}"]
            assert result.dimension == 384 and note == f"{cfg.services.api_key_file} on {cfg.login.host}"
            locator = Locator(cfg, {})
            assert (await locate_graph(locator, 0))[0] == f"bolt://127.0.0.1:{cfg.tunnels.bolt_local_port}"
            driver = await async_graph_driver(cfg, environ={})
            async with driver, driver.session() as session:
                assert (await (await session.run("RETURN 1 AS one")).single())["one"] == 1
        finally:
            manager.stop()
