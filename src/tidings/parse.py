"""bytes → Entries for RSS 0.9x/1.0/2.0, Atom 1.0 and JSON Feed 1.x.

lxml parses XML with entity expansion, DTD loading and network access off, so a hostile feed cannot
expand entities or read files. Content HTML is kept exactly as the feed gave it; cleaning is a later
stage. Dates without a zone are read in the source's time zone.
"""
from __future__ import annotations

import html
import html.entities
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin as _urljoin
from zoneinfo import ZoneInfo

from lxml import etree

from .dates import MAX_DATE_CHARS, parse_date
from .model import Entry, Source, item_id


class ParseError(Exception):
    """The body is not a feed we can read; str() is the reason shown to the operator."""


@dataclass(slots=True)
class ParsedFeed:
    title: str = ""
    link: str = ""
    ttl_minutes: int | None = None
    entries: list[Entry] = field(default_factory=list)


NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "rss1": "http://purl.org/rss/1.0/",
    "rss090": "http://my.netscape.com/rdf/simple/0.9/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "media": "http://search.yahoo.com/mrss/",
}
_ATOM = "{%s}" % NS["atom"]
_XHTML = "http://www.w3.org/1999/xhtml"

# Chinese sources label GBK text as gb2312; GB18030 is a superset of both.
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "big5": "big5hkscs",
                    "iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252"}
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.S)
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_HTML_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.I)

MAX_ITEMS = 10000  # more items than any real feed carries: the rest is refused, not parsed
# A tree costs ~200-400 bytes per XML element or attribute (with its text) and ~60 bytes per JSON
# value, so a 15 MiB body of `<a>x</a>`, `<a b="" c=""/>` or `{},` would need 0.4-1 GB. Bodies above
# SCAN_BYTES are counted first (in C, without building anything) and refused when they hold more than
# these; a real feed of MAX_ITEMS items has ~20 elements and attributes per item.
MAX_XML_NODES = 500_000
MAX_JSON_VALUES = 2_000_000
SCAN_BYTES = 1 << 20
_CDATA_OR_COMMENT = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->", re.S)


def urljoin(base: str, url: str) -> str:
    """urljoin, skipping the work for the common case of an absolute http(s) URL."""
    if url.startswith(("https://", "http://")) and "/." not in url:
        return url
    return _urljoin(base, url)


def charset_of(content_type: str) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._\-]+)", content_type or "", re.I)
    return m.group(1).lower() if m else None


def _codec(name: str) -> str:
    name = name.lower()
    return _CHARSET_ALIASES.get(name, name)


def decode_xml(body: bytes, content_type: str = "") -> str:
    """Decode an XML document to text: HTTP charset first, then the XML prolog, then BOM/UTF-8."""
    declared = charset_of(content_type)
    if not declared:
        m = _XML_DECL.match(body)
        if m:
            enc = _DECL_ENCODING.search(m.group(0))
            declared = enc.group(1).decode("ascii").lower() if enc else None
    if body.startswith(b"\xef\xbb\xbf"):
        declared, body = "utf-8", body[3:]
    elif body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        declared = "utf-16"
    codec = _codec(declared or "utf-8")
    try:
        text = body.decode(codec, errors="replace")
    except LookupError:
        raise ParseError(f"unknown character encoding {declared!r}") from None
    text = re.sub(r"^\s*<\?xml[^>]*?\?>", "", text, count=1, flags=re.S)
    return _INVALID_XML_CHARS.sub("", text)


def _xml_root(text: str, base_url: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=False, strip_cdata=True, recover=False)
    data = text.encode("utf-8")
    _check_elements(data)
    try:
        return etree.fromstring(data, parser, base_url=base_url or None)
    except etree.XMLSyntaxError as e:
        if "amplification" in str(e):
            # libxml2 refuses entity declarations that would blow up (billion laughs, quadratic
            # blow-up) even though we never expand entities.
            raise ParseError("XML entity bomb (entity declarations past libxml2's amplification limit; "
                             "entities are never expanded)") from None
        # Feeds often use HTML named entities (&nbsp;) that XML does not define, or numeric references
        # to characters XML forbids (&#1;, &#xFFFF;): retry once with the former written as numeric
        # references and the latter dropped (as raw forbidden characters are) before calling it malformed.
        msg = str(e)
        if ("Entity" in msg and "not defined" in msg) or "CharRef" in msg:
            fixed = _BAD_CHARREF.sub(_drop_bad_charref, _HTML_ENTITY.sub(_numeric_entity, text)).encode("utf-8")
            try:
                return etree.fromstring(fixed, parser, base_url=base_url or None)
            except etree.XMLSyntaxError as e2:
                e = e2
        raise ParseError(f"malformed XML: {_reason(e)}") from None


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


