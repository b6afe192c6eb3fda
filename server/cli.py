"""`codex-embed-server`: serve a local embedding model over HTTP."""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

from codex_console.protocol import EXIT_DEVICE  # the GPU itself is unusable: the job may move off the node

from . import __version__
from .auth import KeyFileError, is_loopback, read_key_file
from .settings import Settings

log = logging.getLogger("server.cli")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="codex-embed-server",
        description="Serve a local embedding model (Qwen3-Embedding or a sentence-transformers folder) "
                    "with dynamic batching. Every flag also reads CODEX_EMBED_<FLAG> from the environment.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--model", help="local model folder (never downloaded) [CODEX_EMBED_MODEL]")
    p.add_argument("--served-name", help="model name in responses (default: the folder's name)")
    p.add_argument("--host", help="bind address (default 0.0.0.0)")
    p.add_argument("--port", type=int, help="port (default 18765)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (N among CUDA_VISIBLE_DEVICES)")
    p.add_argument("--dtype", help="auto (fp16 on CUDA, fp32 on CPU) | float16 | float32 | bfloat16 "
                   "(bfloat16 changes the vectors: cosine to float32 >= 0.99992 on MiniLM, CPU)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: the usable CPUs)")
    p.add_argument("--no-packing", dest="packing", action="store_const", const=False,
                   help="pad each text to the batch's longest instead of packing texts into rows "
                   "(the default on CUDA; packing is the default on the CPU)")
    p.add_argument("--packing", dest="packing", action="store_const", const=True,
                   help="pack texts into shared rows on CUDA too")
    p.add_argument("--dimension", type=int, help="default output dimension, Matryoshka (default 256)")
    p.add_argument("--max-length", type=int, help="max tokens per text; longer texts are truncated")
    p.add_argument("--max-batch-tokens", type=int, help="tokens in one forward (16384 on CUDA, 2048 on CPU)")
    p.add_argument("--max-batch-size", type=int, help="texts in one forward at most (256 on CUDA, 64 on CPU)")
    p.add_argument("--max-texts", type=int, help="texts per request at most (2048)")
    p.add_argument("--max-queue", type=int, help="texts waiting at most before 429 (8192)")
    p.add_argument("--max-body-bytes", type=int, help="bytes of one request body at most (16 MiB)")
    p.add_argument("--max-inflight-bytes", type=int,
                   help="body bytes of all requests in progress at most; over it: 429 (64 MiB)")
    p.add_argument("--max-failed-batches", type=int,
                   help="forwards failing in a row before /ready says 503 and the server exits (5)")
    p.add_argument("--request-timeout", type=float, help="seconds a request may wait (120)")
    p.add_argument("--api-key-file", help="file holding the API key clients must send as Bearer; "
                   "refused when empty or readable by others (0600 or 0640)")
    p.add_argument("--query-task", help="task text of the query instruction prompt")
    p.add_argument("--log-level", help="debug | info | warning")
    return p


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 stopped cleanly, 1 model not loaded or replica broken, 2 bad settings,
    3 the GPU is unusable (CUDA errors): the job body requeues off the node on that code.

    OpenMP is left at its default (workers spin ~300k rounds, then sleep). Measured on 2 cores,
    a one-text forward on 2 threads takes 8.4 ms so, 15.6 ms with OMP_WAIT_POLICY=PASSIVE
    (every parallel region waits for a sleeping worker), 11.5 ms on one thread."""
    args = build_parser().parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    try:
        settings = Settings(**given)
        api_key = read_key_file(settings.api_key_file) if settings.api_key_file else settings.api_key
    except ValidationError as exc:
        missing = [e["loc"][0] for e in exc.errors() if e["type"] == "missing"]
        if missing:
            print(f"codex-embed-server: --{missing[0]} is required (or CODEX_EMBED_{str(missing[0]).upper()})",
                  file=sys.stderr)
        else:
            print(f"codex-embed-server: {exc}", file=sys.stderr)
        return 2
    except KeyFileError as exc:
        print(f"codex-embed-server: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not api_key and not is_loopback(settings.host):
        log.warning("serving %s:%d without an API key: anyone who can reach this port can use it "
                    "(--api-key-file)", settings.host, settings.port)
    import uvicorn
    from transformers.utils import logging as hf_logging

    from .app import create_app

    hf_logging.disable_progress_bar()  # a progress bar per load is noise in a job log

    app = create_app(settings, api_key=api_key)
    server = uvicorn.Server(uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout)))
    service = app.state.service
    # A server that cannot load its model, or whose batches keep failing, exits, so the job's
    # supervisor sees it fail and restarts it.
    service.on_fatal = lambda: setattr(server, "should_exit", True)
    server.run()
    if service.load_error:
        print(f"codex-embed-server: model not loaded: {service.load_error}", file=sys.stderr)
        return failure_code(service.load_error)
    if service.broken:
        print(f"codex-embed-server: replica broken: {service.broken}", file=sys.stderr)
        return failure_code(service.broken)
    return 0


DEVICE_WORDS = ("cuda", "nvidia", "device-side assert", "ecc error", "gpu is lost", "nvml")


def failure_code(reason: str) -> int:
    """EXIT_DEVICE (3) when the failure points at the GPU, else 1."""
    return EXIT_DEVICE if any(word in reason.lower() for word in DEVICE_WORDS) else 1


if __name__ == "__main__":
    sys.exit(main())
