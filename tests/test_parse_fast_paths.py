"""parse.py's fast paths give what the general code they short-cut gives (docs/benchmarks.md, Ingest).

The references are the code each fast path replaced, kept here as the specification.
"""
from __future__ import annotations

import re

import pytest
from conftest import CORPUS
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from util import entry_fields as fields

from tidings import parse
from tidings.model import Source
from tidings.parse import _decode, _has_c0, _text, decode_xml, parse_feed

_XML_DECL = re.compile(r"<\?xml\s[^>]*?\?>", re.S)
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
SOURCE = Source(url="https://feeds.example/rss", category="c", source="s", channel="ch")


def reference_decode(body: bytes, content_type: str = "") -> str:
    """decode_xml before the fast path, verbatim."""
    codec = declared = None
    for bom, name in parse._BOMS:
        if body.startswith(bom):
            codec, body = name, body[len(bom):]
            break
    else:
        for start, name in parse._SNIFF:
            if body.startswith(start):
                codec = name
                break
    if codec is None:
        declared = parse.charset_of(content_type)
        if not declared:
            m = parse._DECL_ENCODING.search(body[:1024])
            declared = m.group(1).decode("ascii").lower() if m else None
        codec = parse.codec_for(declared) if declared else "utf-8"
        if codec is None:
            codec = "utf-8"
    text = None
    if codec != "utf-8" and declared and not body.isascii():
        text = parse._decode_strict(body, "utf-8")
    text = text if text is not None else parse._decode_strict(body, codec)
    if text is None:
        text, used = parse._decode_guess(body, codec)
    text = _XML_DECL.sub("", text, count=1) if "<?xml" in text[:2048] else text
    return _INVALID.sub("", text)


ITEM = "<item><title>标题 ä</title><link>https://a.example/1</link><description><![CDATA[<p>正文</p>]]></description></item>"
DOC = '<rss version="2.0"><channel><title>t</title>' + ITEM + "</channel></rss>"
BODIES = [
    (('<?xml version="1.0" encoding="UTF-8"?>' + DOC).encode(), ""),
    (DOC.encode(), ""),
    (b"\xef\xbb\xbf" + ('<?xml version="1.0"?>' + DOC).encode(), ""),
    (("\n  <?xml version='1.0' encoding='utf-8'?>" + DOC).encode(), ""),
    (('<?xml-stylesheet href="a.xsl"?><?xml version="1.0"?>' + DOC).encode(), ""),
    (("标题" * 700 + '<?xml version="1.0"?>' + DOC).encode(), ""),
    (('<?xml version="1.0"?>' + DOC.replace("正文", "正\x01文\x0b")).encode(), ""),
    (('<?xml version="1.0"?>' + DOC.replace("正文", "正\uffff文\ufffe")).encode(), ""),
    (('<?xml version="1.0" encoding="gb2312"?>' + DOC).encode("gbk", "replace"), ""),
    (('<?xml version="1.0" encoding="gb2312"?>' + DOC).encode(), ""),
    (('<?xml version="1.0" encoding="iso-8859-1"?>' + DOC.replace("标题", "")).encode("latin-1", "replace"), ""),
    (DOC.encode("utf-16"), ""),
    (DOC.encode(), "application/rss+xml; charset=gb2312"),
    (('<?xml version="1.0"?>' + DOC.replace("正文", "正" * 400000 + "\x1f")).encode(), ""),  # past _has_c0's first chunk
    (DOC.encode() + b"\xff\xfe broken", ""),
    (('<?xml version="1.0" encoding="UTF-8"?>' + DOC).encode(), "text/xml; charset=utf-8"),
]


@pytest.mark.parametrize("body,content_type", BODIES)
def test_decode_gives_the_text_of_before_and_its_utf8(body, content_type):
    text, data = _decode(body, content_type, [])
    assert text == decode_xml(body, content_type) == reference_decode(body, content_type)
    if data is not None:
        assert data == text.encode("utf-8")


def test_decode_fast_path_is_taken_for_a_plain_utf8_feed():
    text, data = _decode(BODIES[0][0], "", [])
    assert data is not None and data == BODIES[0][0][len('<?xml version="1.0" encoding="UTF-8"?>'):]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<?xml version='1.0'?>ab标\x00\x0b\ufffe\uffff\u00e4 \n&;")), max_size=60))
