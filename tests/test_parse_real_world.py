"""Hand-made feeds for what real feeds do (SPEC §9): links, ids, Atom 0.3, recovery, encodings, dates."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.model import Source
from tidings.parse import ParseError, parse_feed

DOC = "http://feeds.example.org/blog/feed.xml"
SRC = Source(url=DOC, category="c", source="s", channel="")


def parse(body: str | bytes, **kw):
    return parse_feed(body.encode() if isinstance(body, str) else body, SRC, url=DOC, **kw)


# --- links resolve once, by the format's base rules --------------------------------------------------

@pytest.mark.parametrize("body, link", [
    # RSS: the channel link is the base; the old code joined the item link against itself a second time
    ('<rss version="2.0"><channel><link>http://example.org/blog/</link>'
     '<item><title>t</title><link>posts/1.html</link></item></channel></rss>', "http://example.org/blog/posts/1.html"),
    # RSS without a channel link: the document URL
    ('<rss version="2.0"><channel><item><title>t</title><link>posts/1.html</link></item></channel></rss>',
     "http://feeds.example.org/blog/posts/1.html"),
    # xml:base wins over the channel link
    ('<rss version="2.0"><channel><link>http://example.org/blog/</link><item xml:base="http://other.org/a/">'
     '<title>t</title><link>1.html</link></item></channel></rss>', "http://other.org/a/1.html"),
    # RDF: relative links used to stay relative
    ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
     '<channel><link>http://example.org/news/</link></channel>'
     '<item rdf:about="x"><title>t</title><link>2024/a.html</link></item></rdf:RDF>',
     "http://example.org/news/2024/a.html"),
    # RDF without a channel link: the document URL; with xml:base (relative, itself resolved once): that base
    ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
     '<channel rdf:about="x"><title>c</title></channel>'
     '<item rdf:about="x"><title>t</title><link>2024/a.html</link></item></rdf:RDF>',
     "http://feeds.example.org/blog/2024/a.html"),
    ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
     'xml:base="/news/"><channel><link>http://example.org/other/</link></channel>'
     '<item rdf:about="x"><title>t</title><link>2024/a.html</link></item></rdf:RDF>',
     "http://feeds.example.org/news/2024/a.html"),
    # an absolute link is left as it is
    ('<rss version="2.0"><channel><link>http://example.org/blog/</link>'
     '<item><title>t</title><link>https://other.org/x?a=1</link></item></channel></rss>', "https://other.org/x?a=1"),
    # Atom: xml:base, else the document URL (an Atom feed's own link is no base)
    ('<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/base/"><link href="http://x.org/"/>'
     '<entry><id>1</id><title>t</title><link href="e/1"/></entry></feed>', "http://example.org/base/e/1"),
    ('<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>t</title><link href="e/1"/></entry></feed>',
     "http://feeds.example.org/blog/e/1"),
])
def test_relative_links_resolve_once(body, link):
    (e,) = parse(body).entries
    assert e.link == link


# --- identity ----------------------------------------------------------------------------------------

def test_description_only_items_stay_apart_and_keep_their_ids():
    body = ('<rss version="2.0"><channel><title>T</title>'
            + "".join(f"<item><description>&lt;p&gt;news {i}&lt;/p&gt;</description></item>" for i in range(3))
            + "</channel></rss>")
    first = parse(body).entries
    assert len(first) == 3 and len({e.id for e in first}) == 3
    assert [e.id for e in parse(body).entries] == [e.id for e in first]


@pytest.mark.parametrize("title", ["", "<title>Status</title>"])
def test_dated_items_without_guid_or_link_that_differ_stay_apart(title):
    # SPEC §9: title + content + date. Status feeds stamp items with one date (or a day): the id used to be
    # title + date alone, so their description-only items still collapsed into one
    body = ('<rss version="2.0"><channel>'
            + "".join(f"<item>{title}<pubDate>Tue, 15 Mar 2022</pubDate><description>status {i}</description></item>"
                      for i in range(3))
            + "</channel></rss>")
    first = parse(body).entries
    assert [e.content for e in first] == ["status 0", "status 1", "status 2"]
    assert len({e.id for e in first}) == 3
    assert [e.id for e in parse(body).entries] == [e.id for e in first]  # the same item keeps its id


def test_an_item_without_guid_or_link_is_identified_by_title_content_and_date():
    item = '<item><title>T</title><pubDate>{}</pubDate><description>{}</description></item>'
    ids = {parse(f'<rss version="2.0"><channel>{item.format(d, c)}</channel></rss>').entries[0].id
           for d, c in [("Mon, 14 Mar 2022 06:22:47 GMT", "a"), ("Mon, 14 Mar 2022 06:22:47 GMT", "b"),
                        ("Tue, 15 Mar 2022 06:22:47 GMT", "a")]}
    assert len(ids) == 3


# --- Atom 0.3, Atom without a namespace, html content with raw markup ---------------------------------

def test_atom_03():
    body = ('<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title>'
            '<link rel="alternate" type="text/html" href="http://example.org/"/>'
            '<entry><title type="text/html" mode="escaped">A &lt;b&gt;bold&lt;/b&gt; title</title>'
            '<link rel="alternate" type="text/html" href="http://example.org/1"/><id>tag:example.org,2003:1</id>'
            '<issued>2003-12-13T08:29:29-04:00</issued><modified>2003-12-13T18:30:02Z</modified>'
            '<author><name>Mark</name></author>'
            '<content type="text/html" mode="escaped">&lt;p&gt;Hello&lt;/p&gt;</content></entry>'
            '<entry><id>2</id><content type="text/html" mode="base64">PHA+V29ybGQ8L3A+</content></entry></feed>')
    feed = parse(body)
    one, two = feed.entries
    assert feed.title == "Old" and feed.link == "http://example.org/"
    assert one.title == "A bold title" and one.link == "http://example.org/1" and one.author == "Mark"
    assert one.published == datetime(2003, 12, 13, 12, 29, 29, tzinfo=UTC)
    assert one.content == "<p>Hello</p>" and two.content == "<p>World</p>"


def test_atom_without_a_namespace():
    (e,) = parse('<feed><entry><id>1</id><title>t</title><link href="http://e.org/1"/>'
                 '<updated>2024-01-02T03:04:05Z</updated></entry></feed>').entries
    assert e.link == "http://e.org/1" and e.published == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_atom_html_content_holding_raw_markup_is_kept():
    (e,) = parse('<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>t</title>'
                 '<content type="html"><p>raw <b>markup</b></p></content></entry></feed>').entries
    assert e.content == "<p>raw <b>markup</b></p>"


def test_an_html_title_is_read_as_html_not_cut_by_a_regex():
    (e,) = parse('<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id>'
                 '<title type="html">&lt;img alt="a&gt;b"&gt;Hello &amp;amp; bye</title></entry></feed>').entries
    assert e.title == "Hello & bye"


# --- recovery, and what is never fine ------------------------------------------------------------------

def test_a_raw_ampersand_is_recovered_with_a_note():
    feed = parse('<rss version="2.0"><channel><item><title>Q&A</title>'
                 '<link>http://e.org/?a=1&b=2</link></item></channel></rss>')
    (e,) = feed.entries
    assert e.title == "Q&A" and e.link == "http://e.org/?a=1&b=2"
    assert feed.notes and "repaired malformed XML" in feed.notes[0]


def test_undefined_entities_and_truncated_end_tags_are_recovered():
    feed = parse('<rss version="2.0"><channel><item><title>caf&eacute; &bogus;</title><guid>1</guid></item>'
                 '<item><title>cut</title><guid>2</guid></item>')
    assert [e.title for e in feed.entries] == ["café &bogus;", "cut"]
    assert any("recovered" in n for n in feed.notes)


def test_items_outside_the_channel_and_rss_without_a_channel():
    assert len(parse('<rss version="2.0"><item><title>a</title></item><item><title>b</title></item></rss>').entries) == 2
    feed = parse('<rss version="2.0"><channel><title>T</title><link>http://example.org/</link>'
                 '<item><title>in</title><link>1</link></item></channel>'
                 '<item><title>out</title><link>2</link></item></rss>')
    assert [(e.title, e.link) for e in feed.entries] == [("in", "http://example.org/1"), ("out", "http://example.org/2")]


def test_rss_in_the_userland_namespace():
    (e,) = parse('<rss xmlns="http://backend.userland.com/rss2" version="2.0"><channel><title>T</title>'
                 '<item><title>a</title><link>http://e.org/a</link></item></channel></rss>').entries
    assert e.title == "a" and e.link == "http://e.org/a"


def test_a_document_with_items_that_yields_none_is_a_failure():
    with pytest.raises(ParseError, match="holds 2 <item>/<entry>"):
        parse('<feed xmlns="http://unknown.example/ns"><entry/><entry/></feed>'.replace("feed", "rss", 1)
              .replace("</feed>", "</rss>"))


def test_broken_beyond_recovery_fails_with_the_parsers_reason():
    with pytest.raises(ParseError, match="malformed XML"):
        parse("<rss <channel><item><title>x</title></item>")


# --- encodings ---------------------------------------------------------------------------------------

RSS_ZH = '<?xml version="1.0" encoding="{}"?><rss version="2.0"><channel><item><title>新闻标题</title></item></channel></rss>'


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("bom", [True, False])
def test_utf16_and_utf32_with_or_without_a_bom(codec, bom):
    text = RSS_ZH.format(codec.split("-")[0] + "-" + codec.split("-")[1])
    body = (("\ufeff" + text) if bom else text).encode(codec)
    (e,) = parse(body).entries
    assert e.title == "新闻标题"


def test_a_wrong_declared_charset_is_noted_and_read_right():
    body = RSS_ZH.format("iso-8859-1").encode("utf-8").replace(b'encoding="iso-8859-1"', b'encoding="gb2312"')
    feed = parse(body)
    assert feed.entries[0].title == "新闻标题" and "declared gb2312 but the document is UTF-8" in feed.notes[0]


def test_gbk_labelled_as_utf8_is_detected():
    body = RSS_ZH.format("utf-8").replace("新闻标题", "中国人民银行今日宣布下调存款准备金率，释放长期资金约一万亿元").encode("gbk")
    feed = parse(body)
    assert feed.entries[0].title.startswith("中国人民银行") and feed.notes


# --- dates in feeds ----------------------------------------------------------------------------------

def test_dcterms_dates_and_offsets():
    (e,) = parse('<rss version="2.0" xmlns:dcterms="http://purl.org/dc/terms/"><channel><item><title>t</title>'
                 '<dcterms:issued>2024-03-01T08:00:00+08:00</dcterms:issued></item></channel></rss>').entries
    assert e.published == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
