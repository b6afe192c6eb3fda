"""`codex-embed-server`: serve a local embedding model over HTTP."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from pydantic import ValidationError

from .settings import Settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="codex-embed-server",
        description="Serve a local embedding model (Qwen3-Embedding or a sentence-transformers folder) "
                    "with dynamic batching. Every flag also reads CODEX_EMBED_<FLAG> from the environment.")
    p.add_argument("--model", help="local model folder (never downloaded) [CODEX_EMBED_MODEL]")
    p.add_argument("--served-name", help="model name in responses (default: the folder's name)")
    p.add_argument("--host", help="bind address (default 0.0.0.0)")
    p.add_argument("--port", type=int, help="port (default 18765)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (N among CUDA_VISIBLE_DEVICES)")
    p.add_argument("--dtype", help="auto (fp16 on CUDA, fp32 on CPU) | float16 | float32 | bfloat16")
    p.add_argument("--dimension", type=int, help="default output dimension, Matryoshka (default 256)")
    p.add_argument("--max-length", type=int, help="max tokens per text; longer texts are truncated")
    p.add_argument("--max-batch-tokens", type=int, help="padded-token budget of one forward (16384)")
    p.add_argument("--max-batch-size", type=int, help="texts in one forward at most (256)")
    p.add_argument("--max-texts", type=int, help="texts per request at most (2048)")
    p.add_argument("--max-queue", type=int, help="texts waiting at most before 429 (8192)")
    p.add_argument("--request-timeout", type=float, help="seconds a request may wait (120)")
    p.add_argument("--api-key-file", help="file holding the API key clients must send as Bearer")
    p.add_argument("--query-task", help="task text of the query instruction prompt")
    p.add_argument("--log-level", help="debug | info | warning")
    return p


def main(argv: list[str] | None = None) -> int:
    # OpenMP threads that spin between kernels steal the CPU the event loop needs to parse
    # requests; measured on 2 cores, spinning ("ACTIVE") halved the server's throughput.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        missing = [e["loc"][0] for e in exc.errors() if e["type"] == "missing"]
        if missing:
            print(f"codex-embed-server: --{missing[0]} is required (or CODEX_EMBED_{str(missing[0]).upper()})",
                  file=sys.stderr)
        else:
            print(f"codex-embed-server: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn
    from transformers.utils import logging as hf_logging

    from .app import create_app

    hf_logging.disable_progress_bar()  # a progress bar per load is noise in a job log

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout)))
    # A server that cannot load its model exits, so the job's supervisor sees it fail.
    app.state.on_load_error = lambda: setattr(server, "should_exit", True)
    server.run()
    if app.state.service.load_error:
        print(f"codex-embed-server: model not loaded: {app.state.service.load_error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
