"""Naive serving: one padded forward per request, no batching (`python -m benchmarks.naive`)."""

from __future__ import annotations

import argparse
import sys

import uvicorn
from fastapi import FastAPI

from server.model import EmbeddingModel

from .raw import forward_plain


def naive_app(model_path: str, device: str) -> FastAPI:
    model = EmbeddingModel(model_path, device)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/embed")
    def embed(body: dict) -> dict:
        return {"embeddings": forward_plain(model, body["texts"]).tolist()}

    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    uvicorn.run(naive_app(args.model, args.device), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
