"""bytes → Entries for RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed 1.x.

lxml parses XML with entity expansion, DTD loading and network access off, so a hostile feed cannot
expand entities or read files. Content HTML is kept exactly as the feed gave it; cleaning is a later
stage. Dates without a zone are read in the source's time zone. Breakage a tolerant reader recovers
from (a raw `&`, HTML entities, a truncated end tag, a wrong charset) is recovered and reported in
`ParsedFeed.notes`; a document that holds items but yields none is a ParseError, never an empty feed.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import html
import html.entities
import json
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin as _urljoin
from zoneinfo import ZoneInfo

from lxml import etree
from lxml import html as lxml_html

from .charsets import codec_for
from .dates import MAX_DATE_CHARS, parse_date
from .errors import ParseError
from .model import Entry, Source, item_id

__all__ = ["MAX_DATE_CHARS", "MAX_ITEMS", "MAX_JSON_VALUES", "MAX_XML_NODES", "SCAN_BYTES", "ParseError",
           "ParsedFeed", "decode_xml", "parse_date", "parse_feed"]


@dataclass(slots=True)
class ParsedFeed:
    title: str = ""
    link: str = ""
    ttl_minutes: int | None = None
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # breakage recovered while reading (shown in `sources check`)


# Namespace URI → the prefix tidings reads its elements under. RSS 0.90/1.0 and Userland's RSS namespaces
# read as plain RSS; Atom 0.3 as Atom. Element names are lower-cased, as feedparser does.
PREFIXES = {
    "http://purl.org/rss/1.0/": "",
    "http://my.netscape.com/rdf/simple/0.9/": "",
    "http://backend.userland.com/rss2": "",
    "http://backend.userland.com/rss": "",
    "http://www.w3.org/2005/Atom": "atom",
    "http://purl.org/atom/ns#": "atom",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://www.w3.org/1999/xhtml": "xhtml",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://example.com/DTDs/PodCast-1.0.dtd": "itunes",
    "http://www.itunes.com/DTDs/Podcast-1.0.dtd": "itunes",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
}
_RDF_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
_XHTML_DIV = "{http://www.w3.org/1999/xhtml}div"

# Item fields, each a list of element names in order of preference (first present wins).
ITEM_TITLE = ("title", "atom:title", "dc:title", "media:title")
ITEM_GUID = ("guid", "atom:id", "dc:identifier")
ITEM_PUBLISHED = ("pubdate", "atom:published", "atom:issued", "dc:date", "dcterms:issued", "dcterms:created",
                  "atom:created", "atom:updated", "atom:modified", "dcterms:modified")
ITEM_UPDATED = ("atom:updated", "atom:modified", "dcterms:modified", "dc:modified")
# Full content before summaries; RSS puts HTML in all of these, Atom uses its text constructs.
ITEM_CONTENT = ("content:encoded", "atom:content", "xhtml:body", "body", "fullitem", "description",
                "atom:summary", "dc:description", "itunes:summary", "summary")
ITEM_AUTHOR = ("author", "dc:creator", "atom:author", "dc:author", "itunes:author")
ITEM_CATEGORIES = ("category", "atom:category", "dc:subject", "itunes:category", "media:category")
FEED_TITLE = ("title", "atom:title", "dc:title")

_XML_DECL = re.compile(r"<\?xml\s[^>]*?\?>", re.S)
_DECL_ENCODING = re.compile(rb"""<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_HTML_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]{1,31});")
_RAW_AMP = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,12}|#[xX][0-9a-fA-F]{1,12});)")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.I)
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xef\xbb\xbf", "utf-8"),
         (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))
# Without a BOM, the first character of an XML document is `<` (or white space): its bytes give the width.
_SNIFF = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<\x00", "utf-16-be"),
          (b"<\x00", "utf-16-le"))

MAX_ITEMS = 10000  # more items than any real feed carries: the rest is refused, not parsed
# Node budgets that keep a 15 MiB body from building a 1 GB tree (figures in docs/reliability.md):
# bodies above SCAN_BYTES are counted first, in C, and refused when they hold more than these.
MAX_XML_NODES = 500_000
MAX_JSON_VALUES = 2_000_000
SCAN_BYTES = 1 << 20
_CDATA_OR_COMMENT = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->", re.S)


def urljoin(base: str, url: str) -> str:
    """urljoin, skipping the work for the common case of an absolute http(s) URL."""
    if url.startswith(("https://", "http://")) and "/." not in url:
        return url
    return _urljoin(base, url) if base else url


def charset_of(content_type: str) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9._\-]+)", content_type or "", re.I)
    return m.group(1).lower() if m else None


def decode_xml(body: bytes, content_type: str = "", notes: list[str] | None = None) -> str:
    """Decode an XML document: BOM, then the HTTP charset, then the XML prolog, else UTF-8.

    When the body is not valid in the charset it claims, it is read as UTF-8 if it is that, else in the
    charset a detector finds; what was done is added to `notes`.
    """
    return _decode(body, content_type, notes if notes is not None else [])[0]


# The C0 controls XML 1.0 forbids, as bytes (the same in every ASCII-compatible encoding).
_C0_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))


