"""Every bad input is a 4xx with a clear message, and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from .helpers import AUTH

CASES = [
    ("malformed json", b"{texts: [", 400, "not valid JSON"),
    ("not an object", b"[1, 2]", 422, "JSON object"),
    ("missing texts", b'{"normalize": true}', 422, "texts: Field required"),
    ("empty texts", b'{"texts": []}', 422, "at least one text"),
    ("non-string item", b'{"texts": ["ok", 3]}', 422, "texts.1: Input should be a valid string"),
    ("empty string", b'{"texts": ["ok", "  "]}', 422, "item 1 is an empty string"),
    ("too many texts", b'{"texts": [' + b",".join([b'"x"'] * 65) + b"]}", 413, "too many texts"),
    ("oversized body", b'{"texts": ["' + b"a " * 120_000 + b'"]}', 413, "byte limit"),
    ("dimension zero", b'{"texts": ["a"], "dimension": 0}', 422, "dimension must be between 1 and 384"),
    ("dimension negative", b'{"texts": ["a"], "dimension": -5}', 422, "between 1 and 384"),
    ("dimension above native", b'{"texts": ["a"], "dimension": 385}', 422, "between 1 and 384"),
    ("dimension not int", b'{"texts": ["a"], "dimension": "64"}', 422, "dimension"),
    ("unknown prompt", b'{"texts": ["a"], "prompt_name": "poem"}', 422, "unknown prompt_name 'poem'"),
    ("deep nesting", b'{"texts": ' + b"[" * 2000 + b"]" * 2000 + b"}", 400, "not valid JSON"),
    ("5000-digit dimension", b'{"texts": ["a"], "dimension": ' + b"9" * 5000 + b"}", 400, "not valid JSON"),
    ("float dimension", b'{"texts": ["a"], "dimension": 1e19}', 422, "dimension"),
    ("truncated body", b'{"texts": ["a", "b', 400, "not valid JSON"),
    ("not utf-8", b'{"texts": ["\xff\xfe"]}', 400, "not valid JSON"),
    ("both dimension fields", b'{"texts": ["a"], "dimension": 8, "dimensions": 8}', 422, "not both"),
]


@pytest.mark.parametrize("name,body,status,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_4xx(minilm_server, name, body, status, message):
    r = httpx.post(minilm_server.url + "/embed", content=body, headers=AUTH, timeout=30)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert httpx.get(minilm_server.url + "/health").json()["status"] == "ok"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sekrit"}])
def test_wrong_or_missing_key_is_401_but_health_stays_open(minilm_server, headers):
    r = httpx.post(minilm_server.url + "/embed", json={"texts": ["a"]}, headers=headers)
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    for route in ("/health", "/ready", "/metrics"):
        assert httpx.get(minilm_server.url + route).status_code == 200


def test_openai_bad_inputs(minilm_server):
    url = minilm_server.url + "/v1/embeddings"
    assert httpx.post(url, json={"input": ""}, headers=AUTH).status_code == 422
    assert httpx.post(url, json={"input": [1, 2]}, headers=AUTH).status_code == 422
    r = httpx.post(url, json={"input": "a", "encoding_format": "hex"}, headers=AUTH)
    assert r.status_code == 422 and "encoding_format" in r.json()["detail"]


def test_server_still_embeds_after_all_of_that(minilm_server):
    r = httpx.post(minilm_server.url + "/embed", json={"texts": ["still here"]}, headers=AUTH)
    assert r.status_code == 200 and len(r.json()["embeddings"][0]) == 384
    metrics = httpx.get(minilm_server.url + "/metrics").text
    assert 'codex_embed_requests_total{route="/embed",status="422"}' in metrics
    assert 'codex_embed_requests_total{route="/embed",status="401"}' in metrics


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "image/png"])
def test_a_body_that_is_not_json_by_its_content_type_is_415(minilm_server, content_type):
    r = httpx.post(minilm_server.url + "/embed", content=b'{"texts": ["a"]}',
                   headers={**AUTH, "Content-Type": content_type})
    assert r.status_code == 415 and "application/json" in r.json()["detail"]


def test_no_content_type_is_read_as_json(minilm_server):
    r = httpx.post(minilm_server.url + "/embed", content=b'{"texts": ["a"]}', headers=AUTH)
    assert r.status_code == 200


def test_many_wrong_items_make_one_short_message(minilm_server):
    r = httpx.post(minilm_server.url + "/embed", json={"texts": list(range(60))}, headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"].endswith("and 55 more") and len(r.text) < 1000