def _reason(e: Exception, limit: int = 200) -> str:
    """A parser's message as one printable line: libxml2 quotes the document, and the reason is shown on
    the operator's terminal and stored (no C1 escapes, bidi overrides or newlines from a stranger)."""
    text = " ".join(str(e).split())
    text = _UNPRINTABLE.sub("?", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_BAD_CHARREF = re.compile(r"&#(?:[0-9]{1,12}|[xX][0-9a-fA-F]{1,12});")


def _xml_char_ok(cp: int) -> bool:
    return cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF


def _drop_bad_charref(m: re.Match) -> str:
    ref = m.group(0)[2:-1]
    cp = int(ref[1:], 16) if ref[0] in "xX" else int(ref)
    return m.group(0) if _xml_char_ok(cp) else ""


def _check_elements(data: bytes) -> None:
    """Refuse a document with more than MAX_XML_NODES elements + attributes before building its tree."""
    def nodes(b: bytes) -> int:  # bytes.count only: no allocation per match
        tags = b.count(b"<") - b.count(b"</") - b.count(b"<!") - b.count(b"<?")
        return tags + b.count(b"=")  # every attribute has an `=`; some `=` are text (an upper bound)

    if len(data) <= SCAN_BYTES or nodes(data) <= MAX_XML_NODES:
        return
    # The quick count includes markup inside CDATA sections and comments (HTML content): recount
    # without them. `<` cannot occur raw anywhere else but in tags.
    n = nodes(_CDATA_OR_COMMENT.sub(b"", data))
    if n > MAX_XML_NODES:
        raise ParseError(f"too many XML elements and attributes (up to {n:,}; at most {MAX_XML_NODES:,} are read)")


def _check_json_values(body: bytes) -> None:
    """Refuse a JSON body with more than MAX_JSON_VALUES values before decoding it.

    Every value after the first in an array or object follows a comma, so commas + brackets bound the
    number of Python objects json.loads would make. Commas inside strings count too (no string-aware
    recount: that would itself allocate one object per string); prose has one every ~60 bytes, so a
    real feed under the size cap stays far below the limit.
    """
    if len(body) <= SCAN_BYTES:
        return
    n = body.count(b",") + body.count(b"{") + body.count(b"[")
    if n > MAX_JSON_VALUES:
        raise ParseError(f"too many JSON values (up to {n:,}; at most {MAX_JSON_VALUES:,} are read)")


def _numeric_entity(m: re.Match) -> str:
    name = m.group(1)
    if name in _XML_ENTITIES:
        return m.group(0)
    ch = html.entities.html5.get(name + ";")
    return "".join(f"&#{ord(c)};" for c in ch) if ch else m.group(0)


def parse_feed(body: bytes, source: Source, *, content_type: str = "", url: str = "",
               now: datetime | None = None) -> ParsedFeed:
    """Parse a feed body. Raises ParseError with a short reason when it is not a readable feed."""
    now = now or datetime.now(timezone.utc)
    tz = ZoneInfo(source.timezone or "UTC")
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ParseError("empty response")
    if head[:1] in (b"{", b"["):
        return _parse_json(body, source, tz, now, url)
    if re.match(rb"(?is)<!doctype\s+html|<html", head):
        raise ParseError("got an HTML page, not a feed")
    text = decode_xml(body, content_type)
    root = _xml_root(text, url or source.url)
    tag = etree.QName(root).localname.lower() if isinstance(root.tag, str) else ""
    if tag == "rss":
        return _parse_rss(root, source, tz, now)
    if tag == "rdf":
        return _parse_rdf(root, source, tz, now)
    if tag == "feed":
        return _parse_atom(root, source, tz, now)
    if tag == "html":
        raise ParseError("got an HTML page, not a feed")
    raise ParseError(f"not a feed: root element <{tag or root.tag}>")


# --- helpers ---------------------------------------------------------------------------------------

def _inner_html(el: etree._Element | None) -> str:
    """Element content as markup: its text, or — when a feed put raw (unescaped) HTML elements inside —
    the serialized children too, instead of silently keeping only the text before the first one."""
    if el is None:
        return ""
    if not len(el):
        return el.text or ""
    parts = [html.escape(el.text, quote=False) if el.text else ""]
    parts += [etree.tostring(child, encoding="unicode", with_tail=True) for child in el]
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", "".join(parts))


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).strip()


