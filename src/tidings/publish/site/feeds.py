"""RSS 2.0, Atom 1.0, JSON Feed 1.1 and sitemap.xml, written as strings (fast) and escaped properly.

Every URL is absolute. A feed's date is its newest item's, never the build time, so a build with
nothing new leaves every feed byte-identical.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring as _json_str  # (the C one)
from typing import NamedTuple

from ..frontmatter import rfc2822_gmt
from .render import Summary, xml_text


# Our own escapes, not xml.sax.saxutils's: it imports urllib, which slows a build's start-up (docs/site.md);
# dates come from frontmatter.rfc2822_gmt likewise.
def escape(text: str) -> str:
    """XML character data: &, < and > escaped (as xml.sax.saxutils.escape)."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(text: str) -> str:
    """An XML attribute value with its quotes (as xml.sax.saxutils.quoteattr)."""
    text = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace('"', "&quot;") + '"'



EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class FeedItem:
    url: str  # absolute URL of the item's page here
    link: str  # the original article
    title: str
    html: str | None  # None until loaded (see generators.Feeds)
    summary: str | Summary  # the excerpt (str) once loaded
    published: datetime
    updated: datetime | None
    author: str
    categories: list[str]
    cover: str
    key: str  # fingerprint
    src: tuple[str, str] = ("", "")  # (source_key, id) in the store
    safe: bool = False


@dataclass(slots=True)
class FeedMeta:
    title: str
    description: str
    home: str  # absolute URL of the listing page
    base: str  # absolute URL of the directory holding rss.xml / atom.xml / feed.json
    language: str
    original_label: str


def xml_escape(text: str) -> str:
    """XML text: characters XML forbids dropped, & < > escaped (character by character, so the escape of a + b is
    the escape of a + the escape of b)."""
    return escape(xml_text(text))


_x = xml_escape


def _body(item: FeedItem, meta: FeedMeta) -> str:
    html = item.html
    assert html is not None, "FeedItem not loaded (generators.Feeds._load)"
    if item.link:
        return html + f'<p><a href={quoteattr(item.link)}>{escape(meta.original_label)}</a></p>'
    return html


def _summary(item: FeedItem) -> str:
    summary = item.summary
    assert isinstance(summary, str), "FeedItem not loaded (generators.Feeds._load)"
    return summary


def _newest(items: list[FeedItem]) -> datetime:
    return max(((i.updated or i.published) for i in items), default=EPOCH)


class _Texts(NamedTuple):
    """An item's texts as XML, which RSS and Atom share: escaping the body twice was most of their cost."""

    title: str
    url: str
    summary: str
    body: bytes  # UTF-8


def _texts(items: list[FeedItem], meta: FeedMeta) -> list[_Texts]:
    return [_Texts(_x(i.title), _x(i.url), _x(_summary(i)), _xml_utf8(_body(i, meta).encode("utf-8")))
            for i in items]


_XML_BAD_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _xml_utf8(data: bytes) -> bytes:
    """xml_escape(text).encode() from text.encode(), several times faster on long text. In UTF-8 those control
    characters are single bytes and U+FFFE, U+FFFF, & < > never part of another character's bytes."""
    data = data.translate(None, _XML_BAD_BYTES)
    if b"\xef\xbf" in data:
        data = data.replace(b"\xef\xbf\xbe", b"").replace(b"\xef\xbf\xbf", b"")
    return data.replace(b"&", b"&amp;").replace(b">", b"&gt;").replace(b"<", b"&lt;")


def render(kinds: tuple[str, ...], meta: FeedMeta, items: list[FeedItem]) -> list[bytes]:
    """The feeds of one listing, one per kind ("rss", "atom", "json_feed"): what rss(), atom() and json_feed()
    make, escaping each item's texts once for both XML feeds."""
    texts = _texts(items, meta) if "rss" in kinds or "atom" in kinds else []
    return [rss(meta, items, texts) if k == "rss" else atom(meta, items, texts) if k == "atom"
            else json_feed(meta, items) for k in kinds]


def rss(meta: FeedMeta, items: list[FeedItem], texts: list[_Texts] | None = None) -> bytes:
    out = [('<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
            f"<channel>\n<title>{_x(meta.title)}</title>\n<link>{_x(meta.home)}</link>\n"
            f"<description>{_x(meta.description or meta.title)}</description>\n"
            f"<language>{_x(meta.language)}</language>\n"
            f"<lastBuildDate>{rfc2822_gmt(_newest(items))}</lastBuildDate>\n"
            f'<atom:link href={quoteattr(meta.base + "rss.xml")} rel="self" type="application/rss+xml"/>\n')]
    data: list[bytes] = []
    for i, x in zip(items, texts or _texts(items, meta)):
        out.append(f"<item>\n<title>{x.title}</title>\n<link>{x.url}</link>\n"
                   f'<guid isPermaLink="true">{x.url}</guid>\n'
                   f"<pubDate>{rfc2822_gmt(i.published)}</pubDate>\n")
        if i.author:
            out.append(f"<dc:creator>{_x(i.author)}</dc:creator>\n")
        out.extend(f"<category>{_x(c)}</category>\n" for c in i.categories)
        out.append(f"<description>{x.summary}</description>\n<content:encoded>")
        data += ("".join(out).encode("utf-8"), x.body)  # the body as it is: UTF-8 already
        out = ["</content:encoded>\n</item>\n"]
    out.append("</channel>\n</rss>\n")
    data.append("".join(out).encode("utf-8"))
    return b"".join(data)