def test_decode_on_any_text(s):
    body = s.encode("utf-8", "surrogatepass")
    text, data = _decode(body, "", [])
    assert text == reference_decode(body)
    if data is not None:
        assert data == text.encode("utf-8")


def reference_text(el: etree._Element | None) -> str:
    return "" if el is None else "".join(el.itertext()).strip()


def test_text_fast_path_equals_itertext():
    doc = etree.fromstring(
        "<r><a> plain </a><b/><c><![CDATA[ cdata ]]></c><d> x <!-- c --> y </d><e><?pi z?> t </e>"
        "<f> <g>in</g> tail </f><h>\n</h></r>")
    for el in doc.iter(etree.Element):  # _text is given elements only (parse._children keeps no other)
        assert _text(el) == reference_text(el)
    assert _text(None) == reference_text(None) == ""


MEDIA_FEED = (b'<rss version="2.0"><channel><title>t</title><link>https://a.example/</link>'
              b'<item xmlns:media="http://search.yahoo.com/mrss/"><title>x</title><link>https://a.example/1</link>'
              b'<media:group><media:content url="/i.jpg" medium="image"/></media:group></item>'
              b"<item><title>y</title><link>https://a.example/2</link><description>&lt;img src=/j.png&gt;"
              b"</description></item></channel></rss>")


def entries_of(body: bytes) -> list[dict[str, object]]:
    try:
        return [fields(e) for e in parse_feed(body, SOURCE, url="https://a.example/feed").entries]
    except parse.ParseError as e:
        return [{"error": str(e)}]


def feeds() -> list[bytes]:
    found = [MEDIA_FEED, MEDIA_FEED.replace(b"http://search.yahoo.com/mrss/", b"http://search.yahoo.com/mrss")]
    if CORPUS.is_dir():
        found += [p.read_bytes() for p in sorted(CORPUS.rglob("*")) if p.suffix in (".xml", ".rdf", ".atom")
                  and ("media" in p.as_posix() or b"search.yahoo.com/mrss" in p.read_bytes())]
    return found


def test_media_check_changes_no_cover(monkeypatch):
    bodies = feeds()
    fast = [entries_of(b) for b in bodies]
    monkeypatch.setattr(parse, "_has_media", lambda root: True)  # every item searched, as before
    assert [entries_of(b) for b in bodies] == fast
    assert fast[0][0]["cover"] == "https://a.example/i.jpg"


def test_has_c0_looks_in_every_chunk():
    for n in range(0, 70):
        body = b"x" * n + b"\x1f" + b"y" * (69 - n)
        assert _has_c0(body, chunk=16) and _has_c0(body)
        assert not _has_c0(body.replace(b"\x1f", b"\t"), chunk=16)
    assert not _has_c0(b"")


# --- the strict parse of a UTF-8 body's own bytes (parse._strict_utf8_root) ----------------------------------

def general_root(body: bytes, content_type: str = "") -> tuple[bytes | None, list[str]]:
    """What parse_feed made of a body before the strict parse of its bytes: _decode, then _xml_root."""
    notes: list[str] = []
    try:
        text, data = _decode(body, content_type, notes)
        return etree.tostring(parse._xml_root(text, "https://a.example/feed", notes, data)), notes
    except parse.ParseError:
        return None, notes


def corpus_bodies() -> list[tuple[bytes, str]]:
    found = list(BODIES)
    if CORPUS.is_dir():
        found += [(p.read_bytes(), "") for p in sorted(CORPUS.rglob("*")) if p.is_file()]
    return found


def test_strict_utf8_root_is_the_general_paths_root():
    """Wherever the bytes parse strictly, the general path read the body as UTF-8, dropped nothing, noted
    nothing and built the same tree; on the feedparser corpus and the bodies above."""
    taken = 0
    for body, content_type in corpus_bodies():
        root = parse._strict_utf8_root(body, content_type, "https://a.example/feed")
        if root is not None:
            taken += 1
            assert general_root(body, content_type) == (etree.tostring(root), []), body[:200]
    assert taken > 1000