def _child(el: etree._Element, *names: str) -> etree._Element | None:
    """First child whose tag is any of `names` (Clark notation or a bare local name, no namespace)."""
    for name in names:
        found = el.find(name)
        if found is not None:
            return found
    return None


def _entry(source: Source, *, guid: str, link: str, title: str, date_raw: str, content: str,
           author: str, published: datetime | None, updated: datetime | None, covers: list[str],
           tags: list[str], base: str) -> Entry:
    link = urljoin(base, link) if link else ""
    cover = next((urljoin(base, c) for c in covers if c), "")
    if not cover:
        m = _IMG_SRC.search(content)
        if m and not m.group(1).startswith("data:"):
            cover = urljoin(base, html.unescape(m.group(1)))
    return Entry(source_key=source.key, id=item_id(guid, link, title, date_raw), title=title, link=link,
                 guid=guid, author=author, published=published, updated=updated, content=content,
                 cover=cover, cover_explicit=any(covers), tags=tags, base=base or link)


def _finish(feed: ParsedFeed, entries: list[Entry]) -> ParsedFeed:
    # Feeds occasionally repeat an item; the first occurrence wins.
    seen: set[str] = set()
    for e in entries:
        if e.id not in seen:
            seen.add(e.id)
            feed.entries.append(e)
    return feed


def _too_many(n: int) -> None:
    if n > MAX_ITEMS:
        raise ParseError(f"too many items ({n}; at most {MAX_ITEMS} are read)")


# --- RSS 2.0 / 0.9x --------------------------------------------------------------------------------

def _parse_rss(root, source: Source, tz, now) -> ParsedFeed:
    channel = root.find("channel")
    if channel is None:
        raise ParseError("RSS without <channel>")
    feed = ParsedFeed(title=_text(channel.find("title")), link=_text(channel.find("link")))
    ttl = _text(channel.find("ttl"))
    # ASCII digits only ("²".isdigit() is true but int() refuses it); 9 digits at most, so neither
    # int() (4,300-digit limit) nor ttl * 60.0 (float overflow) can raise on a hostile value.
    feed.ttl_minutes = int(ttl) if re.fullmatch(r"[0-9]{1,9}", ttl) else None
    where = channel if channel.find("item") is not None else root
    _too_many(int(where.xpath("count(item)")))  # counted in C: no Python object per item
    items = where.findall("item")
    base_default = feed.link or source.url
    entries = []
    for it in items:
        guid = _text(it.find("guid"))
        link = _text(it.find("link"))
        if not link:
            atom_link = it.find(_ATOM + "link")
            link = atom_link.get("href", "") if atom_link is not None else ""
        g = it.find("guid")
        if not link and g is not None and g.get("isPermaLink", "true").lower() == "true" and guid.startswith("http"):
            link = guid
        encoded = it.find("{%s}encoded" % NS["content"])
        desc = it.find("description")
        content = _inner_html(encoded) if encoded is not None and (encoded.text or len(encoded)) else (
            _inner_html(desc))
        date_el = _child(it, "pubDate", "{%s}date" % NS["dc"], _ATOM + "published", _ATOM + "updated")
        date_raw = _text(date_el)
        updated_raw = _text(_child(it, _ATOM + "updated", "{%s}modified" % NS["dc"]))
        author = _text(_child(it, "author", "{%s}creator" % NS["dc"]))
        covers = _media_covers(it)
        for enc in it.findall("enclosure"):
            if _is_image(enc.get("type", ""), enc.get("url", "")):
                covers.append(enc.get("url", ""))
        tags = [t for t in (_text(c) for c in it.findall("category")) if t]
        base = it.base if it.get("{http://www.w3.org/XML/1998/namespace}base") else (link or base_default)
        entries.append(_entry(
            source, guid=guid, link=link, title=_text(it.find("title")), date_raw=date_raw,
            content=content or "", author=author, published=_date_or_none(date_raw, tz, now),
            updated=_date_or_none(updated_raw, tz, now), covers=covers, tags=tags,
            base=urljoin(base_default, base)))
    return _finish(feed, entries)


