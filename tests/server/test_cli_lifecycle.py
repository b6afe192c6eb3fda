"""The real `codex-embed-server` process: /ready gating, and SIGTERM that finishes in-flight work."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx

from .conftest import CORPUS, free_port


def test_help_and_missing_model():
    out = subprocess.run([sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--max-batch-tokens" in out.stdout
    out = subprocess.run([sys.executable, "-m", "server.cli"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin"})
    assert out.returncode == 2 and "--model is required" in out.stderr


def test_ready_gates_then_sigterm_finishes_in_flight_work(minilm_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "--model", str(minilm_path),
                             "--port", str(port), "--host", "127.0.0.1", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                r = httpx.get(url + "/ready")
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                break
            time.sleep(0.05)
        assert r.status_code == 200
        result: dict[str, object] = {}

        def big_request():
            resp = httpx.post(url + "/embed", json={"texts": CORPUS * 4}, timeout=120)
            result["status"], result["count"] = resp.status_code, resp.json().get("count")

        worker = threading.Thread(target=big_request)
        worker.start()
        time.sleep(0.3)  # the request is in flight
        proc.send_signal(signal.SIGTERM)
        worker.join(120)
        assert result == {"status": 200, "count": len(CORPUS) * 4}
        # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
        assert proc.wait(60) in (0, -signal.SIGTERM)
        log = proc.stdout.read()
        assert "loaded on cpu" in log and "Finished server process" in log
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_model_that_cannot_load_makes_the_server_exit(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')  # a folder, but no model
    out = subprocess.run([sys.executable, "-m", "server.cli", "--model", str(tmp_path), "--port",
                          str(free_port()), "--host", "127.0.0.1"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and "model not loaded" in out.stderr


def test_a_folder_without_config_is_refused_without_the_hub(tmp_path):
    out = subprocess.run([sys.executable, "-m", "server.cli", "--model", str(tmp_path / "nope"),
                          "--port", str(free_port())], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "not a model folder" in out.stderr