def _codec(body: bytes, content_type: str, notes: list[str]) -> tuple[str, str | None, bytes]:
    """(codec, declared charset, body less its BOM): what _decode reads the body as."""
    codec = declared = None
    for bom, name in _BOMS:
        if body.startswith(bom):
            codec, body = name, body[len(bom):]
            break
    else:
        for start, name in _SNIFF:
            if body.startswith(start):
                codec = name
                break
    if codec is None:
        declared = charset_of(content_type)
        if not declared:
            m = _DECL_ENCODING.search(body[:1024])
            declared = m.group(1).decode("ascii").lower() if m else None
        codec = codec_for(declared) if declared else "utf-8"
        if codec is None:
            # no charset Python knows, or UTF-16/32, which bytes without a BOM or a wide `<` contradict
            notes.append(f"declared charset {declared!r} does not fit the document")
            codec = "utf-8"
    return codec, declared, body


def _decode(body: bytes, content_type: str, notes: list[str]) -> tuple[str, bytes | None]:
    """decode_xml's text, and its UTF-8 bytes when they are at hand without encoding it again (a UTF-8 body
    with nothing dropped: the body less the XML declaration); else None."""
    codec, declared, body = _codec(body, content_type, notes)
    text = None
    if codec != "utf-8" and declared and not body.isascii():
        # Multi-byte UTF-8 is almost never valid by accident: a body that is UTF-8 is read as UTF-8,
        # whatever it declares (a GB2312 label on UTF-8 bytes would otherwise decode to mojibake).
        text = _decode_strict(body, "utf-8")
        if text is not None:
            notes.append(f"declared {declared} but the document is UTF-8; read as UTF-8")
    utf8 = text is not None or codec == "utf-8"
    text = text if text is not None else _decode_strict(body, codec)
    if text is None:
        text, used = _decode_guess(body, codec)
        notes.append(f"the document is not valid {declared or codec}; read as {used}")
        utf8 = False
    data: bytes | None = body if utf8 else None
    if "<?xml" in text[:2048] and (decl := _XML_DECL.search(text)):
        if data is not None:  # the same cut in the bytes
            cut = len(text[:decl.start()].encode("utf-8"))
            data = b"".join((data[:cut], memoryview(data)[cut + len(decl.group(0).encode("utf-8")):]))  # one copy
        text = text[:decl.start()] + text[decl.end():]
    # A strict UTF-8 decode holds no surrogate; without C0 bytes and U+FFFE/U+FFFF it holds nothing to drop,
    # and that is cheaper to tell than a regex pass over every character.
    if data is not None and not _has_c0(body) and "\ufffe" not in text and "\uffff" not in text:
        return text, data
    return _INVALID_XML_CHARS.sub("", text), None


_XML_DECL_BYTES = re.compile(_XML_DECL.pattern.encode())  # the same declaration, in bytes (\s: ASCII only)


def _utf8_data(body: bytes, content_type: str) -> bytes | None:
    """The bytes _decode gives lxml for a UTF-8 body that holds nothing to drop (the body less its BOM and XML
    declaration), found without decoding it; None when _decode would read it otherwise or the declaration
    is not cut alike in bytes. Only a strict parse of them tells that the body is valid UTF-8 with nothing
    to drop: libxml2 refuses every sequence Python's strict decode refuses, C0 controls and U+FFFE/U+FFFF
    (tests/test_parse_fast_paths.py)."""
    notes: list[str] = []
    codec, _, body = _codec(body, content_type, notes)
    if codec != "utf-8" or notes:
        return None
    at = body.find(b"<?xml")
    if at < 0:
        return body
    # _decode cuts the first declaration it finds when "<?xml" is in the first 2,048 characters: the first
    # "<?xml" matching in bytes (ASCII \s) is that one, at most `at` characters in.
    m = _XML_DECL_BYTES.match(body, at) if at + 5 <= 2048 else None
    return b"".join((body[:at], memoryview(body)[m.end():])) if m else None


def _strict_utf8_root(body: bytes, content_type: str, base_url: str) -> etree._Element | None:
    """The document's root when its UTF-8 bytes parse strictly as they are, which is what _decode and
    _xml_root make of it; None sends it the general way (which also words any error). Inside parse_feed, long
    CDATA sections may be left out of the tree, their texts added to _CUT_SECTIONS for _put_back."""
    data = _utf8_data(body, content_type)
    if data is None:
        return None
    try:
        _check_elements(data)
    except ParseError:
        if _keeps_every_byte(data):  # the general way would count the same bytes (without decoding 15 MB first)
            raise
        return None
    _check_items(data)  # its refusal stands: the same bytes reach _xml_root the general way
    cut = _CUT_SECTIONS.get()
    found = _parse_cut(data, base_url or None) if cut is not None else None
    if found is not None and cut is not None:
        cut += found[1]
        return found[0]
    try:
        return etree.fromstring(data, _STRICT, base_url=base_url or None)
    except etree.XMLSyntaxError as e:
        refusal = _refusal(e)
        if refusal is not None and _keeps_every_byte(data):  # _xml_root's strict parse of these bytes refuses alike
            raise refusal from None
        return None


# libxml2 reads a CDATA section one checked character at a time (~45 instructions a byte of Chinese); an item's
# HTML is mostly that. Long sections are cut out before the parse, decoded by Python (whose strict UTF-8 decode,
# with the C0 / U+FFFE / U+FFFF checks, refuses what libxml2 refuses there), and the tree holds a numbered marker
# in their place, which every read of element text below puts back (tests/test_parse_cdata.py).
_CDATA_OPEN, _CDATA_CLOSE = b"<![CDATA[", b"]]>"
_CUT_BYTES = 256  # a shorter section (a title) costs libxml2 less than cutting it out costs here
_CUT_MAX = 8 << 20  # below libxml2's 10 MB text node limit, which a cut-out section would no longer meet
_MARK_START = "\ue000"  # private use; a document holding it outside its cut sections is parsed whole
_MARK_START_UTF8 = _MARK_START.encode()
_MARK = re.compile(_MARK_START + "([0-9]+)\ue001")
# The C0 bytes one by one: a memchr each costs fewer instructions than one translate() of the body
_C0_EACH = tuple(bytes([c]) for c in _C0_BYTES)
_MARKED_TEXT = etree.XPath(f"//text()[contains(., '{_MARK_START}')]")
# The sections left out of the tree being read, each as its text and the UTF-8 bytes that text was decoded from
# (the store binds and hashes them, not the text encoded again): parse_feed sets a list around its parse and
# reading of a tree; None elsewhere (nothing is cut).
Section = tuple[str, bytes]
_CUT_SECTIONS: ContextVar[list[Section] | None] = ContextVar("_CUT_SECTIONS", default=None)


