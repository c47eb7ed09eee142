"""Read a catalogue from a file or an http(s) URL and hand it to the right importer."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from .opml import parse_opml
from .rsshub_api import parse_rsshub_api
from .rsshub_docs import parse_rsshub_docs
from .spec import CatalogError, ParseResult

Fetch = Callable[[str], "bytes | str"]

TIMEOUT = 20.0
MAX_BYTES = 64 * 1024 * 1024
USER_AGENT = "tidings/0.1 (sources import)"


def load_catalog(location: str, *, fetch: Fetch | None = None, category: str | None = None) -> ParseResult:
    """Specs and warnings from `location`: a file path or an http(s) URL.

    The content decides the importer: JSON → RSSHub `/api/namespace`; XML/OPML → OPML; anything else → RSSHub
    documentation Markdown. `fetch(url) -> bytes` replaces the HTTP client (tests); by default httpx with a 20 s
    timeout, following redirects. `category` replaces every imported source's category.
    Raises CatalogError when the location cannot be read.
    """
    if re.match(r"(?i)^https?://", location):
        raw = (fetch or http_get)(location)
    else:
        try:
            raw = Path(location).expanduser().read_bytes()
        except OSError as e:
            raise CatalogError(f"{location}: {e.strerror or e}") from e
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    return parse_catalog(data, category=category)


def parse_catalog(data: bytes, *, category: str | None = None) -> ParseResult:
    """Dispatch on content: JSON, then XML (OPML), then Markdown."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        try:
            decoded = json.loads(head.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            decoded = None
        if decoded is not None:
            return parse_rsshub_api(decoded, category=category)
    if head[:1] == b"<" and re.match(rb"(?is)<\?xml|<!doctype\s+opml|<opml[\s>]", head[:4096]) \
            or re.search(rb"(?i)<opml[\s>]", head[:1024]):
        return parse_opml(data, category=category)
    return parse_rsshub_docs(data.decode("utf-8", errors="replace").lstrip("\ufeff"), category=category)


def http_get(url: str) -> bytes:
    """GET `url` with httpx (20 s timeout, redirects followed, at most 64 MiB); CatalogError on any failure."""
    import httpx

    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=True, headers={"User-Agent": USER_AGENT}) as client:
            with client.stream("GET", url) as r:
                if r.status_code >= 400:
                    raise CatalogError(f"{url}: HTTP {r.status_code} {r.reason_phrase}".rstrip())
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise CatalogError(f"{url}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.HTTPError as e:
        raise CatalogError(f"{url}: {type(e).__name__}: {e}") from e
