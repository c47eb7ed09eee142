"""Feeds over HTTP: conditional GET, retries with backoff, per-host politeness.

Requests, limits and body decoding are the shared HTTP layer's (http.py). `fetch_all` never raises
for a source's failure: each FetchResult carries a short reason instead, so one broken feed never
stops the others.
"""
from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from . import http
from .http import FetchError, Limits, open_url, retry_after_seconds
from .model import FetchResult, Source


@dataclass(slots=True)
class FetchOptions:
    concurrency: int = 16
    per_host: int = 4
    timeout: float = http.TIMEOUT  # seconds for the whole request, body included
    max_bytes: int = http.MAX_BYTES  # counted on the decoded body
    max_redirects: int = http.MAX_REDIRECTS
    retries: int = 2
    backoff: float = 0.5  # first retry delay; doubles each time
    max_retry_after: float = 60.0  # a longer Retry-After fails the source now instead of waiting
    user_agent: str = "tidings/0.1"

    @property
    def limits(self) -> Limits:
        return Limits(timeout=self.timeout, max_bytes=self.max_bytes, max_redirects=self.max_redirects)


def make_client(opts: FetchOptions) -> httpx.AsyncClient:
    return http.make_client(user_agent=opts.user_agent, accept=http.FEED_ACCEPT, timeout=opts.timeout,
                            connections=opts.concurrency)


async def _attempt(client: httpx.AsyncClient, source: Source, headers: dict[str, str],
                   opts: FetchOptions) -> FetchResult:
    async with open_url(client, source.url, opts.limits, headers=headers) as reply:
        status = reply.status
        if status == 304:
            await reply.read()  # an empty body, but reading it keeps the connection for reuse
            return FetchResult(source, status=304, not_modified=True, final_url=reply.url,
                               etag=reply.headers.get("ETag") or headers.get("If-None-Match"),
                               last_modified=reply.headers.get("Last-Modified")
                               or headers.get("If-Modified-Since"), headers=dict(reply.headers))
        if status == 429 or status >= 500:
            raise FetchError(f"HTTP {status}", retry=True, status=status,
                             retry_after=retry_after_seconds(reply.headers.get("Retry-After")))
        if status >= 400:
            raise FetchError(f"HTTP {status}", status=status)
        if status >= 300:
            raise FetchError(f"HTTP {status} without a usable Location", status=status)
        body = await reply.read()
        return FetchResult(source, status=status, body=body, content_type=reply.headers.get("Content-Type", ""),
                           etag=reply.headers.get("ETag"), last_modified=reply.headers.get("Last-Modified"),
                           final_url=reply.url, headers=dict(reply.headers))


async def fetch_one(client: httpx.AsyncClient, source: Source, opts: FetchOptions, *,
                    etag: str | None = None, last_modified: str | None = None) -> FetchResult:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    attempt = 0
    while True:
        try:
            return await _attempt(client, source, headers, opts)
        except FetchError as f:
            if not f.retry or attempt >= opts.retries:
                return FetchResult(source, status=f.status, error=f.reason, retry_after=f.retry_after)
            delay = opts.backoff * (2 ** attempt) * (0.75 + random.random() / 2)
            if f.retry_after is not None:
                if f.retry_after > opts.max_retry_after:
                    return FetchResult(source, status=f.status, retry_after=f.retry_after,
                                       error=f"{f.reason}, retry after {f.retry_after:.0f} s")
                delay = max(delay, f.retry_after)
            attempt += 1
            await asyncio.sleep(delay)


class HostLimits:
    """At most `concurrency` requests at once, and at most `per_host` of them to one host.

    One per event loop, shared by every fetch of a run (asyncio semaphores belong to the loop that uses them).
    """

    def __init__(self, concurrency: int, per_host: int) -> None:
        self.overall = asyncio.Semaphore(concurrency)
        self.per_host: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        # The host first: a request waiting for a busy host does not hold one of the overall slots.
        async with self.per_host[urlsplit(url).netloc], self.overall:
            yield


async def fetch_all(sources: Iterable[Source], opts: FetchOptions, *,
                    state: Callable[[Source], tuple[str | None, str | None]] = lambda s: (None, None),
                    on_result: Callable[[FetchResult], Awaitable[None] | None] | None = None,
                    client: httpx.AsyncClient | None = None) -> list[FetchResult]:
    """Fetch every source, `concurrency` at a time and at most `per_host` per host at once.

    `state(source)` gives the (etag, last_modified) kept from the previous fetch; `on_result` is
    called as each source finishes (for progress and to start parsing early). With `on_result`, the
    returned results carry no body (the callback had it), so memory does not grow with the sources.
    """
    sources = list(sources)
    limits = HostLimits(opts.concurrency, opts.per_host)
    own = client is None
    client = client or make_client(opts)

    async def run(source: Source) -> FetchResult:
        async with limits.slot(source.url):
            etag, lm = state(source)
            result = await fetch_one(client, source, opts, etag=etag, last_modified=lm)
        if on_result is not None:
            maybe = on_result(result)
            if asyncio.iscoroutine(maybe):
                await maybe
            # The callback has the body; the list gather() keeps until every source is done must not
            # hold all of them at once (1,000 feeds × up to max_bytes each).
            return dataclasses.replace(result, body=b"")
        return result

    try:
        return list(await asyncio.gather(*(run(s) for s in sources)))
    finally:
        if own:
            await client.aclose()