def _cut_cdata(data: bytes) -> tuple[bytes, list[Section]] | None:
    """`data` with the content of each long CDATA section replaced by a numbered marker, and those contents as
    the tree would hold them (decoded, line ends normalised) with their UTF-8; None when there is none, or one
    libxml2 refuses."""
    start = data.find(_CDATA_OPEN)
    if start < 0 or len(data) > _CUT_MAX or data.find(b"<!DOCTYPE", 0, start) >= 0 or any(c in data for c in _C0_EACH):
        return None  # (a DTD's entity values may hold what looks like CDATA; libxml2 refuses a C0 control)
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    texts: list[Section] = []
    at = 0
    while start >= 0:
        begin = start + len(_CDATA_OPEN)
        end = _section_end(data, begin)
        if end < 0:
            return None
        if end - begin >= _CUT_BYTES:
            piece = data[begin:end]
            if b"\r" in piece:  # XML's end-of-line handling, as libxml2 applies it
                piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            try:
                text = codecs.utf_8_decode(piece, "strict", True)[0]
            except UnicodeDecodeError:
                return None
            if "\ufffe" in text or "\uffff" in text:
                return None
            parts += (view[at:begin], f"{_MARK_START}{len(texts)}\ue001".encode())
            texts.append((text, piece))
            at = end
        start = data.find(_CDATA_OPEN, end + len(_CDATA_CLOSE))
    if not texts:
        return None
    parts.append(view[at:])
    skeleton = b"".join(parts)
    return (skeleton, texts) if skeleton.count(_MARK_START_UTF8) == len(texts) else None


_BRACKETS_TRIED = 8  # "]" not closing the section (rare in an item's HTML) before the search for all three bytes


def _section_end(data: bytes, begin: int) -> int:
    """data.find(b"]]>", begin), the end of the CDATA section begun there: a memchr to each "]", where the search
    for the three bytes costs ~3 instructions a byte of the section; the first "]" that begins "]]>" is found
    first either way."""
    at = data.find(b"]", begin)
    for _ in range(_BRACKETS_TRIED):
        if at < 0 or data.startswith(_CDATA_CLOSE, at):
            return at
        at = data.find(b"]", at + 1)
    return data.find(_CDATA_CLOSE, at)


def _parse_cut(data: bytes, base_url: str | None) -> tuple[etree._Element, list[Section]] | None:
    """The strict parse of `data` with its long CDATA sections cut out, and those sections; None when anything is
    amiss (a marker outside element text: the cut was in a comment or instruction), so the caller parses `data`
    whole."""
    cut = _cut_cdata(data)
    if cut is None:
        return None
    skeleton, texts = cut
    try:
        root = etree.fromstring(skeleton, _STRICT, base_url=base_url)
    except etree.XMLSyntaxError:
        return None
    if _markers_only_in_text(skeleton) or _markers_in_text(root) == len(texts):
        return root, texts
    return None


def _markers_only_in_text(skeleton: bytes) -> bool:
    """Whether every marker of a skeleton that parsed is element text, told from its bytes: without a comment or a
    processing instruction, `<![CDATA[` begins a section wherever it parses (not in an attribute value, which
    refuses `<`, nor outside the root element; a DOCTYPE is refused), and without a character reference nothing
    makes a U+E000 the skeleton's bytes do not hold (_cut_cdata counted them). Most feeds: no tree walk."""
    return b"<!--" not in skeleton and b"<?" not in skeleton and b"&#" not in skeleton


def _markers_in_text(root: etree._Element) -> int:
    """The markers found in the tree's element text (and tails)."""
    seen = 0
    done: set[tuple[etree._Element, bool]] = set()
    for node in _MARKED_TEXT(root):
        owner, tail = node.getparent(), node.is_tail
        if (owner, tail) not in done:  # .text and .tail join adjacent text nodes: each is counted once
            done.add((owner, tail))
            seen += len(_MARK.findall(owner.tail if tail else owner.text))
    return seen


def _put_back(text: str) -> str:
    """Element text as the document holds it: the cut CDATA sections in place of their markers."""
    texts = _CUT_SECTIONS.get() if _MARK_START in text else None
    if not texts:  # none cut: a U+E000 is the feed's own
        return text
    if text[0] == _MARK_START and text.find("\ue001") == len(text) - 1:  # one marker and nothing else
        return texts[int(text[1:-1])][0]
    return _MARK.sub(lambda m: texts[int(m.group(1))][0], text)


def _whole_section(text: str) -> Section | None:
    """The cut section whose marker is all of `text` (an item's HTML, most often), with its UTF-8."""
    if text[:1] != _MARK_START or text.find("\ue001") != len(text) - 1:
        return None
    texts = _CUT_SECTIONS.get()
    return texts[int(text[1:-1])] if texts else None