# Byte sequences Python's strict UTF-8 decode refuses, and characters _decode drops (C0 controls, U+FFFE/U+FFFF)
REFUSED = [bytes([c]) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]] + [
    b"\xef\xbf\xbe", b"\xef\xbf\xbf",  # U+FFFE, U+FFFF
    b"\x80", b"\xbf", b"\xc2\x7f", b"\xfe", b"\xff",  # stray continuation bytes, bytes never in UTF-8
    b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf",  # overlong
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\x80\xed\xb0\x80",  # surrogates, alone and as a pair (CESU-8)
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80",  # past U+10FFFF
    b"\xe4\xb8", b"\xc3", b"\xf0\x9f\x98", b"\xe4\xb8x", b"\xc3x",  # truncated, at the end of a run or not
]
LONG = "中" * 3000
# Every place of a document a byte can be in, the end of the body included
PLACES = [
    "<r>{}</r>", "<r>{}" + LONG + "</r>", "<r>" + LONG + "{}</r>", "<r>" + "a" * 5000 + "{}</r>", "<r>&amp;{}</r>",
    "<r><![CDATA[a{}b]]></r>", "<r><![CDATA[" + LONG + "{}]]></r>", '<r a="{}"/>', "<r a='x{}'/>",
    '<r a="' + "中" * 500 + '{}"/>', '<r xmlns:a="{}"/>', "<r{}/>", "<r x{}='1'/>", "<r></r{}>",
    "<r><!-- {} --></r>", "<r/><!-- {} -->", "<!-- {} --><r/>", "<r><?pi {}?></r>", "<r/><?pi x{}?>",
    "<!DOCTYPE r [<!-- {} -->]><r/>", '<!DOCTYPE r SYSTEM "{}"><r/>', '<!DOCTYPE r [<!ENTITY e "{}">]><r/>',
    '<!DOCTYPE r [<!ATTLIST r a CDATA "{}">]><r/>', "{}<r/>", " {}<r/>", "<r>a</r>{}", "<r>a</r>\n{}", "<r>{}",
    '<?xml version="1.0"?><r>{}</r>', '<?xml version="1.0" encoding="utf-8"?>\n<r><x>ab{}</x></r>',
]


@pytest.mark.parametrize("place", PLACES)
def test_libxml2_refuses_what_python_refuses(place):
    """The proof the strict parse of the bytes rests on: no body that Python's strict decode refuses, or from
    which _decode drops a character, parses strictly; such a body goes the general way."""
    head, tail = place.split("{}")
    for seq in REFUSED:
        body = head.encode() + seq + tail.encode()
        assert parse._utf8_data(body, "") is not None
        assert parse._strict_utf8_root(body, "", "") is None, (place, seq)


def test_strict_utf8_root_skips_what_the_bytes_cannot_say():
    doc = DOC.encode()
    assert parse._strict_utf8_root(doc, "text/xml; charset=gb2312", "") is None  # read as GB18030
    assert parse._strict_utf8_root(doc, "text/xml; charset=x-nonsense", "") is None  # a note
    assert parse._strict_utf8_root(DOC.encode("utf-16"), "", "") is None
    assert parse._utf8_data(("<?xml\u3000version='1.0'?>" + DOC).encode(), "") is None  # \s beyond ASCII
    assert parse._utf8_data(("标" * 700 + '<?xml version="1.0"?>' + DOC).encode(), "") is None  # past 2,048 bytes
    assert parse._utf8_data(b"\xef\xbb\xbf<?xml version='1.0'?>" + doc, "") == doc
    assert parse._utf8_data(b"<?xml-stylesheet href='a'?><?xml version='1.0'?>" + doc, "") is None


# --- items counted before the tree is built (parse._check_items) ----------------------------------------------

