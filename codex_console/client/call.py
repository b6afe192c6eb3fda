"""One embed call: batches spread over the replicas, failures survived, and either every vector
in order or one error that says what was tried (never a partial or reordered result)."""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import httpx

from .errors import ClientError, NotAllowed, RequestRefused, ServicesUnavailable
from .replicas import Replica

if TYPE_CHECKING:
    from .embed import AsyncEmbedClient

TRY_AGAIN = (429, 503)
LONGEST_REST = 60.0  # a Retry-After longer than this (or not a number) is taken as this
REREAD_EVERY = 10.0  # seconds between looks at the endpoints while everything works
Progress = Callable[[int, int], None]  # (texts done, texts in all)


@dataclass
class CallStats:
    """What one call took."""

    requests: int = 0
    retries: int = 0  # 429/503 answers waited out
    failovers: int = 0  # batches moved on after a refused or dropped connection or another 5xx
    done: int = 0  # texts embedded so far
    by_replica: dict[str, int] = field(default_factory=dict)  # texts each replica embedded


def jitter(seconds: float) -> float:
    """A little later than asked, at random: clients told the same Retry-After do not all
    come back at the same moment."""
    return seconds * random.uniform(1.0, 1.3)


def retry_after(response: httpx.Response, answers: int) -> float:
    """The server's Retry-After (seconds, at most a minute: the rest outlives this call), else
    exponential backoff from 0.5 s up to 30 s."""
    try:
        asked = float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return min(30.0, 0.5 * 2 ** (answers - 1))
    return min(LONGEST_REST, max(0.0, asked)) if math.isfinite(asked) else LONGEST_REST


def detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        text = body.get("detail") if isinstance(body, dict) else None
    except ValueError:
        text = None
    return str(text or response.text[:200] or response.reason_phrase).strip()


def no_answer(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or 'refused'})"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    return f"connection lost ({type(exc).__name__}: {exc})"