def _put_back_escaped(markup: str) -> str:
    """_put_back in serialized markup, where text is escaped as lxml escapes it."""
    texts = _CUT_SECTIONS.get() if _MARK_START in markup else None
    return _MARK.sub(lambda m: html.escape(texts[int(m.group(1))][0], quote=False), markup) if texts else markup


def _has_c0(body: bytes, chunk: int = 1 << 20) -> bool:
    """Whether `body` holds a byte of _C0_BYTES: translate() runs in C, a chunk at a time so that a 15 MB
    body is not copied whole."""
    return any(len(part) != len(part.translate(None, _C0_BYTES))
               for part in (body[i:i + chunk] for i in range(0, len(body), chunk)))


def _keeps_every_byte(data: bytes, chunk: int = 1 << 20) -> bool:
    """Whether `data` is valid UTF-8 holding no character _decode drops (C0 controls, U+FFFE, U+FFFF): then
    _decode gives _xml_root these very bytes. Decoded a chunk at a time, so no body-sized str is made."""
    if _has_c0(data):
        return False
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for at in range(0, len(data), chunk):
            text = decoder.decode(data[at:at + chunk], final=at + chunk >= len(data))
            if "\ufffe" in text or "\uffff" in text:
                return False
    except UnicodeDecodeError:
        return False
    return True


def _decode_strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def _decode_guess(body: bytes, codec: str) -> tuple[str, str]:
    """The body in UTF-8 when it is that, else in the charset charset_normalizer finds, else `codec`
    with the undecodable bytes replaced."""
    if codec != "utf-8" and (text := _decode_strict(body, "utf-8")) is not None:
        return text, "UTF-8"
    from charset_normalizer import from_bytes

    best = from_bytes(body[:65536]).best()
    if best is not None and best.encoding not in ("utf_8", codec):
        text = _decode_strict(body, best.encoding)
        if text is not None:
            return text, best.encoding
    return body.decode(codec, errors="replace"), f"{codec} (undecodable bytes replaced)"


_STRICT = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=False, strip_cdata=True, recover=False)
_RECOVER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=False, strip_cdata=True, recover=True)


# libxml2's resource limits (nesting depth, a text node over 10 MB): hostile documents, never recovered.
_PARSER_LIMITS = ("Excessive depth", "Resource limit exceeded", "huge text node", "section too big")


def _xml_root(text: str, base_url: str, notes: list[str], data: bytes | None = None) -> etree._Element:
    data = text.encode("utf-8") if data is None else data  # data: text's UTF-8, when the caller has it
    _check_elements(data)
    _check_items(data)
    base = base_url or None
    try:
        return etree.fromstring(data, _STRICT, base_url=base)
    except etree.XMLSyntaxError as e:
        refusal = _refusal(e)
        if refusal is not None:
            raise refusal from None
        first = e
    # What loose readers repair: raw `&`, HTML named entities, forbidden or upper-case-X character
    # references; then libxml2's recovering parser for the rest (unclosed or truncated tags).
    fixed = _repair(text)
    if fixed != text:
        try:
            root = etree.fromstring(fixed.encode("utf-8"), _STRICT, base_url=base)
            notes.append(f"repaired malformed XML ({_reason(first, 120)})")
            return root
        except etree.XMLSyntaxError:
            pass
    try:
        root = etree.fromstring(fixed.encode("utf-8"), _RECOVER, base_url=base)
    except etree.XMLSyntaxError:
        root = None
    if root is None or not isinstance(root.tag, str):
        raise ParseError(f"malformed XML: {_reason(first)}") from None
    notes.append(f"{_RECOVERED}{_reason(first, 120)})")
    return root


_RECOVERED = "recovered malformed XML ("


def _refusal(e: etree.XMLSyntaxError) -> ParseError | None:
    """The refusal a strict parse's error is, when it is one of libxml2's limits rather than breakage to
    recover from."""
    if "amplification" in str(e):
        # libxml2 refuses entity declarations that would blow up (billion laughs, quadratic
        # blow-up) even though we never expand entities.
        return ParseError("XML entity bomb (entity declarations past libxml2's amplification limit; "
                          "entities are never expanded)")
    if any(limit in (e.msg or "") for limit in _PARSER_LIMITS):
        return ParseError(f"malformed XML: {_reason(e)}")
    return None


def _repair(text: str) -> str:
    text = _RAW_AMP.sub("&amp;", text)
    text = text.replace("&#X", "&#x")
    text = _HTML_ENTITY.sub(_numeric_entity, text)
    return _BAD_CHARREF.sub(_drop_bad_charref, text)


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


def _drop_bad_charref(m: re.Match[str]) -> str:
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


class _ItemCounter:
    """A parser target that counts what _parse_rss and _parse_atom count on the tree (item children of the
    root or of its channel children; entry or item children of the root), building no tree."""

    def __init__(self) -> None:
        self.path: list[str] = []  # from the root down to the open element: local names to depth 1, then ''
        self.root_tag = ""
        self.rss = self.atom = 0

    def start(self, tag: str, attrib: object) -> None:
        local = tag.rpartition("}")[2]
        depth = len(self.path)
        if depth == 0:
            self.root_tag = tag
        elif depth == 1 and local in ("item", "entry"):
            self.atom += 1
            self.rss += local == "item"
        elif depth == 2 and local == "item" and self.path[1] == "channel":
            self.rss += 1
        self.path.append(local if depth < 2 else "")

    def end(self, tag: str) -> None:
        self.path.pop()

    def close(self) -> _ItemCounter:
        return self


