"""Full text: fetch an item's article page safely and extract the story from it.

* `fetch_article` GETs the page through the shared HTTP layer (tidings.http) with the feed fetcher's
  limits: redirects followed there with the SSRF check on every hop (and plain-http hops connected
  to the address that was checked), the total-time limit, the body cap counted on decoded bytes.
  It refuses non-HTML pages before reading them and decodes the HTML's charset.
* `extract_article` runs trafilatura and passes its HTML through `clean_html`.
"""
from __future__ import annotations

import re

import httpx
from selectolax.lexbor import LexborHTMLParser

from ..http import AddressPolicy, FetchError, Limits, Resolver, decode_html, open_url
from .rules import RuleSet
from .sanitize import apply_rules, clean_html

__all__ = ["extract_article", "fetch_article"]


# --- fetching ----------------------------------------------------------------------------------------

_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")


async def fetch_article(client: httpx.AsyncClient, url: str, *, allow_private: bool = False,
                        limits: Limits | None = None, resolve: Resolver | None = None) -> str:
    """GET an article page and return its HTML text.

    `limits` are the feed fetcher's (tidings.http.Limits; defaults when None). Raises
    tidings.http.BlockedAddress for a refused URL or hop, FetchError for anything else (status,
    body over the cap, non-HTML type, too many redirects, network error, time limit).
    """
    limits = limits or Limits()
    policy = AddressPolicy(allow_private=allow_private, resolve=resolve)
    async with open_url(client, url, limits, policy=policy) as reply:
        if reply.status != 200:
            raise FetchError(f"HTTP {reply.status}", status=reply.status)
        ctype = reply.headers.get("Content-Type", "")
        if ctype and not ctype.split(";")[0].strip().lower().startswith(_HTML_TYPES):
            raise FetchError(f"not an HTML page ({ctype.split(';')[0]})")
        body = await reply.read()
    return decode_html(body, ctype)


# --- extraction --------------------------------------------------------------------------------------

_LEADING_H1 = re.compile(r"^\s*<h1>.*?</h1>", re.DOTALL)  # the page title: the post has its own


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
    except Exception:  # noqa: BLE001 - trafilatura raises assorted errors on hostile markup
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
