"""Read a catalogue from a file or an http(s) URL and hand it to the right importer."""
from __future__ import annotations

import json
import re
from pathlib import Path

from .opml import parse_opml
from .rsshub_api import parse_rsshub_api
from .rsshub_docs import parse_rsshub_docs
from .spec import CatalogError, ParseResult, _Collector

TIMEOUT = 20.0
MAX_BYTES = 64 * 1024 * 1024
USER_AGENT = "tidings/0.1 (sources import)"


# What each detected format is called in messages.
FORMAT_NAMES = {"rsshub-api": "RSSHub /api/namespace JSON", "opml": "OPML", "feed": "a news feed",
                 "html": "an HTML page", "rsshub-docs": "RSSHub documentation Markdown"}


def load_catalog(location: str, *, category: str | None = None, lang: str | None = None) -> ParseResult:
    """Specs and warnings from `location`: a file path or an http(s) URL.

    The content decides the importer: JSON → RSSHub `/api/namespace`; XML/OPML → OPML; anything else → RSSHub
    documentation Markdown. A feed (RSS, Atom, RDF, JSON Feed) at an http(s) URL is one `url:` source named after
    the feed's title; a feed in a local file is a CatalogError (tidings fetches feeds by URL).
    URLs are read through tidings.http (20 s, 5 redirects, 64 MiB decoded). `category` replaces every imported
    source's category; `lang` ("zh", "en") names categories, sources and channels in that language where the
    input has both. Raises CatalogError when the location cannot
    be read.
    """
    return catalog_from_bytes(read_location(location), location, category=category, lang=lang)


def read_location(location: str) -> bytes:
    """The bytes at a file path or an http(s) URL; CatalogError (naming the location) when they cannot be read."""
    if re.match(r"(?i)^https?://", location):
        return http_get(location)
    try:
        return Path(location).expanduser().read_bytes()
    except OSError as e:
        raise CatalogError(f"{location}: {e.strerror or e}") from e


def catalog_from_bytes(data: bytes, location: str, *, category: str | None = None,
                       lang: str | None = None) -> ParseResult:
    """`load_catalog` once the bytes are read: a feed becomes its own source, anything else goes to parse_catalog."""
    if detect_format(data) == "feed":
        return _feed_source(data, location, category)
    return parse_catalog(data, category=category, lang=lang)


def parse_catalog(data: bytes, *, category: str | None = None, lang: str | None = None) -> ParseResult:
    """Dispatch on content: JSON, then XML (OPML), then Markdown."""
    kind = detect_format(data)
    if kind == "rsshub-api":
        return parse_rsshub_api(json.loads(_head(data).decode("utf-8")), category=category,
                                **({"lang": lang} if lang else {}))
    if kind in ("opml", "feed"):
        return parse_opml(data, category=category)
    return parse_rsshub_docs(data.decode("utf-8", errors="replace").lstrip("\ufeff"), category=category, lang=lang)


def detect_format(data: bytes) -> str:
    """One of FORMAT_NAMES' keys, from the content alone (names and extensions say nothing)."""
    head = _head(_utf8_head(data))
    if head[:1] in (b"{", b"["):
        try:
            decoded = json.loads(head.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            decoded = None
        if isinstance(decoded, dict) and str(decoded.get("version", "")).startswith("https://jsonfeed.org/"):
            return "feed"
        if decoded is not None:
            return "rsshub-api"
    start = head[:4096]
    if re.search(rb"(?i)<opml[\s>]", start) or re.match(rb"(?is)<!doctype\s+opml", start):
        return "opml"
    if re.match(rb"<(?:[\w-]+:)?(?:rss|feed|RDF)[\s>]", _without_prolog(start)):
        return "feed"
    if re.match(rb"(?is)<!doctype\s+html|<html[\s>]", _without_prolog(start)):
        return "html"
    if head[:1] == b"<" and re.match(rb"(?is)<\?xml", start):
        return "opml"  # other XML: the OPML reader says what it is not
    return "rsshub-docs"


# UTF-16/32 by their BOM, else by the width of the first character (`<`), as tidings.parse reads feeds.
_WIDE = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xfe\xff", "utf-16-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
         (b"\x00<\x00", "utf-16-be"), (b"<\x00", "utf-16-le"))


def _utf8_head(data: bytes, size: int = 16384) -> bytes:
    """The start of `data` as UTF-8 when it is UTF-16 or UTF-32 (for sniffing its format); else `data`."""
    for start, codec in _WIDE:
        if data.startswith(start):
            return data[:size].decode(codec, errors="ignore").lstrip("\ufeff").encode("utf-8")
    return data


def _head(data: bytes) -> bytes:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")


def _without_prolog(head: bytes) -> bytes:
    """The document from its root element on: past `<?xml …?>`, `<?xml-stylesheet …?>`, comments, the doctype."""
    return re.sub(rb"(?s)\A(?:\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>))*\s*", b"", head, count=1)


def _feed_source(data: bytes, location: str, category: str | None) -> ParseResult:
    """A feed is not a catalogue, but a user who imports a feed URL means "subscribe to this feed"."""
    if not re.match(r"(?i)^https?://", location):
        raise CatalogError(f"{location} is a news feed, not a list of sources; import it by its http(s) URL "
                           "(tidings sources import https://…/feed.xml), or add it under sources: as `url: …`")
    out = _Collector()
    out.add(None, f"feed {location}", category=category or "", source=_feed_title(data, location) or location,
            url=location)
    return out.result()


def _feed_title(data: bytes, location: str) -> str:
    """The feed's title as `tidings run` reads it (charsets, a raw `&`, HTML entities recovered)."""
    from ..model import Source
    from ..parse import ParseError, parse_feed

    try:
        return " ".join(parse_feed(data, Source(url=location, category="", source="import", channel=""),
                                   url=location).title.split())
    except ParseError:
        pass  # a feed tidings cannot read yet is still added (it may be fixed): name it from what can be read
    head = _head(data)
    if head[:1] == b"{":
        try:
            title = json.loads(head.decode("utf-8")).get("title")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            return ""
        return " ".join(title.split()) if isinstance(title, str) else ""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False)
    try:
        root = etree.fromstring(head, parser)
    except etree.XMLSyntaxError:
        return ""
    if root is None:
        return ""
    # RSS and RDF: channel/title; Atom: feed/title (any namespace)
    for path in ("./*[local-name()='channel']/*[local-name()='title']", "./*[local-name()='title']"):
        found = root.xpath(path)
        if found:
            return " ".join("".join(found[0].itertext()).split())
    return ""


def http_get(url: str) -> bytes:
    """GET `url` through the one HTTP layer (20 s for everything, 5 redirects, at most 64 MiB decoded);
    CatalogError on any failure."""
    import asyncio

    from ..http import FetchError, Limits, make_client, open_url

    async def get() -> bytes:
        async with make_client(user_agent=USER_AGENT, timeout=TIMEOUT, connections=1) as client:
            async with open_url(client, url, Limits(timeout=TIMEOUT, max_bytes=MAX_BYTES)) as reply:
                if reply.status >= 400:
                    raise CatalogError(f"{url}: HTTP {reply.status} {reply.response.reason_phrase}".rstrip())
                return await reply.read()

    try:
        return asyncio.run(get())
    except FetchError as e:
        raise CatalogError(f"{url}: {e}") from None

