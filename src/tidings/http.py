"""The one HTTP layer: every request tidings makes (feeds, full-text pages) goes through here.

    make_client(...)                         an httpx client with our headers; redirects are ours
    open_url(client, url, limits, ...)       GET with redirects followed here, the total-time limit,
                                             and (with an AddressPolicy) the SSRF check on every hop
    Reply.read() / read_body(resp, max_bytes) the body, decoded in bounded steps, capped on decoded bytes
    BodyBudget, body_budget                  a bound on the bytes of large bodies held at once (jobs.Shared's)
    retry_after_seconds(value)               Retry-After as seconds
    decode_html(body, content_type)          HTML bytes → text (BOM, UTF-8, charset labels, GB18030)
    codec_for(label)                         a charset label → Python's codec (parse reads feeds with it too)
    check_public_url / blocked_reason        the address policy (no loopback/private/link-local)

Every failure is a FetchError with a short, printable reason; `retry` says whether trying again
later may help (connection errors, timeouts). Callers decide what a status code means.
"""
from __future__ import annotations

import asyncio
import codecs
import contextvars
import email.utils
import ipaddress
import re
import socket
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from .charsets import codec_for
from .errors import BlockedAddress, DecodeError, FetchError

__all__ = [
    "ACCEPT_ENCODING",
    "BROTLI",
    "FEED_ACCEPT",
    "HTML_ACCEPT",
    "MAX_BYTES",
    "MAX_REDIRECTS",
    "TIMEOUT",
    "AddressPolicy",
    "BlockedAddress",
    "BodyBudget",
    "FetchError",
    "Limits",
    "Reply",
    "blocked_reason",
    "body_budget",
    "check_public_url",
    "codec_for",
    "content_decoder",
    "decode_html",
    "make_client",
    "open_url",
    "pinned",
    "read_body",
    "retry_after_seconds",
    "short_reason",
    "size_text",
]

MAX_BYTES = 15 * 1024 * 1024  # body cap, counted on decoded bytes
TIMEOUT = 20.0  # seconds for the whole request: every hop, the body included
MAX_REDIRECTS = 5

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