def _check_items(data: bytes) -> None:
    """Refuse a big document with more than MAX_ITEMS items before building its tree: 100,000 small items
    are a 10 MB body but a ~90 MB tree, built only to be refused. The items are counted on a strict
    parse that keeps nothing, when the byte count of their start tags could reach the limit; a document
    that is not well-formed is left to the tree's (recovering) parse to count."""
    if len(data) <= SCAN_BYTES:
        return
    bound = data.count(b"<item") + data.count(b":item") + data.count(b"<entry") + data.count(b":entry")
    if bound <= MAX_ITEMS:
        return
    counter = _ItemCounter()
    parser = etree.XMLParser(target=counter, resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, recover=False)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return
    kind = _format_of(counter.root_tag)
    _too_many(counter.rss if kind == "rss" else counter.atom if kind == "atom" else 0)


def _check_json_values(body: bytes) -> None:
    """Refuse a JSON body with more than MAX_JSON_VALUES values before decoding it.

    Commas + brackets bound the number of Python objects json.loads would make (commas inside strings
    count too: a real feed under the size cap stays far below the limit).
    """
    if len(body) <= SCAN_BYTES:
        return
    n = body.count(b",") + body.count(b"{") + body.count(b"[")
    if n > MAX_JSON_VALUES:
        raise ParseError(f"too many JSON values (up to {n:,}; at most {MAX_JSON_VALUES:,} are read)")


def _numeric_entity(m: re.Match[str]) -> str:
    name = m.group(1)
    if name in _XML_ENTITIES:
        return m.group(0)
    ch = html.entities.html5.get(name + ";")
    return "".join(f"&#{ord(c)};" for c in ch) if ch else "&amp;" + m.group(0)[1:]


def parse_feed(body: bytes, source: Source, *, content_type: str = "", url: str = "",
               now: datetime | None = None, content_cover: bool = True) -> ParsedFeed:
    """Parse a feed body. Raises ParseError with a short reason when it is not a readable feed.

    An item without a cover of the feed's own (enclosure, Media RSS, JSON image) takes its content's first image,
    unless `content_cover` is False (ingest's cleaner picks one from the cleaned HTML instead)."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(source.timezone or "UTC")
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ParseError("empty response")
    if head[:1] in (b"{", b"["):
        return _parse_json(body, source, tz, now, url, content_cover)
    if re.match(rb"(?is)<!doctype\s+html|<html", head):
        raise ParseError("got an HTML page, not a feed")
    notes: list[str] = []
    doc_url = url or source.url
    # Most feeds are UTF-8 that parses strictly: lxml reads their bytes, and no feed-sized str is made.
    token = _CUT_SECTIONS.set([])
    try:
        root = _strict_utf8_root(body, content_type, doc_url)
        if root is None:
            text, data = _decode(body, content_type, notes)
            root = _xml_root(text, doc_url, notes, data)
        kind = _format_of(root.tag)
        if kind in ("rss", "atom"):
            feed = (_parse_rss if kind == "rss" else _parse_atom)(root, source, tz, now, doc_url, content_cover)
    finally:
        _CUT_SECTIONS.reset(token)
    if kind == "html":
        raise ParseError("got an HTML page, not a feed")
    if kind not in ("rss", "atom"):
        raise ParseError(f"not a feed: root element <{_reason(ValueError(root.tag.rpartition('}')[2]), 60)}>")
    feed.notes = notes
    recovered = next((n for n in notes if n.startswith(_RECOVERED)), None)
    if recovered and not feed.entries:  # what libxml2 salvaged holds no item: the document is broken
        raise ParseError("malformed XML: " + recovered[len(_RECOVERED):-1])
    if not feed.entries:
        held = int(root.xpath("count(//*[local-name()='item' or local-name()='entry'])"))
        if held:
            raise ParseError(f"the document holds {held} <item>/<entry> elements, but none could be read")
    return feed


def _format_of(root_tag: str) -> str | None:
    """'rss', 'atom' or 'html' for a document's root element (`{uri}local`), None for anything else."""
    namespace, _, local = root_tag[1:].rpartition("}") if root_tag[:1] == "{" else ("", "", root_tag)
    tag = local.lower()
    if tag in ("rss", "rdf", "channel") and local != "CHANNEL":  # CHANNEL: CDF, a 1997 format
        return "rss"
    if tag == "feed" and PREFIXES.get(namespace, "atom") == "atom":
        return "atom"
    return "html" if tag == "html" else None


# --- element names ----------------------------------------------------------------------------------

@lru_cache(maxsize=1024)
def _name(tag: str, bare: str) -> str:
    """`{uri}local` → `prefix:local` (lower-cased); elements in no namespace read as `bare`."""
    if tag[:1] != "{":
        local, prefix = tag, bare
    else:
        uri, _, local = tag[1:].partition("}")
        found = PREFIXES.get(uri)
        prefix = found if found is not None else "{" + uri + "}"
    local = local.lower()
    return prefix + ":" + local if prefix else local


Children = dict[str, list[etree._Element]]


# _name's answers for each `bare`, by tag: a dict lookup a child, where _name's cache makes a key of its arguments
_NAMES_BY_BARE: dict[str, dict[str, str]] = {}


def _children(el: etree._Element, bare: str = "") -> Children:
    out: Children = {}
    names = _NAMES_BY_BARE.get(bare) or _NAMES_BY_BARE.setdefault(bare, {})
    for child in el:
        tag = child.tag  # (lxml makes the str at each read)
        if isinstance(tag, str):
            name = names.get(tag)
            if name is None:
                name = _name(tag, bare)
                if len(names) < 1024:  # a hostile feed's thousands of tag names are not all kept
                    names[tag] = name
            out.setdefault(name, []).append(child)
    return out