def _media_covers(it) -> list[str]:
    covers = [t.get("url", "") for t in it.iter("{%s}thumbnail" % NS["media"])]
    for mc in it.iter("{%s}content" % NS["media"]):
        if mc.get("medium") == "image" or _is_image(mc.get("type", ""), mc.get("url", "")):
            covers.append(mc.get("url", ""))
    return covers


def _is_image(mime: str, url: str) -> bool:
    return mime.startswith("image/") or bool(re.search(r"\.(jpe?g|png|gif|webp|avif|svg)(\?|$)", url, re.I))


# --- RSS 1.0 / 0.90 (RDF) ---------------------------------------------------------------------------

def _parse_rdf(root, source: Source, tz, now) -> ParsedFeed:
    ns = NS["rss1"] if root.find("{%s}channel" % NS["rss1"]) is not None or root.find(
        "{%s}item" % NS["rss1"]) is not None else NS["rss090"]
    q = lambda name: "{%s}%s" % (ns, name)  # noqa: E731
    channel = root.find(q("channel"))
    feed = ParsedFeed(title=_text(channel.find(q("title"))) if channel is not None else "",
                      link=_text(channel.find(q("link"))) if channel is not None else "")
    _too_many(int(root.xpath("count(i:item)", namespaces={"i": ns})))
    items = root.findall(q("item"))
    entries = []
    for it in items:
        link = _text(it.find(q("link")))
        about = it.get("{%s}about" % NS["rdf"], "")
        encoded = it.find("{%s}encoded" % NS["content"])
        content = encoded.text if encoded is not None and encoded.text else (
            (it.find(q("description")).text or "") if it.find(q("description")) is not None else "")
        date_raw = _text(it.find("{%s}date" % NS["dc"]))
        entries.append(_entry(
            source, guid=about, link=link, title=_text(it.find(q("title"))), date_raw=date_raw, content=content,
            author=_text(it.find("{%s}creator" % NS["dc"])), published=_date_or_none(date_raw, tz, now),
            updated=None, covers=_media_covers(it),
            tags=[t for t in (_text(s) for s in it.findall("{%s}subject" % NS["dc"])) if t],
            base=link or feed.link or source.url))
    return _finish(feed, entries)


# --- Atom 1.0 ----------------------------------------------------------------------------------------

def _atom_text(el: etree._Element | None) -> str:
    """An Atom text construct as HTML (type html/xhtml) or plain text (type text)."""
    if el is None:
        return ""
    kind = el.get("type", "text").lower()
    if kind == "xhtml":
        div = el.find("{%s}div" % _XHTML)
        holder = div if div is not None else el
        inner = (holder.text and html.escape(holder.text, quote=False) or "")
        for child in holder:
            inner += etree.tostring(child, encoding="unicode", with_tail=True)
        # drop the xhtml namespace declarations lxml writes on each top-level child
        return re.sub(r'\s+xmlns(:\w+)?="http://www.w3.org/1999/xhtml"', "", inner)
    return el.text or ""


def _atom_plain(el: etree._Element | None) -> str:
    """An Atom text construct as plain text (for titles)."""
    if el is None:
        return ""
    kind = el.get("type", "text").lower()
    if kind == "html":
        return html.unescape(re.sub(r"<[^>]+>", "", el.text or "")).strip()
    return _text(el)


def _atom_link(el: etree._Element, rel: str = "alternate") -> str:
    for link in el.findall(_ATOM + "link"):
        if link.get("rel", "alternate") == rel and link.get("href"):
            return urljoin(link.base or "", link.get("href"))
    return ""


