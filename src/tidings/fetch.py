"""Async HTTP for feeds: conditional GET, size and time limits, retries, per-host politeness.

`fetch_all` never raises for a source's failure: each FetchResult carries a short reason instead, so
one broken feed never stops the others.
"""
from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import random
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from .model import FetchResult, Source


@dataclass(slots=True)
class FetchOptions:
    concurrency: int = 16
    per_host: int = 4
    timeout: float = 20.0  # seconds for the whole request, body included
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 0.5  # first retry delay; doubles each time
    max_retry_after: float = 60.0  # a longer Retry-After fails the source now instead of waiting
    user_agent: str = "tidings/0.1"


class _Failure(Exception):
    def __init__(self, reason: str, retry: bool = False, retry_after: float | None = None, status: int = 0):
        super().__init__(reason)
        self.reason, self.retry, self.retry_after, self.status = reason, retry, retry_after, status


def _size(n: int) -> str:
    """`15 MiB` for whole MiB, else the exact byte count (never `15 MiB > 15 MiB`)."""
    return f"{n // (1 << 20)} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now or time.time()))


# --- bounded content decoding ------------------------------------------------------------------------
# httpx decodes a whole network chunk at once: 1.5 KB of brotli can become 1 GB in one call, before any
# size check runs. So the body is read raw and decoded here, at most about _PIECE bytes per step, and the
# size cap is checked after every step: a compression bomb costs at most max_bytes + a few MiB.

_PIECE = 1 << 20

try:  # brotli >= 1.2 can stop after a given amount of output; older ones cannot, so br is not offered
    import brotli as _brotli

    _brotli.Decompressor().process(b"", output_buffer_limit=1)
    BROTLI = True
except Exception:  # noqa: BLE001 - ImportError, TypeError (old API), brotlicffi
    BROTLI = False

ACCEPT_ENCODING = "gzip, deflate, br" if BROTLI else "gzip, deflate"
# Compressions we recognise but cannot decode: fail with a reason instead of parsing the raw bytes.
_UNSUPPORTED = {"zstd", "compress", "x-compress", "br"} - ({"br"} if BROTLI else set())


class _DecodeError(Exception):
    pass


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    def __init__(self, gzip: bool):
        self.gzip, self.started = gzip, False
        self.d = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self.started and data and not self.gzip:
            self.started = True
            try:  # "deflate" is meant to be zlib-wrapped; some servers send raw deflate (as httpx allows)
                zlib.decompressobj().decompress(data[:64], 1)
            except zlib.error:
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)
        while data and not self.d.eof:
            try:
                out = self.d.decompress(data, _PIECE)
            except zlib.error as e:
                raise _DecodeError(str(e)) from None
            data = self.d.unconsumed_tail
            if out:
                yield out
            elif data:  # no progress with input left: corrupt stream
                raise _DecodeError("no progress decoding the body")

    def flush(self) -> Iterator[bytes]:
        try:
            out = self.d.flush()
        except zlib.error as e:
            raise _DecodeError(str(e)) from None
        if out:
            yield out


class _Brotli:
    def __init__(self):
        self.d = _brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        try:
            out = self.d.process(data, output_buffer_limit=_PIECE)
            while True:
                if out:
                    yield out
                if self.d.can_accept_more_data():
                    break
                out = self.d.process(b"", output_buffer_limit=_PIECE)
                if not out:
                    break
        except _brotli.error as e:
            raise _DecodeError(str(e) or "brotli error") from None

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Chain:
    """Content-Encoding "a, b" was applied a then b: decode b, then a."""

    def __init__(self, decoders: list):
        self.decoders = decoders

    def _through(self, pieces: Iterator[bytes], i: int) -> Iterator[bytes]:
        if i == len(self.decoders):
            yield from pieces
            return
        d = self.decoders[i]
        for piece in pieces:
            yield from self._through(d.feed(piece), i + 1)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(iter((data,)), 0)

    def flush(self) -> Iterator[bytes]:
        for i, d in enumerate(self.decoders):
            yield from self._through(d.flush(), i + 1)


def content_decoder(header: str) -> _Chain:
    """A bounded decoder for a Content-Encoding header value. Names nobody uses for compression
    (`utf-8`, `none`: misconfigured servers) are ignored, as httpx does."""
    decoders: list = []
    for name in reversed([n.strip().lower() for n in (header or "").split(",")]):
        if name in ("gzip", "x-gzip"):
            decoders.append(_Zlib(gzip=True))
        elif name == "deflate":
            decoders.append(_Zlib(gzip=False))
        elif name == "br" and BROTLI:
            decoders.append(_Brotli())
        elif name in _UNSUPPORTED:
            raise _DecodeError(f"unsupported Content-Encoding {name!r}")
    return _Chain(decoders or [_Identity()])