def _first(kids: Children, names: tuple[str, ...]) -> etree._Element | None:
    for name in names:
        found = kids.get(name)
        if found:
            return found[0]
    return None


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    if not len(el):  # no child node of any kind: its text is all itertext would yield
        text = el.text
        return _put_back(text).strip() if text else ""
    return _put_back("".join(el.itertext())).strip()


def _plain(markup: str) -> str:
    """What a reader sees of an HTML fragment (titles): its text, entities decoded."""
    if "<" not in markup:
        return html.unescape(markup).strip()
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.unescape(markup).strip()
    for hidden in root.xpath(".//script|.//style"):
        hidden.drop_tree()
    return " ".join(root.text_content().split())


def _inner_xml(el: etree._Element) -> str:
    """The element's content as markup: its text escaped, then its children serialized."""
    parts = [html.escape(_put_back(el.text), quote=False) if el.text else ""]
    parts += [_put_back_escaped(etree.tostring(child, encoding="unicode", with_tail=True)) for child in el]
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", "".join(parts))


_LOOKS_HTML = re.compile(r"<[A-Za-z][A-Za-z0-9]*[\s/>]")
_ATOM_KIND = {"text": "text", "text/plain": "text", "html": "html", "text/html": "html", "xhtml": "xhtml",
              "application/xhtml+xml": "xhtml"}


def _atom_content(el: etree._Element) -> str:
    """An Atom 1.0 / 0.3 text construct as HTML."""
    kind_attr = (el.get("type") or "text").strip().lower()
    kind = _ATOM_KIND.get(kind_attr)
    text = _put_back(el.text or "")
    mode = (el.get("mode") or "").lower()
    # Atom 0.3 `mode="base64"`, and Atom 1.0 content of any other media type, is base64.
    if mode == "base64" or (kind is None and not kind_attr.endswith(("+xml", "/xml")) and not len(el)):
        try:
            text = base64.b64decode(text, validate=False).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return ""
        if kind is None:  # some other media type: HTML if it looks like it
            kind = "html" if "html" in kind_attr or _LOOKS_HTML.search(text) else "text"
        if kind == "text":
            return _text_as_html(text)
        return text
    if kind == "xhtml" or (len(el) and kind != "text"):
        div = el.find(_XHTML_DIV) if kind == "xhtml" else None
        return _inner_xml(div if div is not None and len(el) == 1 else el)
    if kind == "text" and mode != "escaped":
        return _text_as_html(_put_back("".join(el.itertext())))
    return text


def _text_as_html(text: str) -> str:
    return "<p>" + html.escape(text.strip()).replace("\n\n", "</p><p>") + "</p>" if text.strip() else ""


def _atom_title(el: etree._Element) -> str:
    """An Atom title as plain text, whatever its type."""
    kind = _ATOM_KIND.get((el.get("type") or "text").strip().lower())
    if kind == "text" and not el.get("mode"):
        return _text(el)  # children in a text title are a publisher's mistake: keep all their text
    return _plain(_atom_content(el))


def _resolve(base: str | None, url: str, fallback: str, doc_url: str) -> str:
    """`url` resolved once: against `base` (an element's, from its xml:base in scope) when it is not the
    document URL, else `fallback` (the channel link, for RSS), else the document URL."""
    if not url:
        return ""
    if base and base != doc_url:
        return urljoin(base, url)
    return urljoin(fallback or doc_url, url)


# --- items -------------------------------------------------------------------------------------------

_MEDIA = ("{http://search.yahoo.com/mrss/}", "{http://search.yahoo.com/mrss}")


@dataclass(slots=True)
class _Context:
    source: Source
    tz: ZoneInfo
    now: datetime
    doc_url: str
    base_fallback: str  # RSS: the channel link; Atom: '' (xml:base and the document URL only)
    bare: str  # the prefix of elements in no namespace: '' for RSS, 'atom' for Atom without a namespace
    feed_author: str = ""
    media: bool = True  # the document has Media RSS elements (else no item needs looking for them)
    # Without an xml:base attribute anywhere every element's base is the document's: one lookup per document
    # instead of ~1,200 instructions for each element's walk up the tree.
    xml_base: bool = True
    doc_base: str | None = None
    content_cover: bool = True  # parse_feed's `content_cover`

    def base_of(self, el: etree._Element) -> str | None:
        return el.base if self.xml_base else self.doc_base


def _entry(source: Source, *, guid: str, link: str, title: str, date_raw: str, content: str, author: str,
           published: datetime | None, updated: datetime | None, covers: list[str], tags: list[str],
           base: str, content_utf8: Section | None = None, content_cover: bool = True) -> Entry:
    """An Entry from fields already resolved (link and covers absolute where the feed allows)."""
    cover = next((c for c in covers if c), "")
    if not cover and content_cover:
        m = _IMG_SRC.search(content)
        if m and not m.group(1).startswith("data:"):
            cover = urljoin(base, html.unescape(m.group(1)))
    return Entry(source_key=source.key, id=item_id(guid, link, title, date_raw, content), title=title, link=link,
                 guid=guid, author=author, published=published, updated=updated, content=content,
                 cover=cover, cover_explicit=any(covers), tags=tags, base=base or link, content_utf8=content_utf8)


def _is_atom(el: etree._Element, bare: str) -> bool:
    return _name(el.tag, bare).startswith("atom:")