RSS_COUNT = etree.XPath("count(*[local-name()='item']) + count(*[local-name()='channel']/*[local-name()='item'])")
ATOM_COUNT = etree.XPath("count(*[local-name()='entry' or local-name()='item'])")
PLACED = [  # items where _parse_rss and _parse_atom count them, and where they do not
    '<rss><channel><item/><item/><x><item/></x></channel><item/><entry/></rss>',
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
    '<channel><items><rdf:Seq><rdf:li/></rdf:Seq></items></channel><item/><item/><rdf:item/></rdf:RDF>',
    '<channel><item/><channel><item/><item><item/></item></channel><ITEM/></channel>',
    '<feed xmlns="http://www.w3.org/2005/Atom"><entry/><entry><entry/></entry><item/><x:entry xmlns:x="u"/></feed>',
    '<feed><entry/><channel><item/></channel></feed>',
    '<a:rss xmlns:a="u"><a:channel><a:item/><b:item xmlns:b="v"/></a:channel><Channel><item/></Channel></a:rss>',
    "<catalog><item/><item/></catalog>", "<html><item/></html>", "<CHANNEL><item/></CHANNEL>",
]


def counted(data: bytes) -> parse._ItemCounter:
    counter = parse._ItemCounter()
    etree.fromstring(data, etree.XMLParser(target=counter, resolve_entities=False, no_network=True, load_dtd=False))
    return counter


def test_item_counter_counts_what_the_trees_xpath_counts():
    bodies = [d.encode() for d in PLACED] + [b for b, _ in corpus_bodies()]
    checked = 0
    for body in bodies:
        data = parse._utf8_data(body, "")
        try:
            root = etree.fromstring(data, parse._STRICT) if data is not None else None
        except etree.XMLSyntaxError:
            root = None
        if root is None:
            continue
        counter = counted(data)
        assert (counter.root_tag, counter.rss, counter.atom) == (root.tag, RSS_COUNT(root), ATOM_COUNT(root)), body
        checked += 1
    assert checked >= len(PLACED)


def outcome(body: bytes) -> object:
    try:
        feed = parse_feed(body, SOURCE, url="https://a.example/feed", now=NOW)
    except parse.ParseError as e:
        return str(e)
    return [fields(e) for e in feed.entries], feed.notes


NOW = parse.datetime(2026, 11, 30, tzinfo=parse.UTC)


REFUSED_AT = {0: 150, 1: 5, 3: 3}  # at least this many bodies are refused (the test must test refusals)


@pytest.mark.parametrize("limit", list(REFUSED_AT))
def test_check_items_refuses_what_the_tree_refused(monkeypatch, limit):
    """With every body big and few items allowed, parse_feed gives what it gave when the tree counted alone,
    whether the document is well-formed (counted first) or not (left to the recovering parse)."""
    four = ITEM * 4
    bodies = [d.encode() for d in PLACED] + [DOC.encode(), (DOC + "<broken").encode(), DOC.replace("</item>", "").encode(),
                                             DOC.replace(ITEM, four).encode(), (DOC.replace(ITEM, four) + "<x").encode(),
                                             ('<feed xmlns="http://www.w3.org/2005/Atom">' + four.replace("item", "entry")
                                              + "</feed>").encode()]
    bodies += [b for b, _ in corpus_bodies()][::7]
    monkeypatch.setattr(parse, "MAX_ITEMS", limit)
    monkeypatch.setattr(parse, "SCAN_BYTES", 0)
    first = [outcome(b) for b in bodies]
    monkeypatch.setattr(parse, "_check_items", lambda data: None)
    assert [outcome(b) for b in bodies] == first
    assert sum(isinstance(o, str) and o.startswith("too many items") for o in first) >= REFUSED_AT[limit]


def test_check_items_refuses_before_any_tree(monkeypatch):
    """A big well-formed document over the limit is refused by the count, and no tree is built for it."""
    body = ('<rss version="2.0"><channel><title>t</title>' + "<item><title>x</title></item>" * 40_000
            + "</channel></rss>").encode()
    class NoTree:  # lxml, less building a tree with parse.py's parsers
        def __getattr__(self, name: str) -> object:
            return getattr(etree, name)

        def fromstring(self, data: bytes, parser: etree.XMLParser, **kw: object) -> object:
            assert parser not in (parse._STRICT, parse._RECOVER), "a tree was built"
            return etree.fromstring(data, parser, **kw)

    monkeypatch.setattr(parse, "etree", NoTree())
    with pytest.raises(parse.ParseError, match=r"too many items \(40000; at most 10000 are read\)"):
        parse_feed(body, SOURCE)


# --- refusals made on a UTF-8 body's own bytes, without decoding it first (parse._strict_utf8_root) ------------