def _parse_atom(root, source: Source, tz, now) -> ParsedFeed:
    feed = ParsedFeed(title=_atom_plain(root.find(_ATOM + "title")), link=_atom_link(root))
    _too_many(int(root.xpath("count(a:entry)", namespaces={"a": NS["atom"]})))
    items = root.findall(_ATOM + "entry")
    feed_author = _text(root.find(_ATOM + "author/" + _ATOM + "name"))
    entries = []
    for it in items:
        content_el = it.find(_ATOM + "content")
        if content_el is None or not (content_el.text or len(content_el)):
            content_el = it.find(_ATOM + "summary")
        content = _atom_text(content_el)
        if content_el is not None and content_el.get("type", "text").lower() == "text":
            content = "<p>" + html.escape(content).replace("\n\n", "</p><p>") + "</p>" if content.strip() else ""
        published_raw = _text(it.find(_ATOM + "published"))
        updated_raw = _text(it.find(_ATOM + "updated"))
        covers = _media_covers(it)
        for link in it.findall(_ATOM + "link"):
            if link.get("rel") == "enclosure" and _is_image(link.get("type", ""), link.get("href", "")):
                covers.append(urljoin(link.base or "", link.get("href", "")))
        author = ", ".join(n for n in (_text(a.find(_ATOM + "name")) for a in it.findall(_ATOM + "author")) if n)
        base = (content_el.base if content_el is not None else None) or it.base or source.url
        entries.append(_entry(
            source, guid=_text(it.find(_ATOM + "id")), link=_atom_link(it), title=_atom_plain(it.find(_ATOM + "title")),
            date_raw=published_raw or updated_raw, content=content, author=author or feed_author,
            published=_date_or_none(published_raw or updated_raw, tz, now),
            updated=_date_or_none(updated_raw, tz, now), covers=covers,
            tags=[c.get("term") for c in it.findall(_ATOM + "category") if c.get("term")], base=base))
    return _finish(feed, entries)


# --- JSON Feed 1.x ----------------------------------------------------------------------------------

def _parse_json(body: bytes, source: Source, tz, now, url: str) -> ParsedFeed:
    _check_json_values(body)
    try:
        data = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as e:
        raise ParseError(f"malformed JSON: {_reason(e)}") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise ParseError("JSON, but not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed without an items list")
    _too_many(len(items))
    feed = ParsedFeed(title=_str(data.get("title")), link=_str(data.get("home_page_url")))
    base = feed.link or url or source.url
    feed_author = _json_author(data)
    entries = []
    for it in items:
        if not isinstance(it, dict):
            continue
        content = _str(it.get("content_html"))
        if not content and it.get("content_text"):
            content = "<p>" + html.escape(_str(it.get("content_text"))).replace("\n\n", "</p><p>") + "</p>"
        if not content:
            content = html.escape(_str(it.get("summary")))
        date_raw = _str(it.get("date_published")) or _str(it.get("date_modified"))
        link = _str(it.get("url")) or _str(it.get("external_url"))
        entries.append(_entry(
            source, guid=_str(it.get("id")), link=link, title=_str(it.get("title")).strip(), date_raw=date_raw,
            content=content, author=_json_author(it) or feed_author, published=_date_or_none(date_raw, tz, now),
            updated=_date_or_none(_str(it.get("date_modified")), tz, now),
            covers=[_str(it.get("image")), _str(it.get("banner_image"))],
            tags=[_str(t) for t in it.get("tags", []) if isinstance(t, (str, int))] if isinstance(it.get("tags"), list) else [],
            base=link and urljoin(base, link) or base))
    return _finish(feed, entries)


def _str(v) -> str:
    if isinstance(v, str):
        # JSON escapes can carry what an XML feed cannot (\u0000, lone surrogates \ud800): drop the same
        # characters decode_xml drops, so no field can hold text that SQLite or UTF-8 refuses.
        return _INVALID_XML_CHARS.sub("", v) if _INVALID_XML_CHARS.search(v) else v
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else ""


def _json_author(obj: dict) -> str:
    authors = obj.get("authors")
    if isinstance(authors, list):
        names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
        if any(names):
            return ", ".join(n for n in names if n)
    a = obj.get("author")
    return _str(a.get("name")) if isinstance(a, dict) else ""


def _date_or_none(raw: str, tz, now: datetime) -> datetime | None:
    dt = parse_date(raw, tz)
    # A date far in the future would pin an item to the top of every listing: treat it as missing.
    if dt is None or dt > now + timedelta(days=1) or dt.year < 1970:
        return None
    return dt