def _item(it: etree._Element, ctx: _Context) -> Entry:
    k = _children(it, ctx.bare)
    title_el = _first(k, ITEM_TITLE)
    if title_el is None:
        title = ""
    elif _is_atom(title_el, ctx.bare):
        title = _atom_title(title_el)
    else:
        title = _text(title_el)  # RSS titles are text: `a <b> c` is what the feed means to show

    link_el, link = _item_link(k)
    guid_el = _first(k, ITEM_GUID)
    guid = _text(guid_el) or it.get(_RDF_ABOUT, "")
    if not link and guid_el is not None and guid_el.get("isPermaLink", "true").lower() == "true" \
            and guid.startswith(("http://", "https://")):
        link_el, link = guid_el, guid
    link = _resolve(ctx.base_of(link_el), link, ctx.base_fallback, ctx.doc_url) if link_el is not None else ""

    content_el, content, section = _item_content(k, ctx.bare)
    published_raw = _text(_first(k, ITEM_PUBLISHED))
    updated_raw = _text(_first(k, ITEM_UPDATED))
    scope = content_el if content_el is not None else it
    scope_base = ctx.base_of(scope)
    in_scope = scope_base if scope_base and scope_base != ctx.doc_url else ""
    base = in_scope or link or urljoin(ctx.doc_url, ctx.base_fallback) or ctx.doc_url
    return _entry(
        ctx.source, guid=guid, link=link, title=title, date_raw=published_raw or updated_raw, content=content,
        author=_item_author(k, ctx.bare) or ctx.feed_author,
        published=_date_or_none(published_raw or updated_raw, ctx.tz, ctx.now),
        updated=_date_or_none(updated_raw, ctx.tz, ctx.now), covers=_covers(it, k, ctx), tags=_categories(k),
        base=base, content_utf8=section, content_cover=ctx.content_cover)


def _item_link(k: Children) -> tuple[etree._Element | None, str]:
    for el in k.get("link", ()):
        text = _text(el) or el.get("href", "")  # Atom without a namespace: <link href=…/>
        if text:
            return el, text
    for el in k.get("atom:link", ()):
        if el.get("rel", "alternate") == "alternate" and el.get("href"):
            return el, el.get("href", "").strip()
    return None, ""


def _item_content(k: Children, bare: str) -> tuple[etree._Element | None, str, Section | None]:
    """The element an item's content is read from, the content, and, when it is one cut CDATA section, that section
    (the content and its UTF-8)."""
    for name in ITEM_CONTENT:
        for el in k.get(name, ()):
            # el.text makes a new str from the tree's UTF-8 each time it is read: once here.
            raw, has_children = el.text, len(el)
            section = _whole_section(raw) if raw else None
            text = section[0] if section else _put_back(raw) if raw else raw
            if not (text and not text.isspace()) and not has_children:  # isspace: no stripped copy
                continue
            if name.startswith("atom:"):
                return el, _atom_content(el), None
            # xhtml:body, or raw (unescaped) HTML elements in an RSS field: the serialized children too,
            # not only the text before the first one.
            if name == "xhtml:body" or has_children:
                return el, _inner_xml(el), None
            return el, text or "", section  # escaped or CDATA HTML
    return None, "", None


def _item_author(k: Children, bare: str) -> str:
    for name in ITEM_AUTHOR:
        els = k.get(name)
        if not els:
            continue
        if name == "atom:author":
            names = [_text(_first(_children(a, bare), ("atom:name",))) for a in els]
            found = ", ".join(n for n in names if n)
        else:
            found = _text(els[0])
            for pattern in _NAME_WITH_EMAIL:  # RSS: `me@x.com (Name)`, `Name <me@x.com>`: the name alone
                if m := pattern.match(found):
                    found = m.group("name").strip()
                    break
        if found:
            return found
    return ""


_NAME_WITH_EMAIL = (re.compile(r"^\S+@\S+\s*\((?P<name>[^()]+)\)$"), re.compile(r"^(?P<name>[^()<>]+?)\s*\(\S+@\S+\)$"),
                    re.compile(r"^(?P<name>[^<>]+?)\s*<\S+@\S+>$"))


def _categories(k: Children) -> list[str]:
    tags: list[str] = []
    for name in ITEM_CATEGORIES:
        els = k.get(name)
        if not els:
            continue
        for el in els:
            if name == "atom:category":
                terms = [el.get("term") or _text(el)]
            elif name == "itunes:category":  # iTunes nests subcategories
                terms = [el.get("text") or ""] + [sub.get("text") or "" for sub in el if isinstance(sub.tag, str)]
            else:
                terms = [_put_back(el.text or "") if len(el) else _text(el)]  # not the text of nested elements
            for term in terms:
                term = term.strip()
                if term and term not in tags:
                    tags.append(term)
    return tags


def _covers(it: etree._Element, k: Children, ctx: _Context) -> list[str]:
    if not ctx.media and "enclosure" not in k and "atom:link" not in k:  # nothing to look at (most items)
        return []
    found: list[tuple[etree._Element, str]] = []
    for ns in _MEDIA if ctx.media else ():
        found += [(t, t.get("url", "")) for t in it.iter(ns + "thumbnail")]
        found += [(mc, mc.get("url", "")) for mc in it.iter(ns + "content")
                  if mc.get("medium") == "image" or _is_image(mc.get("type", ""), mc.get("url", ""))]
    found += [(e, e.get("url", "")) for e in k.get("enclosure", ()) if _is_image(e.get("type", ""), e.get("url", ""))]
    found += [(a, a.get("href", "")) for a in k.get("atom:link", ())
              if a.get("rel") == "enclosure" and _is_image(a.get("type", ""), a.get("href", ""))]
    return [_resolve(ctx.base_of(el), url.strip(), ctx.base_fallback, ctx.doc_url) for el, url in found if url.strip()]


