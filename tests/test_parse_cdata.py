"""parse._parse_cut (long CDATA sections cut out before lxml's parse, put back on reading) gives what the
whole document's parse gives: the same entries, notes and errors, on generated feeds that put CDATA where
feeds do and where they should not (comments, instructions, tails, Atom text constructs), with the
characters that libxml2 treats specially inside it."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from util import entry_fields as fields

from tidings import parse
from tidings.model import Source
from tidings.parse import ParseError, parse_feed

SOURCE = Source(url="https://feeds.example/rss", category="c", source="s", channel="ch")
# What libxml2 reads specially in CDATA (line ends), markup, and in some documents what it refuses there and
# what a marker is made of.
ALPHABET = ["a", "b", " ", "\n", "\t", "中", "文", "<p>", "</p>", "&amp;", "&", "<", ">", "]", "]]", "\r", "\r\n",
            "0", "7", "\u3000", "\x85", "é", "𝕏", "<![CDATA[", "<!--", "-->", "{", "}"]
RARE = ["\x01", "\x1f", "\ufffe", "\uffff", "\x00", "\ue000", "\ue001", "\ue0000\ue001"]


def text(rng: random.Random, n: int) -> str:
    rare = rng.random() < 0.01
    return "".join(rng.choice(RARE if rare and rng.random() < 0.05 else ALPHABET) for _ in range(n))


def cdata(rng: random.Random) -> str:
    # long enough to be cut (most of the time), or short (left to libxml2)
    body = text(rng, rng.choice((3, 40, 200, 400))).replace("]]>", "]] >")
    return f"<![CDATA[{body}]]>"


def rss(rng: random.Random) -> bytes:
    items = []
    for i in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        if kind == 0:  # CDATA after a child element: a tail
            desc = f"<description><b>x</b>{cdata(rng)}tail{cdata(rng)}</description>"
        elif kind == 1:  # in a comment or an instruction: not element text
            desc = f"<description><!-- {cdata(rng)} -->{cdata(rng)}<?pi {cdata(rng)} ?></description>"
        elif kind == 2:  # two sections and text joined in one text node
            desc = f"<description>lead {cdata(rng)}{cdata(rng)} end</description>"
        elif kind == 3:  # whitespace only
            desc = f"<description><![CDATA[{' ' * rng.choice((10, 300))}]]></description>"
        else:
            desc = f"<description>{cdata(rng)}</description>"
        cats = f"<category>{cdata(rng)}</category><category><i>n</i>{cdata(rng)}</category>"
        items.append(f"<item><title>{cdata(rng)}</title><link>https://a.example/{i}</link>"
                     f"<guid isPermaLink=\"false\">g{i}</guid>{cats}{desc}</item>")
    doc = (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>{cdata(rng)}</title>'
           f"<link>https://a.example/</link>{''.join(items)}</channel></rss>")
    return _maybe_break(rng, doc.encode("utf-8", "surrogatepass"))


def atom(rng: random.Random) -> bytes:
    entries = []
    for i in range(rng.randint(1, 3)):
        kind = rng.choice(("html", "text", "xhtml", "application/octet-stream"))
        content = (f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>{cdata(rng)}</p>'
                   f"{cdata(rng)}</div></content>" if kind == "xhtml" else f'<content type="{kind}">{cdata(rng)}</content>')
        entries.append(f'<entry><title type="html">{cdata(rng)}</title><id>urn:{i}</id>'
                       f'<link href="https://a.example/{i}"/><author><name>{cdata(rng)}</name></author>'
                       f"<summary>{cdata(rng)}</summary>{content}</entry>")
    doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{cdata(rng)}</title>{"".join(entries)}</feed>'
    return _maybe_break(rng, doc.encode("utf-8", "surrogatepass"))


def _maybe_break(rng: random.Random, body: bytes) -> bytes:
    roll = rng.randrange(12)
    if roll == 0:  # invalid UTF-8 inside a section
        at = body.find(b"<![CDATA[")
        return body[:at + 9] + b"\xff\xfe" + body[at + 9:]
    if roll == 1:  # a section never closed
        return body[:body.rfind(b"]]>")]
    if roll == 2:  # a DTD before the first section
        return body.replace(b"<rss", b'<!DOCTYPE rss [<!ENTITY e "<![CDATA[x]]>">]><rss', 1)
    return body


def outcome(body: bytes) -> object:
    try:
        feed = parse_feed(body, SOURCE, url="https://a.example/feed")
    except ParseError as e:
        return ("error", str(e))
    return feed.title, feed.link, feed.notes, [fields(e) for e in feed.entries]


@pytest.mark.parametrize("make", [rss, atom])
def test_cut_cdata_gives_the_whole_parse(make, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(15)
    bodies = [make(rng) for _ in range(400)]
    fast = [outcome(b) for b in bodies]
    cut = sum(parse._parse_cut(parse._utf8_data(b, "") or b"", None) is not None for b in bodies)
    monkeypatch.setattr(parse, "_CUT_BYTES", 1 << 30)  # no section is long enough: the whole document's parse
    assert parse._cut_cdata(bodies[0]) is None
    for body, got in zip(bodies, fast):
        assert got == outcome(body), body
    assert cut > 100  # the fast path was taken, not only its fallbacks


def test_cdata_line_ends_and_markers_are_the_documents() -> None:
    long = "段落" * 200
    body = (f"<rss><channel><item><title>t</title><description><![CDATA[{long}\r\nx\ry\ue0000\ue001]]>"
            "</description></item></channel></rss>").encode()
    assert parse._cut_cdata(body) is not None
    [entry] = parse_feed(body, SOURCE).entries
    assert entry.content == f"{long}\nx\ny\ue0000\ue001"


@pytest.mark.parametrize("after", ["", "x\ue001", "\ue001", "<![CDATA[\ue001]]>", "x"])
def test_a_marker_is_put_back_whatever_text_follows_it(after: str) -> None:
    long = "段落" * 200
    body = (f"<rss><channel><item><title>t</title><description><![CDATA[{long}]]>{after}</description></item>"
            "</channel></rss>").encode()
    assert parse._parse_cut(body, None) is not None
    [entry] = parse_feed(body, SOURCE).entries
    assert entry.content == long + after.replace("<![CDATA[", "").replace("]]>", "")


@pytest.mark.parametrize("inside", ["\x01", "\ufffe", "\x00"])
def test_a_forbidden_character_in_a_section_takes_the_whole_parse(inside: str) -> None:
    body = f"<rss><channel><item><title>t</title><description><![CDATA[{'x' * 300}{inside}]]></description></item></channel></rss>"
    assert parse._cut_cdata(body.encode()) is None
    [entry] = parse_feed(body.encode(), SOURCE).entries  # the general path drops it, as before
    assert entry.content == "x" * 300


def test_a_marker_character_outside_sections_takes_the_whole_parse() -> None:
    body = f"<rss><channel><item><title>\ue0000\ue001</title><description><![CDATA[{'x' * 300}]]></description></item></channel></rss>"
    assert parse._cut_cdata(body.encode()) is None
    [entry] = parse_feed(body.encode(), SOURCE).entries
    assert (entry.title, entry.content) == ("\ue0000\ue001", "x" * 300)


def test_parse_feed_takes_the_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = []
    cut = parse._parse_cut
    monkeypatch.setattr(parse, "_parse_cut", lambda *a: taken.append(cut(*a)) or taken[-1])
    rng = random.Random(3)
    body = rss(rng)
    while parse._cut_cdata(body) is None or b"<!--" in body or b"<?pi" in body:
        body = rss(rng)
    parse_feed(body, SOURCE)
    assert taken and taken[0] is not None


CHAR_REFS = [b"&#xE000;", b"&#57344;0&#xE001;", b"&#xe000;1&#xE001;", b"&#65;", b"&#x4e2d;"]


def _with_char_refs(rng: random.Random, body: bytes) -> bytes:
    # some of the feed's `&amp;` become character references, a few of them making the marker's characters
    parts = body.split(b"&amp;")
    return parts[0] + b"".join(rng.choice([b"&amp;", *CHAR_REFS]) + p for p in parts[1:])


@pytest.mark.parametrize("make", [rss, atom])
def test_a_skeleton_without_comments_instructions_or_references_holds_its_markers_in_text(make) -> None:
    """_parse_cut skips the count of markers in the tree's text when the skeleton's bytes vouch for it: wherever they
    do, the count is right; the bodies hold comments, instructions and character references, or none."""
    rng = random.Random(16)
    vouched = counted = 0
    for _ in range(600):
        body = make(rng)
        if rng.random() < 0.5:
            body = body.replace(b"<!--", b"<b>").replace(b" -->", b"</b>").replace(b"<?pi ", b"<i>").replace(b" ?>", b"</i>")
        if rng.random() < 0.5:
            body = body.replace(b'<?xml version="1.0" encoding="UTF-8"?>\n', b"")
        if rng.random() < 0.3:
            body = _with_char_refs(rng, body)
        cut = parse._cut_cdata(body)
        if cut is None:
            continue
        skeleton, texts = cut
        try:
            root = parse.etree.fromstring(skeleton, parse._STRICT)
        except parse.etree.XMLSyntaxError:
            continue
        counted += 1
        if parse._markers_only_in_text(skeleton):
            vouched += 1
            assert parse._markers_in_text(root) == len(texts), body
        assert outcome(body) == _whole(body)
    assert vouched > 50 and counted - vouched > 50


def _whole(body: bytes) -> object:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(parse, "_CUT_BYTES", 1 << 30)  # no section is cut: the whole document's parse
        return outcome(body)


def test_a_character_reference_to_the_marker_takes_the_tree_count() -> None:
    long = "段落" * 200
    body = (f"<rss><channel><item><title>&#xE000;0&#xE001;</title><description><![CDATA[{long}]]></description>"
            "</item></channel></rss>").encode()
    skeleton, texts = parse._cut_cdata(body)
    assert not parse._markers_only_in_text(skeleton)
    assert parse._parse_cut(body, None) is None  # two markers in the text, one cut: the whole document's parse
    [entry] = parse_feed(body, SOURCE).entries
    assert (entry.title, entry.content) == ("\ue0000\ue001", long)


def test_real_feeds_vouched_by_their_skeleton_hold_their_markers_in_text() -> None:
    """The skeleton's check against the count in the tree on feedparser's corpus and the seed feed."""
    from conftest import CORPUS

    paths = [*sorted(CORPUS.rglob("*.xml")), Path(__file__).parents[2] / "shared/conformance/seed/feed.xml"]
    vouched = 0
    for path in paths:
        if not path.is_file():
            continue
        body = path.read_bytes()
        cut = parse._cut_cdata(parse._utf8_data(body, "") or body)  # as parse_feed cuts it: no XML declaration
        if cut is None:
            continue
        try:
            root = parse.etree.fromstring(cut[0], parse._STRICT)
        except parse.etree.XMLSyntaxError:
            continue
        if parse._markers_only_in_text(cut[0]):
            vouched += 1
            assert parse._markers_in_text(root) == len(cut[1]), path
    assert vouched or not CORPUS.is_dir()


@given(st.lists(st.sampled_from([b"a", b"]", b"]]", b">", b"]]>", "段".encode(), b"<![CDATA["]), max_size=40).map(b"".join),
       st.integers(min_value=0, max_value=60))
def test_section_end_is_the_first_close(data: bytes, begin: int) -> None:
    """_section_end finds "]]>" by its "]"s, and past parse._BRACKETS_TRIED of them by the search for all three."""
    assert parse._section_end(data, begin) == data.find(b"]]>", begin)