def iso_seconds(dt: datetime) -> str:
    """dt.isoformat(timespec="seconds") in half its time (isoformat's keyword arguments cost more than its work):
    the full form, less its microseconds when it has them (the 7 characters after the seconds; the year is
    always 4 digits)."""
    iso = dt.isoformat()
    return iso[:19] + iso[26:] if dt.microsecond else iso


def _iso(dt: datetime) -> str:
    """%Y-%m-%dT%H:%M:%SZ in UTC. isoformat is twice as fast as strftime, whose %Y is not padded before 1000."""
    u = dt.astimezone(UTC)
    return u.isoformat()[:19] + "Z" if u.year >= 1000 else u.strftime("%Y-%m-%dT%H:%M:%SZ")


def atom(meta: FeedMeta, items: list[FeedItem], texts: list[_Texts] | None = None) -> bytes:
    out = [('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(meta.language)}>\n'
            f"<id>{_x(meta.base + 'atom.xml')}</id>\n<title>{_x(meta.title)}</title>\n"
            f"<updated>{_iso(_newest(items))}</updated>\n"
            f'<link rel="self" type="application/atom+xml" href={quoteattr(meta.base + "atom.xml")}/>\n'
            f'<link rel="alternate" type="text/html" href={quoteattr(meta.home)}/>\n')]
    if meta.description:
        out.append(f"<subtitle>{_x(meta.description)}</subtitle>\n")
    data: list[bytes] = []
    for i, x in zip(items, texts or _texts(items, meta)):
        out.append(f"<entry>\n<id>{x.url}</id>\n<title>{x.title}</title>\n"
                   f"<published>{_iso(i.published)}</published>\n"
                   f"<updated>{_iso(i.updated or i.published)}</updated>\n"
                   f'<link rel="alternate" type="text/html" href={quoteattr(i.url)}/>\n')
        if i.link:
            out.append(f'<link rel="related" type="text/html" href={quoteattr(i.link)}/>\n')
        author = i.author or (i.categories[-1] if i.categories else meta.title)
        out.append(f"<author><name>{_x(author)}</name></author>\n")
        out.extend(f"<category term={quoteattr(xml_text(c))}/>\n" for c in i.categories)
        out.append(f'<summary>{x.summary}</summary>\n<content type="html">')
        data += ("".join(out).encode("utf-8"), x.body)
        out = ["</content>\n</entry>\n"]
    out.append("</feed>\n")
    data.append("".join(out).encode("utf-8"))
    return b"".join(data)


def json_feed(meta: FeedMeta, items: list[FeedItem]) -> bytes:
    entries: list[dict[str, object]] = []
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": meta.home,
        "feed_url": meta.base + "feed.json",
        "language": meta.language,
        "items": entries,
    }
    if meta.description:
        feed["description"] = meta.description
    for i in items:
        entry: dict[str, object] = {"id": i.url, "url": i.url, "title": i.title, "content_html": _body(i, meta),
                                    "summary": _summary(i), "date_published": i.published.isoformat()}
        if i.link:
            entry["external_url"] = i.link
        if i.updated:
            entry["date_modified"] = i.updated.isoformat()
        if i.author:
            entry["authors"] = [{"name": i.author}]
        if i.categories:
            entry["tags"] = list(i.categories)
        if i.cover:
            entry["image"] = i.cover
        entries.append(entry)
    return json_indent1(feed).encode("utf-8")


def json_indent1(value: object) -> str:
    """json.dumps(value, ensure_ascii=False, indent=1), faster: with an indent, json encodes in Python, a
    generator step per value (its strings in C, as here)."""
    out: list[str] = []
    _json_parts(value, "\n", out)
    return "".join(out)


def _json_parts(value: object, pad: str, out: list[str]) -> None:
    """Append the JSON of `value` to `out`; `pad` is a newline and the indent of `value`'s line."""
    if isinstance(value, str):
        out.append(_json_str(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner, sep = pad + " ", "{"
        for k, v in value.items():
            out.append(f"{sep}{inner}{_json_str(k) if isinstance(k, str) else _json_key(k)}: ")
            _json_parts(v, inner, out)
            sep = ","
        out.append(pad + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner, sep = pad + " ", "["
        for v in value:
            out.append(sep + inner)
            _json_parts(v, inner, out)
            sep = ","
        out.append(pad + "]")
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def _json_key(key: object) -> str:
    return json.dumps({key: 0}, ensure_ascii=False)[1:-4]


SITEMAP_MAX = 50_000


def url_entry(loc: str, lastmod: datetime | None = None, *, escaped: bool = False) -> str:
    """`escaped`: loc is XML text already."""
    mod = f"<lastmod>{_iso(lastmod)}</lastmod>" if lastmod else ""
    return f"<url><loc>{loc if escaped else _x(loc)}</loc>{mod}</url>\n"


def urlset(entries: list[str]) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "".join(entries) + "</urlset>\n").encode("utf-8")


def sitemap_index(locs: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{_x(loc)}</loc></sitemap>\n" for loc in locs)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + body + "</sitemapindex>\n").encode()
