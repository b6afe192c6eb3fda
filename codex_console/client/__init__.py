"""The client for tools: embed texts and open Neo4j wherever the services job runs now.

    from codex_console.client import EmbedClient, graph_driver
    with EmbedClient.from_environment() as client:
        vectors = client.embed(["a text", "another"])          # one row per text, in order
        queries = client.embed(["what is a tokamak"], query=True)
    driver = graph_driver()
    llm_urls = endpoints("llm")                                # any http service of the catalogue

Needs httpx (and neo4j for the graph), never torch; numpy rows when numpy is installed.
Where it looks is in `discovery.py`; how calls survive failures in `call.py`.
"""

from __future__ import annotations

from .blocking import EmbedClient
from .call import CallStats
from .discovery import FILE_ENV, KEY_ENV, Locator
from .embed import AsyncEmbedClient, ClientOptions, Embeddings
from .errors import ClientError, NotAllowed, RequestRefused, ServicesUnavailable
from .graph import async_graph_driver, graph_driver
from .services import async_endpoints, endpoints

__all__ = ["EmbedClient", "AsyncEmbedClient", "ClientOptions", "Embeddings", "CallStats", "Locator",
           "graph_driver", "async_graph_driver", "endpoints", "async_endpoints", "ClientError", "NotAllowed",
           "RequestRefused",
           "ServicesUnavailable", "FILE_ENV", "KEY_ENV"]
