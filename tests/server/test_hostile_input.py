"""Malformed requests of every kind get a 4xx, bodies never stall the event loop, and the server
keeps answering (the full run, with timings, is scripts/fuzz_server.py)."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import httpx
import pytest

from .helpers import AUTH, raw_request

spec = importlib.util.spec_from_file_location("fuzz_server", Path(__file__).parents[2] / "scripts" / "fuzz_server.py")
fuzz_server = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz_server)

SMALL_KINDS = [k for k in fuzz_server.KINDS if k != "16 MiB bodies"]


@pytest.fixture(scope="module")
def open_server(minilm_path):
    from ..helpers import live

    with live(minilm_path, dimension=None) as srv:
        yield srv


@pytest.mark.parametrize("kind", SMALL_KINDS)
def test_a_hundred_malformed_requests_of_each_kind_get_4xx(open_server, kind):
    port = open_server.settings.port
    statuses = {fuzz_server.send(port, route, headers, body, None)
                for route, headers, body in fuzz_server.case_bodies(kind, 100, seed=1)}
    assert statuses and all(s is not None and 400 <= s < 500 for s in statuses), statuses
    assert httpx.post(open_server.url + "/embed", json={"texts": ["still here"]}).status_code == 200


def test_16_mib_bodies_get_4xx_while_health_keeps_answering(open_server):
    port = open_server.settings.port
    for route, headers, body in fuzz_server.case_bodies("16 MiB bodies", 4, seed=2):
        answers: list[int] = []
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                answers.append(httpx.get(open_server.url + "/health", timeout=10).status_code)

        poller = threading.Thread(target=poll)
        poller.start()
        status = fuzz_server.send(port, route, headers, body, None)
        done.set()
        poller.join()
        assert status in (400, 413), status
        assert answers and set(answers) == {200}


def test_the_shapes_of_the_fuzz_cases_are_what_they_say():
    body = next(fuzz_server.case_bodies("16 MiB bodies", 1))[2]
    assert len(body) > 16 * 2**20
    assert next(fuzz_server.case_bodies("deep nesting", 1, seed=3))[2].count(b"[") + \
        next(fuzz_server.case_bodies("deep nesting", 1, seed=3))[2].count(b"{") > 500


def test_a_long_text_is_cut_before_tokenizing_and_counted(open_server):
    r = httpx.post(open_server.url + "/embed", json={"texts": ["plasma " * 200_000, "short"]}, timeout=60)
    assert r.status_code == 200 and r.json()["truncated"] == 1


def test_too_many_bytes_in_flight_is_429_with_retry_after(minilm_path):
    from ..helpers import live

    with live(minilm_path, max_inflight_bytes=1000, max_body_bytes=900) as srv:
        port = srv.settings.port
        import socket

        with socket.create_connection(("127.0.0.1", port)) as held:  # declares 800 bytes, sends 10
            held.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 800\r\n\r\n" + b'{"texts": ')
            body = b'{"texts": ["' + b"a" * 300 + b'"]}'
            status, answer = raw_request(port, b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                         + str(len(body)).encode() + b"\r\n\r\n", body)
            assert status == 429 and b"in flight" in answer
        # The held request is gone: its bytes are free again.
        for _ in range(50):
            if httpx.post(srv.url + "/embed", content=body).status_code == 200:
                break
        else:
            pytest.fail("in-flight bytes were not given back")


def test_chunked_body_over_the_limit_is_413(minilm_path):
    from ..helpers import live

    with live(minilm_path, max_body_bytes=1000) as srv:
        def chunks():
            yield b'{"texts": ["'
            for _ in range(20):
                yield b"a" * 100
            yield b'"]}'

        r = httpx.post(srv.url + "/embed", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "byte limit" in r.json()["detail"]
        assert httpx.post(srv.url + "/embed", json={"texts": ["ok"]}, headers=AUTH).status_code == 200