class Call:
    def __init__(self, client: AsyncEmbedClient, texts: list[str], body: dict[str, Any], deadline: float,
                 on_progress: Progress | None = None) -> None:
        self.client, self.texts, self.body, self.deadline = client, texts, body, deadline
        self.options = client.options
        self.until = time.monotonic() + deadline
        self.on_progress = on_progress
        self.stats = CallStats()
        self.model = ""
        self.dimension = 0

    async def run(self) -> list[list[float]]:
        size = self.options.batch_size
        batches = [self.texts[i:i + size] for i in range(0, len(self.texts), size)]
        results: list[list[list[float]]] = [[] for _ in batches]
        todo = list(reversed(range(len(batches))))

        async def worker() -> None:
            while todo:
                i = todo.pop()
                results[i] = await self.send(batches[i])

        await self.client.refresh(1.0)
        workers = [asyncio.create_task(worker()) for _ in range(min(self.options.concurrency, len(batches)))]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        vectors = [row for part in results for row in part]
        if len(vectors) != len(self.texts):  # every batch checks its own count: cannot happen
            raise ClientError(f"internal error: {len(vectors)} vectors for {len(self.texts)} texts")
        return vectors

    async def send(self, texts: list[str]) -> list[list[float]]:
        """One batch, until a replica embeds it, the servers keep saying "try again"
        `max_attempts` times, or the deadline passes."""
        answers, key_again = 0, True
        while True:
            replica = await self.replica()
            headers = await self.headers()
            left = self.until - time.monotonic()
            if left <= 0:
                raise ServicesUnavailable(self.explain())
            timeout = min(self.options.request_timeout, left)
            replica.inflight += 1
            replica.sent += 1
            self.stats.requests += 1
            try:
                # httpx's timeout is per phase (connect, write, read): the call's deadline is
                # the whole request's.
                async with asyncio.timeout(left):
                    response = await self.client.http.post(
                        replica.url + "/embed", json={**self.body, "texts": texts}, headers=headers,
                        timeout=timeout)
            except TimeoutError:  # the call's deadline cut it short: nobody to blame
                raise ServicesUnavailable(self.explain()) from None
            except httpx.PoolTimeout:  # this client's own connections are all busy: no replica's fault
                continue
            except httpx.TimeoutException as exc:
                if timeout < self.options.request_timeout:  # the call's deadline cut it short
                    raise ServicesUnavailable(self.explain()) from None
                self.client.replicas.failed(replica, no_answer(exc))
                self.stats.failovers += 1
                await self.client.refresh(0.25)
                continue
            except httpx.TransportError as exc:
                self.client.replicas.failed(replica, no_answer(exc))
                self.stats.failovers += 1
                await self.client.refresh(0.25)
                continue
            finally:
                replica.inflight -= 1
            status = response.status_code
            if status == 200:
                return self.accept(replica, response, texts)
            if status == 401 and key_again:  # the key file may have been made since we looked
                key_again = False
                await self.client.locator.api_key(again=True)
                continue
            if status not in TRY_AGAIN and status < 500:
                raise RequestRefused(self.refused(replica, response))
            answers += 1
            why = f"{status} {detail(response)}"
            if answers >= self.options.max_attempts:
                raise ServicesUnavailable(f"gave up on a batch after {answers} attempts answered \"try again\" "
                                          f"or 5xx (last: {replica.url}: {why}); nothing returned")
            if status in TRY_AGAIN:
                self.client.replicas.rest(replica, why, jitter(retry_after(response, answers)))
                self.stats.retries += 1
            else:
                self.client.replicas.failed(replica, why)
                self.stats.failovers += 1
            if status != 429:
                await self.client.refresh(0.25)

    async def replica(self) -> Replica:
        """A usable replica; while there is none, re-read the endpoints and wait (a requeue,
        every replica resting) until the deadline."""
        client = self.client
        await client.refresh(REREAD_EVERY)  # a long call sees replicas come back or a successor job
        while True:
            replica = client.replicas.pick()
            if replica is not None:
                return replica
            found = await client.refresh(0.25)
            replica = client.replicas.pick()
            if replica is not None:
                return replica
            if found.denied and not found.endpoints.embed_urls:
                raise NotAllowed("cannot read the endpoints file: " + "; ".join(found.denied))
            remaining = self.until - time.monotonic()
            if remaining <= 0:
                raise ServicesUnavailable(self.explain())
            back = client.replicas.next_back()
            await asyncio.sleep(max(0.01, min(self.options.reread, remaining, math.inf if back is None else back)))

    async def headers(self) -> dict[str, str]:
        key = await self.client.locator.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def accept(self, replica: Replica, response: httpx.Response, texts: list[str]) -> list[list[float]]:
        try:
            data = response.json()
            vectors, model = data["embeddings"], str(data.get("model", ""))
            width = len(vectors[0])
            uneven = len(vectors) != len(texts) or any(len(v) != width for v in vectors)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            raise RequestRefused(f"{replica.url} answered 200 without embeddings") from None
        if uneven:
            raise RequestRefused(f"{replica.url} answered {len(vectors)} vectors for {len(texts)} texts")
        if self.model and (model, width) != (self.model, self.dimension):
            raise ClientError(f"the replicas serve different models ({self.model}, {self.dimension} dims; "
                              f"{replica.url}: {model}, {width} dims): nothing returned")
        self.model, self.dimension = model, width
        self.client.replicas.served(replica, len(texts))
        self.stats.done += len(texts)
        self.stats.by_replica[replica.url] = self.stats.by_replica.get(replica.url, 0) + len(texts)
        if self.on_progress is not None:
            self.on_progress(self.stats.done, len(self.texts))
        return vectors

    def refused(self, replica: Replica, response: httpx.Response) -> str:
        said = f"{replica.url} refused the request: {response.status_code} {detail(response)}"
        if response.status_code == 401:
            return f"{said}; the API key was looked for in: {self.client.locator.key_note or 'nowhere'}"
        return said

    def explain(self) -> str:
        found = self.client.found
        ep = found.endpoints
        if ep.source:
            state = "STALE" if ep.stale else "serving"
            said = (f"{ep.source} says job {ep.job_id or '?'} on {ep.node or '?'}: {state}"
                    + (f" ({ep.reason})" if ep.reason else "") + f", {len(ep.embed_urls)} embed URL(s)")
        else:
            said = "no endpoints file and no $IMAS_CODEX_EMBED_REMOTE_URL"
        hint = ""
        if not ep.source and not self.client.locator.cfg.login.local:
            hint = " On a laptop the services are reached through `codex-console tunnel start`."
        return (f"no embed server answered within the {self.deadline:g} s deadline. {said}.{hint} "
                f"Looked at: {'; '.join(found.notes) or 'nothing'}. Replicas: {self.client.replicas.describe()}")