def keeps_every_byte_reference(data: bytes) -> bool:
    """Valid UTF-8 from which _decode drops nothing: what _keeps_every_byte tells, by a whole decode."""
    try:
        return not _INVALID.search(data.decode("utf-8"))
    except UnicodeDecodeError:
        return False


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"<", "中".encode(), "😀".encode(), *REFUSED]), max_size=12),
       st.integers(min_value=1, max_value=5))
def test_keeps_every_byte_is_a_whole_decode(parts, chunk):
    data = b"".join(parts)
    assert parse._keeps_every_byte(data, chunk=chunk) == parse._keeps_every_byte(data) \
        == keeps_every_byte_reference(data)


def general_outcome(body: bytes, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(parse, "_strict_utf8_root", lambda body, content_type, base_url: None)
        return outcome(body)


LIMITED = [  # documents a limit refuses, whatever breakage or characters they also hold
    '<rss><channel><item><title>x</title></item>' + "<a/><b/>" * 20 + "</channel></rss>",
    "<rss>" + "<x>" * 300 + "</x>" * 300 + "</rss>",  # Excessive depth
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">' + "".join(f'<!ENTITY {c}{c} "' + f"&{p};" * 10 + '">'
                                                       for c, p in zip("bcdefg", ["a", "bb", "cc", "dd", "ee", "ff"]))
    + "]><rss>&gg;</rss>",  # billion laughs
    '<?xml version="1.0" encoding="utf-8"?><rss><channel><item><title>标题</title></item>' + "<a/>" * 20 + "</channel></rss>",
]
CDATA_HEAVY = ('<rss><channel><item><title>中</title><description><![CDATA[<p>' + "<i>" * 30
               + "</p>]]></description></item></channel></rss>")  # over the quick count, under the recount
SPOILERS = ["", "\x01", "\ufffe", "é", "\udcff"]  # nothing, a C0 control, U+FFFE, plain non-ASCII, undecodable


@pytest.mark.parametrize("doc", [*LIMITED, CDATA_HEAVY])
def test_refusals_on_the_bytes_are_the_general_ways(monkeypatch, doc):
    monkeypatch.setattr(parse, "MAX_XML_NODES", 12)
    monkeypatch.setattr(parse, "SCAN_BYTES", 0)
    for spoiler in SPOILERS:
        at = doc.index("</rss>")
        body = (doc[:at] + spoiler + doc[at:]).encode("utf-8", "surrogateescape")
        for b in (body, b"\xef\xbb\xbf" + body):
            first = outcome(b)
            assert first == general_outcome(b, monkeypatch), (spoiler, b[:80])
            assert isinstance(first, str) == (doc != CDATA_HEAVY)  # refused, or read


def test_a_refusal_on_the_bytes_decodes_nothing(monkeypatch):
    """The refusals above, on a body that keeps every byte, come without the general way's decode."""
    monkeypatch.setattr(parse, "MAX_XML_NODES", 12)
    monkeypatch.setattr(parse, "SCAN_BYTES", 0)
    monkeypatch.setattr(parse, "_decode", None)  # calling it would fail
    for doc in LIMITED:
        assert isinstance(outcome(doc.encode()), str)


def _children_reference(el: etree._Element, bare: str = "") -> dict[str, list[etree._Element]]:
    """parse._children as it was: _name's cache at every child."""
    out: dict[str, list[etree._Element]] = {}
    for child in el:
        if isinstance(child.tag, str):
            out.setdefault(parse._name(child.tag, bare), []).append(child)
    return out


def test_children_by_the_names_kept_per_bare_prefix_are_the_cached_names():
    """_children keeps _name's answers in a dict per `bare`: every element of the corpus's documents, read with either
    prefix, has the children it had (RSS, Atom with and without a namespace, RDF, namespaced extensions)."""
    seen = 0
    for path in sorted(CORPUS.rglob("*.xml"))[:600]:
        try:
            root = etree.fromstring(path.read_bytes(), parse._RECOVER)
        except etree.XMLSyntaxError:
            continue
        if root is None:
            continue
        for el in root.iter():
            for bare in ("", "atom"):
                assert parse._children(el, bare) == _children_reference(el, bare)
                seen += 1
    assert seen > 1000 or not CORPUS.is_dir()
