"""Full text: fetch an item's article page safely and extract the story from it.

* `check_public_url` refuses URLs that are not http(s) or whose host resolves to an address that
  is not publicly routable (loopback, private, link-local, multicast, reserved, unspecified,
  carrier-grade NAT, documentation ranges; IPv4 and IPv6, including IPv4 embedded in IPv6). It is
  synchronous (it calls socket.getaddrinfo); from async code run it with ``asyncio.to_thread``.
* `fetch_article` follows redirects itself, checks every hop, connects plain-http requests to the
  address it checked (so a DNS answer that changes between check and connect cannot reach an
  internal host; for https the certificate check does that), caps the body, and decodes it.
* `extract_article` runs trafilatura and passes its HTML through `clean_html`.
"""
from __future__ import annotations

import asyncio
import codecs
import ipaddress
import re
import socket
from typing import Callable, Iterable
from urllib.parse import urljoin, urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser

from .rules import RuleSet
from .sanitize import apply_rules, clean_html

__all__ = [
    "FetchError", "BlockedAddress", "check_public_url", "fetch_article", "extract_article",
    "decode_html",
]

Resolver = Callable[[str, int], Iterable[str]]


class FetchError(Exception):
    """A full-text fetch failed; the message says why (HTTP status, size, type, redirects...)."""


class BlockedAddress(FetchError):
    """The URL is not allowed: not http(s), or its host is (or resolves to) a non-public address."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- address policy ----------------------------------------------------------------------------------

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


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
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if ip.version == 6:
        candidates.extend(_embedded_v4(ip))  # type: ignore[arg-type]
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
    return list(dict.fromkeys(info[4][0] for info in infos))


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
            raise FetchError(f"cannot resolve {host}: {e}") from None
        if not addresses:
            raise FetchError(f"cannot resolve {host}: no address")
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            raise BlockedAddress(f"{host} refused: {reason}")
    return addresses


# --- decoding ------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
    "csgb2312": "gb18030", "euc-cn": "gb18030", "cp936": "gb18030", "windows-936": "gb18030",
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "big5": "big5hkscs", "utf8": "utf-8",
    "x-user-defined": "cp1252",
}
_TEXT_CODECS = {"base64", "hex", "rot13", "rot_13", "zip", "zlib", "bz2", "uu", "quopri"}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if info.name in _TEXT_CODECS or not getattr(info, "_is_text_encoding", True):
        return None
    if info.name.startswith("utf-16") or info.name.startswith("utf-32"):
        return None  # a page cannot declare these in ASCII-compatible bytes; the HTML spec says utf-8
    return info.name


def _content_type_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        k, _, v = param.partition("=")
        if k.strip().lower() == "charset":
            return _codec(v)
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
    meta = _codec(m.group(1).decode("ascii", "replace")) if m else None
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


# --- fetching ----------------------------------------------------------------------------------------

_REDIRECTS = {301, 302, 303, 307, 308}
_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")


def _pinned(url: str, addresses: list[str]) -> tuple[str, dict[str, str]]:
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


async def _read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    length = resp.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"page too large: {length} bytes (limit {max_bytes})")
    chunks, size = [], 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"page too large: over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_article(client: httpx.AsyncClient, url: str, *, allow_private: bool = False,
                        max_bytes: int = 15 * 2**20, max_redirects: int = 5, timeout: float = 20,
                        resolve: Resolver | None = None) -> str:
    """GET an article page and return its HTML text.

    Redirects are followed here (the client's own following is bypassed), at most `max_redirects`
    of them, each hop checked with `check_public_url` and connected to the address that was checked.
    Raises BlockedAddress for a refused URL or hop, FetchError for anything else (status, size over
    `max_bytes`, non-HTML type, too many redirects, network error, `timeout` seconds overall).
    """
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(client, url, allow_private, max_bytes, max_redirects, timeout, resolve)
    except TimeoutError:
        raise FetchError(f"timed out after {timeout} s: {url}") from None
    except httpx.HTTPError as e:
        raise FetchError(f"{type(e).__name__}: {e or url}") from None


async def _fetch(client, url, allow_private, max_bytes, max_redirects, timeout, resolve) -> str:
    current = url
    for _hop in range(max_redirects + 1):
        addresses = await asyncio.to_thread(check_public_url, current, allow_private, resolve)
        req_url, headers = _pinned(current, addresses)
        request = client.build_request("GET", req_url, headers=headers, timeout=timeout)
        resp = await client.send(request, stream=True, follow_redirects=False)
        try:
            if resp.status_code in _REDIRECTS:
                location = resp.headers.get("location")
                if not location:
                    raise FetchError(f"HTTP {resp.status_code} without Location: {current}")
                current = urljoin(current, location.strip())
                continue
            if resp.status_code != 200:
                raise FetchError(f"HTTP {resp.status_code}: {current}")
            ctype = resp.headers.get("content-type", "")
            if ctype and not ctype.split(";")[0].strip().lower().startswith(_HTML_TYPES):
                raise FetchError(f"not an HTML page ({ctype.split(';')[0]}): {current}")
            body = await _read_capped(resp, max_bytes)
        finally:
            await resp.aclose()
        return decode_html(body, ctype)
    raise FetchError(f"more than {max_redirects} redirects: {url}")


# --- extraction --------------------------------------------------------------------------------------

_LEADING_H1 = re.compile(r"^\s*<h1>.*?</h1>", re.S)  # the page title: the post has its own


def extract_article(html: str, url: str, rules: RuleSet | None = None, *, min_chars: int = 80) -> str | None:
    """The story of an article page as clean HTML, or None when nothing article-like is found.

    Site rules for url's host run on the page first, then trafilatura (story with images, links,
    tables), then clean_html with url as the base. A result with fewer than `min_chars` characters
    of text counts as nothing found.
    """
    if not html or not html.strip():
        return None
    import trafilatura  # slow to import; only sources with full text need it

    html = apply_rules(html, url, rules)  # site boilerplate, while class/id are still there
    try:
        out = trafilatura.extract(
            html, url=url or None, output_format="html", include_images=True, include_links=True,
            include_tables=True, include_comments=False, include_formatting=True, with_metadata=False,
        )
    except Exception:  # trafilatura raises assorted errors on hostile markup
        return None
    if not out:
        return None
    cleaned = _LEADING_H1.sub("", clean_html(out, url, rules), count=1).lstrip()
    if not cleaned:
        return None
    text = LexborHTMLParser(cleaned, is_fragment=True).text(deep=True)
    if len("".join(text.split())) < min_chars:
        return None
    return cleaned
