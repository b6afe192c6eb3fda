"""The real `codex-embed-server` process: /ready gating, and SIGTERM that finishes in-flight work."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from ..helpers import free_port
from .helpers import CORPUS


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


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=120)


def test_version():
    from server import __version__

    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"codex-embed-server {__version__}"


@pytest.mark.parametrize("mode,content,message", [
    (0o600, "", "is empty"),
    (0o600, "  \n", "is empty"),
    (0o644, "sekrit", "readable or writable by others (mode 0644); run: chmod o-rwx"),
    (0o602, "sekrit", "readable or writable by others"),
])
def test_a_key_file_that_is_empty_or_open_to_others_is_refused(tmp_path, mode, content, message):
    key = tmp_path / "key"
    key.write_text(content)
    key.chmod(mode)
    out = cli("--model", str(tmp_path / "nope"), "--api-key-file", str(key), "--port", str(free_port()))
    assert out.returncode == 2 and message in out.stderr


def test_a_missing_key_file_is_refused(tmp_path):
    out = cli("--model", str(tmp_path), "--api-key-file", str(tmp_path / "missing"))
    assert out.returncode == 2 and "cannot read the API key file" in out.stderr


def test_a_group_readable_key_file_is_accepted_and_no_warning_is_given(tmp_path):
    key = tmp_path / "key"
    key.write_text("sekrit\n")
    key.chmod(0o640)
    # Past the key checks, the server fails on the model folder: exit 1, not 2.
    out = cli("--model", str(tmp_path / "nope"), "--api-key-file", str(key), "--host", "0.0.0.0",
              "--port", str(free_port()))
    assert out.returncode == 1 and "not a model folder" in out.stderr
    assert "without an API key" not in out.stderr


def test_serving_every_address_without_a_key_warns(tmp_path):
    out = cli("--model", str(tmp_path / "nope"), "--host", "0.0.0.0", "--port", str(free_port()))
    assert "serving 0.0.0.0" in out.stderr and "without an API key" in out.stderr
    quiet = cli("--model", str(tmp_path / "nope"), "--host", "127.0.0.1", "--port", str(free_port()))
    assert "without an API key" not in quiet.stderr


def test_a_failure_that_points_at_the_gpu_exits_3():
    from server.cli import EXIT_DEVICE, failure_code

    assert failure_code("RuntimeError: CUDA error: an illegal memory access was encountered") == EXIT_DEVICE == 3
    assert failure_code("ModelLoadError: device 'cuda' asked for, but CUDA is not available here") == 3
    assert failure_code("ModelLoadError: /models/x is not a model folder (no config.json)") == 1