def _has_media(root: etree._Element) -> bool:
    """Whether any element of the document is in a Media RSS namespace: one walk in C per document, where
    each item would otherwise walk its subtree four times to find none."""
    return next(root.iter(*(ns + "*" for ns in _MEDIA)), None) is not None


_HAS_XML_BASE = etree.XPath("boolean(//@xml:base)")


def _is_image(mime: str, url: str) -> bool:
    return mime.startswith("image/") or bool(re.search(r"\.(jpe?g|png|gif|webp|avif|svg)(\?|$)", url, re.I))


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


# --- RSS 0.9x / 1.0 (RDF) / 2.0 ------------------------------------------------------------------------

_COUNT_ITEMS = etree.XPath("count(*[local-name()='item']) + count(*[local-name()='channel']/*[local-name()='item'])")


def _parse_rss(root: etree._Element, source: Source, tz: ZoneInfo, now: datetime, doc_url: str,
               content_cover: bool = True) -> ParsedFeed:
    _too_many(int(_COUNT_ITEMS(root)))  # counted in C: no Python object per item
    kids = _children(root)
    if root.tag.rpartition("}")[2].lower() == "channel":
        channel: etree._Element | None = root
    else:
        channel = _first(kids, ("channel",))
    ch = _children(channel) if channel is not None else {}
    link_el, link = _item_link(ch)
    feed = ParsedFeed(title=_text(_first(ch, FEED_TITLE)),
                      link=_resolve(link_el.base, link, "", doc_url) if link_el is not None else "")
    ttl = _text(_first(ch, ("ttl",)))
    # ASCII digits only ("²".isdigit() is true but int() refuses it); 9 digits at most, so neither
    # int() (4,300-digit limit) nor ttl * 60.0 (float overflow) can raise on a hostile value.
    feed.ttl_minutes = int(ttl) if re.fullmatch(r"[0-9]{1,9}", ttl) else None
    # Items belong in <channel> (RSS 2.0) or beside it (RSS 1.0); loose feeds put them anywhere.
    items = ch.get("item", []) + (kids.get("item", []) if channel is not root else [])
    ctx = _Context(source, tz, now, doc_url, base_fallback=feed.link, bare="", media=_has_media(root),
                   xml_base=_HAS_XML_BASE(root), doc_base=root.base, content_cover=content_cover)
    return _finish(feed, [_item(it, ctx) for it in items])


# --- Atom 1.0 / 0.3 ----------------------------------------------------------------------------------

def _parse_atom(root: etree._Element, source: Source, tz: ZoneInfo, now: datetime, doc_url: str,
                content_cover: bool = True) -> ParsedFeed:
    _too_many(int(root.xpath("count(*[local-name()='entry' or local-name()='item'])")))
    kids = _children(root, "atom")
    title_el = _first(kids, ("atom:title",))
    link = ""
    for el in kids.get("atom:link", ()):
        if el.get("rel", "alternate") == "alternate" and el.get("href"):
            link = _resolve(el.base, el.get("href", "").strip(), "", doc_url)
            break
    feed = ParsedFeed(title=_atom_title(title_el) if title_el is not None else "", link=link)
    ctx = _Context(source, tz, now, doc_url, base_fallback="", bare="atom", feed_author=_item_author(kids, "atom"),
                   media=_has_media(root), xml_base=_HAS_XML_BASE(root), doc_base=root.base,
                   content_cover=content_cover)
    # <item> in an Atom feed is a publisher's slip that loose readers accept
    return _finish(feed, [_item(it, ctx) for it in kids.get("atom:entry", []) + kids.get("atom:item", [])])


# --- JSON Feed 1.x ----------------------------------------------------------------------------------

def _parse_json(body: bytes, source: Source, tz: ZoneInfo, now: datetime, url: str,
                content_cover: bool = True) -> ParsedFeed:
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
        link = urljoin(base, link) if link else ""
        entries.append(_entry(
            source, guid=_str(it.get("id")), link=link, title=_str(it.get("title")).strip(), date_raw=date_raw,
            content=content, author=_json_author(it) or feed_author, published=_date_or_none(date_raw, tz, now),
            updated=_date_or_none(_str(it.get("date_modified")), tz, now),
            covers=[urljoin(base, c) for c in (_str(it.get("image")), _str(it.get("banner_image"))) if c],
            tags=[_str(t) for t in it.get("tags", []) if isinstance(t, (str, int))]
            if isinstance(it.get("tags"), list) else [],
            base=link or base, content_cover=content_cover))
    return _finish(feed, entries)


def _str(v: object) -> str:
    if isinstance(v, str):
        # JSON escapes can carry what an XML feed cannot (\u0000, lone surrogates \ud800): drop the same
        # characters decode_xml drops, so no field can hold text that SQLite or UTF-8 refuses.
        return _INVALID_XML_CHARS.sub("", v) if _INVALID_XML_CHARS.search(v) else v
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else ""


def _json_author(obj: dict[str, Any]) -> str:
    authors = obj.get("authors")
    if isinstance(authors, list):
        names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
        if any(names):
            return ", ".join(n for n in names if n)
    a = obj.get("author")
    return _str(a.get("name")) if isinstance(a, dict) else ""


_A_DAY = timedelta(days=1)


def _date_or_none(raw: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    if not raw:  # (most items have no updated date)
        return None
    dt = parse_date(raw, tz)
    # A date far in the future would pin an item to the top of every listing: treat it as missing.
    if dt is None or dt > now + _A_DAY or dt.year < 1970:
        return None
    return dt