Resolver = Callable[[str, int], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Limits:
    timeout: float = TIMEOUT
    max_bytes: int = MAX_BYTES
    max_redirects: int = MAX_REDIRECTS


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Where requests may go. Given to open_url, every hop is checked before it is sent."""

    allow_private: bool = False
    resolve: Resolver | None = None  # (host, port) → addresses; None = socket.getaddrinfo


def size_text(n: int) -> str:
    """`15 MiB` for whole MiB, else the exact byte count (never `15 MiB > 15 MiB`)."""
    return f"{n // (1 << 20)} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


def short_reason(e: BaseException) -> str:
    """First line, printable (it may quote a server's bytes and ends up on a terminal), ≤ 200 chars."""
    text = (str(e) or type(e).__name__).splitlines() or [type(e).__name__]
    return _UNPRINTABLE.sub("?", text[0])[:200]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (never negative)."""
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
# httpx decodes a whole network chunk at once, before any size check: a small bomb fills memory. So the body
# is read raw, decoded in steps of about PIECE bytes and checked after each (docs/reliability.md).

PIECE = 1 << 20

try:  # brotli >= 1.2 can stop after a given amount of output; older ones cannot, so br is not offered
    import brotli as _brotli

    _brotli.Decompressor().process(b"", output_buffer_limit=1)
    BROTLI = True
except Exception:  # noqa: BLE001 - ImportError, TypeError (old API), brotlicffi
    BROTLI = False

ACCEPT_ENCODING = "gzip, deflate, br" if BROTLI else "gzip, deflate"
# Compressions we recognise but cannot decode: fail with a reason instead of handing on raw bytes.
_UNSUPPORTED = {"zstd", "compress", "x-compress", "br"} - ({"br"} if BROTLI else set())


class Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    def __init__(self, gzip: bool) -> None:
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
                out = self.d.decompress(data, PIECE)  # max_length: never more than PIECE from one call
            except zlib.error as e:
                raise DecodeError(str(e)) from None
            data = self.d.unconsumed_tail
            if out:
                yield out
            elif data:  # no progress with input left: corrupt stream
                raise DecodeError("no progress decoding the body")

    def flush(self) -> Iterator[bytes]:
        try:
            out = self.d.flush()
        except zlib.error as e:
            raise DecodeError(str(e)) from None
        if out:
            yield out


class _Brotli:
    def __init__(self) -> None:
        self.d = _brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        try:
            out: bytes = self.d.process(data, output_buffer_limit=PIECE)
            while True:
                if out:
                    yield out
                if self.d.can_accept_more_data():
                    break
                out = self.d.process(b"", output_buffer_limit=PIECE)
                if not out:
                    break
        except _brotli.error as e:
            raise DecodeError(str(e) or "brotli error") from None

    def flush(self) -> Iterator[bytes]:
        # A step that passed PIECE can leave output behind although the decoder says it accepts more
        # input (brotli 1.2.1): after the last input, take it until the stream ends or nothing comes.
        try:
            while not self.d.is_finished():
                out: bytes = self.d.process(b"", output_buffer_limit=PIECE)
                if not out:
                    break
                yield out
        except _brotli.error as e:
            raise DecodeError(str(e) or "brotli error") from None


class _Chain:
    """Content-Encoding "a, b" was applied a then b: decode b, then a."""

    def __init__(self, decoders: list[Decoder]) -> None:
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


def content_decoder(header: str | None) -> Decoder:
    """A bounded decoder for a Content-Encoding header value: each piece it yields is a few PIECEs at
    most, made only when asked for. Names nobody uses for compression (`utf-8`, `none`:
    misconfigured servers) are ignored, as httpx does. Raises DecodeError for zstd, compress, ..."""
    decoders: list[Decoder] = []
    for name in reversed([n.strip().lower() for n in (header or "").split(",")]):
        if name in ("gzip", "x-gzip"):
            decoders.append(_Zlib(gzip=True))
        elif name == "deflate":
            decoders.append(_Zlib(gzip=False))
        elif name == "br" and BROTLI:
            decoders.append(_Brotli())
        elif name in _UNSUPPORTED:
            raise DecodeError(f"unsupported Content-Encoding {name!r}")
    return _Chain(decoders or [_Identity()])


# --- a bound on the bytes of large bodies held at once ------------------------------------------------

class BodyBudget:
    """At most `limit` bytes of large bodies (over FREE bytes) held at once: read, or read and not yet dropped.

    Sixty-four fetches at once could otherwise hold 64 × max_bytes, and the bodies a slower consumer has not
    reached stay in memory beside the ones still arriving. A read whose body passes FREE bytes reserves what
    the body may still become (its declared length, else max_bytes) in one step, so a read never waits while
    holding part of a reservation and reads cannot starve one another; it waits, in turn, while the budget
    cannot hold it, and then shrinks its reservation to the body's size (or gives it back if it fails). The
    body's owner gives that back with `release(body)` once it drops the body, from any thread. One budget
    serves one event loop."""

    FREE = 1 << 20  # the first MiB of a body is never waited for: most feeds are far smaller

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self._loop is None or self._loop is loop

    async def reserve(self, n: int) -> int:
        """Wait until `n` bytes (at most `limit`) fit, take them and return how many were taken."""
        self._loop = self._loop or asyncio.get_running_loop()
        n = min(n, self.limit)
        if not self._waiting and self._fits(n):
            self.held += n
            return n
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((n, granted))
        try:
            await granted
        except asyncio.CancelledError:
            # Granted as it was cancelled: give it back. Either way, those behind it may fit now.
            self.give_back(n if granted.done() and not granted.cancelled() else 0)
            raise
        return n

    def give_back(self, n: int) -> None:
        """Return `n` reserved bytes (on the budget's loop) and grant the waiting reservations that fit, in turn."""
        self.held -= n
        while self._waiting:
            want, granted = self._waiting[0]
            if granted.done():  # cancelled while waiting
                self._waiting.popleft()
                continue
            if not self._fits(want):
                break
            self._waiting.popleft()
            self.held += want
            granted.set_result(None)

    def release(self, body: bytes) -> None:
        """The owner of `body` (a read's result) has dropped it; safe from any thread."""
        if len(body) <= self.FREE or self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self.give_back, len(body))
        except RuntimeError:  # the loop has closed: nothing waits any more
            pass

    def _fits(self, n: int) -> bool:
        return self.held + n <= self.limit  # n is at most `limit`: on an empty budget, anything fits


# The budget of the reads in this context (jobs.refresh_source_async sets it around a fetch); None: no bound.
body_budget: contextvars.ContextVar[BodyBudget | None] = contextvars.ContextVar("body_budget", default=None)


async def read_body(resp: httpx.Response, max_bytes: int, deadline: asyncio.Timeout | None = None) -> bytes:
    """The decoded body of a streamed response, or FetchError("too large ...") as soon as more than
    `max_bytes` have been decoded (or arrived raw, or were declared).

    With a BodyBudget in `body_budget`, a body past BodyBudget.FREE bytes waits for room in it; `deadline`
    (the request's time limit) is moved on by the time waited, which is ours, not the server's."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        # Compressed beyond the cap: the decoded body can only be larger.
        raise FetchError(f"too large ({size_text(int(declared))} > {size_text(max_bytes)})")
    too_large = FetchError(f"too large (more than {size_text(max_bytes)})")
    try:
        decoder = content_decoder(resp.headers.get("Content-Encoding"))
    except DecodeError as e:
        raise FetchError(f"cannot decode the response: {e}") from None
    loop = asyncio.get_running_loop()
    budget = body_budget.get()
    budget = budget if budget is not None and budget.serves(loop) else None
    # What the decoded body may still become: the declared length when it arrives as it is, else the cap.
    most = int(declared) if declared.isdigit() and not resp.headers.get("Content-Encoding") else max_bytes
    chunks: list[bytes] = []
    total = raw = reserved = 0

    def take(pieces: Iterator[bytes]) -> None:
        nonlocal total
        for piece in pieces:  # each piece is at most ~PIECE, checked before the next one is made
            total += len(piece)
            if total > max_bytes:
                raise too_large
            chunks.append(piece)

    async def reserve_when_large() -> None:
        # A large body, and only a large one, keeps a reservation of its size once read (see BodyBudget).
        nonlocal reserved
        if budget is None or reserved or total <= budget.FREE:
            return
        started, when = loop.time(), deadline.when() if deadline is not None else None
        if deadline is not None and when is not None:
            deadline.reschedule(None)  # the time limit stops while we wait for our own memory
        try:
            reserved = await budget.reserve(most)
        finally:
            if deadline is not None and when is not None:
                deadline.reschedule(when + loop.time() - started)

    body = b""
    try:
        async for chunk in resp.aiter_raw():
            raw += len(chunk)
            if raw > max_bytes:
                raise too_large
            take(decoder.feed(chunk))
            await reserve_when_large()
        take(decoder.flush())
        await reserve_when_large()
        body = b"".join(chunks)
    except DecodeError as e:
        raise FetchError(f"cannot decode the response: {short_reason(e)}") from None
    finally:
        if budget is not None and reserved:  # kept: the body's size; a failed read keeps nothing
            budget.give_back(reserved - len(body))
    return body


# --- address policy (SSRF) ---------------------------------------------------------------------------

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    out = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    if any(ip in net for net in _NAT64) or (int(ip) >> 32 == 0 and int(ip) > 1):
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))  # NAT64, IPv4-compatible ::a.b.c.d
    return out


def blocked_reason(address: str) -> str | None:
    """Why an IP address must not be fetched from, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {address!r}"
    candidates: list[IPAddress] = []
    if isinstance(ip, ipaddress.IPv6Address):
        candidates.extend(_embedded_v4(ip))
    candidates.append(ip)
    for a in candidates:
        label = str(a) if a is ip else f"{a} (inside {ip})"
        if a.is_unspecified:
            return f"{label} is unspecified"
        if a.is_loopback:
            return f"{label} is a loopback address"
        if a.is_link_local:
            return f"{label} is link-local"
        if a.is_multicast:
            return f"{label} is multicast"
        if a.version == 4 and a in _CGNAT:
            return f"{label} is carrier-grade NAT"
        if a.is_private:
            return f"{label} is a private address"
        if a.is_reserved:
            return f"{label} is reserved"
        if not a.is_global:
            return f"{label} is not globally routable"
    return None


def _default_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_public_url(url: str, allow_private: bool = False, resolve: Resolver | None = None) -> list[str]:
    """Raise BlockedAddress unless `url` is http(s) and every address of its host is public.

    Returns the checked addresses ([] when `allow_private` skips the address check). `resolve`
    (host, port) → addresses replaces socket.getaddrinfo (tests, custom DNS). Synchronous: from
    async code call it via ``asyncio.to_thread``. A host that does not resolve raises FetchError.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise BlockedAddress(f"bad URL {url!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedAddress(f"scheme {scheme or '(none)'!r} is not allowed (http and https only)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedAddress(f"no host in URL {url!r}")
    if allow_private:
        return []
    port = port or (443 if scheme == "https" else 80)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            addresses = list((resolve or _default_resolve)(host, port))
        except (OSError, UnicodeError) as e:
            raise FetchError(f"cannot resolve {host}: {e}", retry=True) from None
        if not addresses:
            raise FetchError(f"cannot resolve {host}: no address", retry=True) from None
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            raise BlockedAddress(f"{host} refused: {reason}")
    return addresses


def pinned(url: str, addresses: list[str]) -> tuple[str, dict[str, str]]:
    """Request URL and headers that connect to the checked address instead of resolving again.

    Only for plain http, where a DNS answer that changes between check and connect (rebinding)
    would otherwise reach an internal host. https is not pinned: there the certificate check
    already refuses a rebound internal host, and a URL holding an IP would share pooled TLS
    connections (and their SNI) between different sites on one address.
    """
    u = httpx.URL(url)
    if not addresses or u.scheme != "http":
        return url, {}
    try:
        ipaddress.ip_address(u.host)
        return url, {}  # already an address
    except ValueError:
        pass
    headers = {"Host": u.netloc.decode("ascii").rsplit("@", 1)[-1]}
    return str(u.copy_with(host=addresses[0])), headers


# --- requests ----------------------------------------------------------------------------------------

REDIRECTS = frozenset({301, 302, 303, 307, 308})


def make_client(*, user_agent: str, accept: str = "*/*", timeout: float = TIMEOUT,
                connections: int = 16, http2: bool = True) -> httpx.AsyncClient:
    """A client for open_url. It never follows redirects nor decodes bodies itself: open_url and
    read_body do, so that every hop is checked and every byte counted."""
    return httpx.AsyncClient(
        http2=http2,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING, "Accept": accept},
        limits=httpx.Limits(max_connections=max(connections, 1) * 2,
                            max_keepalive_connections=max(connections, 1)),
    )


@dataclass(slots=True)
class Reply:
    """The final (non-redirect) response of open_url; its body is not read until `read()`."""

    url: str  # the URL that answered, after redirects (as written: not the pinned address)
    response: httpx.Response
    max_bytes: int
    deadline: asyncio.Timeout | None = None  # the request's time limit (read_body moves it on while it waits)

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    async def read(self) -> bytes:
        return await read_body(self.response, self.max_bytes, self.deadline)


async def _follow(client: httpx.AsyncClient, url: str, limits: Limits, headers: dict[str, str],
                  policy: AddressPolicy | None) -> tuple[str, httpx.Response]:
    current = url
    for _hop in range(limits.max_redirects + 1):
        target, extra = current, dict[str, str]()
        if policy is not None:
            addresses = await asyncio.to_thread(check_public_url, current, policy.allow_private, policy.resolve)
            target, extra = pinned(current, addresses)
        request = client.build_request("GET", target, headers={**headers, **extra}, timeout=limits.timeout)
        resp = await client.send(request, stream=True, follow_redirects=False)
        location = resp.headers.get("Location", "").strip()
        if resp.status_code not in REDIRECTS or not location:
            return current, resp
        # The redirect's body is not read: it could be as big as any other, and is of no use.
        await resp.aclose()
        nxt = httpx.URL(current).join(location)
        # Checked here, not left to httpx: with cookies in the jar, httpx raises a bare ValueError for it.
        if policy is None and nxt.scheme not in ("http", "https"):  # a policy refuses it on the next hop
            raise FetchError("unsupported URL scheme")
        current = str(nxt)
    raise FetchError(f"too many redirects (more than {limits.max_redirects})")


@asynccontextmanager
async def open_url(client: httpx.AsyncClient, url: str, limits: Limits, *,
                   headers: dict[str, str] | None = None,
                   policy: AddressPolicy | None = None) -> AsyncIterator[Reply]:
    """GET `url`, following up to `limits.max_redirects` redirects here, each hop checked against
    `policy` when one is given (None: the operator's own URLs, such as feeds, go anywhere).

    `limits.timeout` covers everything done inside the `async with`, reading the body included (less any
    wait for room in a BodyBudget).
    Any failure there, transport errors and timeouts too, leaves it as a FetchError.
    """
    try:
        async with asyncio.timeout(limits.timeout) as deadline:
            final_url, resp = await _follow(client, url, limits, headers or {}, policy)
            try:
                yield Reply(final_url, resp, limits.max_bytes, deadline)
            finally:
                await resp.aclose()
    except FetchError:
        raise
    except (TimeoutError, httpx.TimeoutException):
        raise FetchError(f"timed out after {limits.timeout:g} s", retry=True) from None
    except httpx.ConnectError as e:
        raise FetchError(f"cannot connect: {short_reason(e)}", retry=True) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
        raise FetchError(f"connection broken: {short_reason(e)}", retry=True) from None
    except httpx.DecodingError as e:
        raise FetchError(f"cannot decode the response: {short_reason(e)}") from None
    except httpx.UnsupportedProtocol:
        raise FetchError("unsupported URL scheme") from None
    except (httpx.InvalidURL, httpx.HTTPError) as e:
        raise FetchError(f"{type(e).__name__}: {short_reason(e)}") from None


# --- HTML charset --------------------------------------------------------------------------------------

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.IGNORECASE)


def _content_type_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        k, _, v = param.partition("=")
        if k.strip().lower() == "charset":
            return codec_for(v)
    return None


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Bytes of an HTML page → text.

    A BOM decides; else UTF-8 when the bytes decode strictly as UTF-8; else the Content-Type charset,
    then <meta charset> (first 4 KB), then GB18030, each only if it decodes strictly; else the
    declared charset (or windows-1252) with replacement characters. No chardet: the order of clues
    is the heuristic, and strict UTF-8 validity is a very strong one.
    """
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if body.startswith(bom):
            return body[len(bom):].decode(enc, errors="replace")
    m = _META_CHARSET.search(body[:4096])
    meta = codec_for(m.group(1).decode("ascii", "replace")) if m else None
    explicit = [e for e in (_content_type_charset(content_type), meta) if e]
    tried: list[str] = []
    # UTF-8 first: bytes that decode strictly as UTF-8 are UTF-8 whatever the label says (Chinese
    # sites often label UTF-8 pages gb2312), while GB18030 accepts nearly any byte string.
    for enc in ["utf-8", *explicit, "gb18030"]:
        if enc in tried:
            continue
        tried.append(enc)
        try:
            return body.decode(enc)
        except UnicodeDecodeError:
            continue
    return body.decode(explicit[0] if explicit else "cp1252", errors="replace")