def make_client(opts: FetchOptions) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        http2=True,
        follow_redirects=True,
        max_redirects=opts.max_redirects,
        timeout=httpx.Timeout(opts.timeout),
        headers={"User-Agent": opts.user_agent, "Accept-Encoding": ACCEPT_ENCODING,
                 "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                           "application/json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
        limits=httpx.Limits(max_connections=max(opts.concurrency, 1) * 2,
                            max_keepalive_connections=max(opts.concurrency, 1)),
    )


async def _attempt(client: httpx.AsyncClient, source: Source, headers: dict[str, str],
                   opts: FetchOptions) -> FetchResult:
    try:
        async with asyncio.timeout(opts.timeout):
            async with client.stream("GET", source.url, headers=headers) as resp:
                if resp.status_code == 304:
                    await resp.aread()  # an empty body, but reading it keeps the connection for reuse
                    return FetchResult(source, status=304, not_modified=True, final_url=str(resp.url),
                                       etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                                       last_modified=resp.headers.get("Last-Modified")
                                       or headers.get("If-Modified-Since"), headers=dict(resp.headers))
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise _Failure(f"HTTP {resp.status_code}", retry=True,
                                   retry_after=retry_after_seconds(resp.headers.get("Retry-After")),
                                   status=resp.status_code)
                if resp.status_code >= 400:
                    raise _Failure(f"HTTP {resp.status_code}", status=resp.status_code)
                if resp.status_code >= 300:
                    raise _Failure(f"HTTP {resp.status_code} without a usable Location", status=resp.status_code)
                declared = resp.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > opts.max_bytes:
                    # Compressed beyond the cap: the decoded body can only be larger.
                    raise _Failure(f"too large ({_size(int(declared))} > {_size(opts.max_bytes)})")
                try:
                    decoder = content_decoder(resp.headers.get("Content-Encoding", ""))
                except _DecodeError as e:
                    raise _Failure(f"cannot decode the response: {e}") from None
                chunks, total, raw = [], 0, 0

                def take(pieces: Iterator[bytes]) -> None:
                    nonlocal total
                    for piece in pieces:  # each piece is at most ~1 MiB, checked before the next is made
                        total += len(piece)
                        if total > opts.max_bytes:
                            raise _Failure(f"too large (more than {_size(opts.max_bytes)})")
                        chunks.append(piece)

                try:
                    async for chunk in resp.aiter_raw():
                        raw += len(chunk)
                        if raw > opts.max_bytes:
                            raise _Failure(f"too large (more than {_size(opts.max_bytes)})")
                        take(decoder.feed(chunk))
                    take(decoder.flush())
                except _DecodeError as e:
                    raise _Failure(f"cannot decode the response: {_short(e)}") from None
                return FetchResult(source, status=resp.status_code, body=b"".join(chunks),
                                   content_type=resp.headers.get("Content-Type", ""),
                                   etag=resp.headers.get("ETag"), last_modified=resp.headers.get("Last-Modified"),
                                   final_url=str(resp.url), headers=dict(resp.headers))
    except _Failure:
        raise
    except (TimeoutError, httpx.TimeoutException):
        raise _Failure(f"timed out after {opts.timeout:g} s", retry=True) from None
    except httpx.TooManyRedirects:
        raise _Failure(f"too many redirects (more than {opts.max_redirects})") from None
    except httpx.ConnectError as e:
        raise _Failure(f"cannot connect: {_short(e)}", retry=True) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
        raise _Failure(f"connection broken: {_short(e)}", retry=True) from None
    except httpx.DecodingError as e:
        raise _Failure(f"cannot decode the response: {_short(e)}") from None
    except httpx.UnsupportedProtocol:
        raise _Failure("unsupported URL scheme") from None
    except (httpx.InvalidURL, httpx.HTTPError) as e:
        raise _Failure(f"{type(e).__name__}: {_short(e)}") from None


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


def _short(e: Exception) -> str:
    """First line, printable (it may quote a server's bytes and ends up on a terminal), ≤ 200 chars."""
    text = (str(e) or type(e).__name__).splitlines() or [type(e).__name__]
    return _UNPRINTABLE.sub("?", text[0])[:200]


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
        except _Failure as f:
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
    overall = asyncio.Semaphore(opts.concurrency)
    per_host: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(opts.per_host))
    own = client is None
    client = client or make_client(opts)

    async def run(source: Source) -> FetchResult:
        host = urlsplit(source.url).netloc
        async with per_host[host], overall:
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
