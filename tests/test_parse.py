"""parse.py: every format, encodings, dates, ids, covers."""
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tidings.model import Source, item_id
from tidings.parse import ParseError, parse_date, parse_feed

SRC = Source(url="http://feeds.example.com/f", category="c", source="s", channel="ch", timezone="Asia/Shanghai")
UTC = UTC


def test_rss2_fields_and_cover_from_enclosure():
    body = b"""<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
    <title>T</title><link>http://example.com/</link><ttl>30</ttl>
    <item><title>One &amp; two</title><link>/a/1</link><guid isPermaLink="false">g-1</guid>
      <pubDate>Mon, 14 Mar 2022 06:22:47 GMT</pubDate><dc:creator>Ann</dc:creator>
      <description>&lt;p&gt;hello &lt;img src="/i.png"&gt;&lt;/p&gt;</description>
      <enclosure url="http://cdn.example.com/c.jpg" type="image/jpeg" length="1"/>
      <category>x</category><category>y</category></item>
    </channel></rss>"""
    feed = parse_feed(body, SRC)
    assert feed.title == "T" and feed.ttl_minutes == 30
    (e,) = feed.entries
    assert e.title == "One & two"
    assert e.link == "http://example.com/a/1"
    assert e.guid == "g-1" and e.id == item_id("g-1") and len(e.id) == 16
    assert e.published == datetime(2022, 3, 14, 6, 22, 47, tzinfo=UTC)
    assert e.author == "Ann"
    assert e.content == '<p>hello <img src="/i.png"></p>'
    assert e.cover == "http://cdn.example.com/c.jpg"
    assert e.tags == ["x", "y"]


def test_content_encoded_preferred_and_first_img_is_cover():
    body = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>
    <item><title>a</title><link>http://e.com/p</link><description>short</description>
    <content:encoded><![CDATA[<p>long <img src="pic.jpg"></p>]]></content:encoded></item></channel></rss>"""
    (e,) = parse_feed(body, SRC).entries
    assert e.content == '<p>long <img src="pic.jpg"></p>'
    assert e.cover == "http://e.com/pic.jpg"
    assert e.id == item_id("", "http://e.com/p")


def test_rss_091_and_id_from_title_and_text_when_no_guid_link_or_date():
    body = b"""<rss version="0.91"><channel><title>T</title><link>http://e.com/</link>
    <item><title>only title</title><description>d</description></item></channel></rss>"""
    (e,) = parse_feed(body, SRC).entries
    assert e.id == item_id("", "", "only title", "", "d") and e.published is None


def test_rdf_rss_1_0():
    body = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="http://e.com/"><title>RDF</title><link>http://e.com/</link></channel>
      <item rdf:about="http://e.com/1"><title>r1</title><link>http://e.com/1</link>
        <description>&lt;b&gt;x&lt;/b&gt;</description><dc:date>2022-03-14T14:22:00+08:00</dc:date><dc:creator>Bo</dc:creator></item>
    </rdf:RDF>"""
    feed = parse_feed(body, SRC)
    assert feed.title == "RDF"
    (e,) = feed.entries
    assert (e.title, e.link, e.author, e.content) == ("r1", "http://e.com/1", "Bo", "<b>x</b>")
    assert e.published == datetime(2022, 3, 14, 6, 22, tzinfo=UTC)


def test_atom_xhtml_html_text_and_xml_base():
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://base.example/dir/"><title>A</title>
    <author><name>Feed Author</name></author>
    <entry><title type="html">&lt;b&gt;Bold&lt;/b&gt; &amp;amp; more</title><id>urn:1</id>
      <link rel="alternate" href="post/1"/><updated>2022-03-14T14:22:00+08:00</updated>
      <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>hi <a href="rel">l</a></p></div></content></entry>
    <entry><title>Plain</title><id>urn:2</id><published>2022-03-15T00:00:00Z</published>
      <summary type="text">a &lt; b</summary><author><name>X</name></author></entry>
    </feed>"""
    a, b = parse_feed(body, SRC).entries
    assert a.title == "Bold & more"
    assert a.link == "http://base.example/dir/post/1"
    assert a.content == '<p>hi <a href="rel">l</a></p>'
    assert a.base == "http://base.example/dir/"
    assert a.author == "Feed Author"
    assert a.published == datetime(2022, 3, 14, 6, 22, tzinfo=UTC)
    assert b.content == "<p>a &lt; b</p>" and b.author == "X"


def test_json_feed_1_1():
    data = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "home_page_url": "https://j.example/",
            "authors": [{"name": "Feed"}],
            "items": [{"id": "1", "url": "https://j.example/1", "title": "中文标题", "content_html": "<p>x</p>",
                       "date_published": "2022-03-14T14:22:00+08:00", "image": "https://j.example/i.png",
                       "tags": ["a"]},
                      {"id": 2, "content_text": "para one\n\npara <two>", "date_published": "2022-03-14 10:00"}]}
    a, b = parse_feed(json.dumps(data).encode(), SRC).entries
    assert (a.title, a.link, a.content, a.cover, a.author, a.tags) == (
        "中文标题", "https://j.example/1", "<p>x</p>", "https://j.example/i.png", "Feed", ["a"])
    assert b.id == item_id("2") and b.content == "<p>para one</p><p>para &lt;two&gt;</p>"
    # no zone: read in the source's zone (Asia/Shanghai)
    assert b.published == datetime(2022, 3, 14, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("encoding", ["gb2312", "gbk", "gb18030", "big5"])
def test_chinese_encodings_from_prolog(encoding):
    title = "中文新闻标题" if encoding != "big5" else "中文新聞標題"
    body = (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>{title}</title>'
            f"<item><title>{title}</title><guid>1</guid></item></channel></rss>").encode(
        "gb18030" if encoding.startswith("gb") else "big5")
    feed = parse_feed(body, SRC)
    assert feed.entries[0].title == title


def test_http_charset_wins_over_missing_prolog():
    title = "镕鎔"  # GBK-only characters, outside GB2312
    body = f'<rss version="2.0"><channel><item><title>{title}</title><guid>1</guid></item></channel></rss>'.encode("gbk")
    assert parse_feed(body, SRC, content_type="text/xml; charset=GB2312").entries[0].title == title


# Charset labels: parse reads them through tidings.http.codec_for, as decode_html does (tests/test_http.py).
LATIN = "“café” – 50 €"  # in cp1252: 0x93 … 0x94 0x96 … 0x80, C1 controls if read as ISO-8859-1
HAN = "长春䶮"  # 䶮 (U+4DAE) is in GB18030 only (four bytes), neither in GB2312 nor in GBK
JA = "日本語のニュース"


def _rss(title: str, encoding: str | None = None) -> str:
    prolog = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else '<?xml version="1.0"?>'
    return f'{prolog}<rss version="2.0"><channel><title>T</title><item><title>{title}</title><guid>1</guid></item></channel></rss>'


@pytest.mark.parametrize("label,text,codec", [
    ("iso8859-1", LATIN, "cp1252"),
    ("x-user-defined", LATIN, "cp1252"),
    ("euc-cn", HAN, "gb18030"),
    ("cp936", HAN, "gb18030"),
    ("windows-936", HAN, "gb18030"),
    ("csgb2312", HAN, "gb18030"),
    ("x-euc-jp", JA, "euc_jp"),
    ("x-sjis", JA, "shift_jis"),
])
@pytest.mark.parametrize("where", ["prolog", "http"])
def test_each_charset_label_reads_as_its_codec(label, text, codec, where):
    """Read strictly in the chosen codec: no note of a charset that did not fit, or of one guessed instead."""
    if where == "prolog":
        feed = parse_feed(_rss(text, label).encode(codec), SRC)
    else:
        feed = parse_feed(_rss(text).encode(codec), SRC, content_type=f"application/rss+xml; charset={label}")
    assert (feed.entries[0].title, feed.notes) == (text, [])


@pytest.mark.parametrize("label", ["iso8859-1", "iso-8859-1", "latin1", "us-ascii", "x-user-defined"])
def test_latin1_labels_read_as_feedparser_reads_them(label):
    """feedparser decodes Latin-1, then maps U+0080–U+009F to windows-1252's characters: windows-1252 in effect."""
    feedparser = pytest.importorskip("feedparser")
    body = _rss(LATIN, label).encode("cp1252")
    assert parse_feed(body, SRC).entries[0].title == feedparser.parse(body).entries[0].title == LATIN


@pytest.mark.parametrize("label", ["unicode", "utf-16", "base64", "rot13", "undefined", "idna", "punycode"])
def test_a_label_that_fits_no_ascii_document_is_noted_and_read_as_utf8(label):
    # base64, rot13, undefined, idna and punycode raised out of parse_feed (LookupError, UnicodeError) before
    feed = parse_feed(_rss("plain ASCII", label).encode(), SRC)
    assert feed.entries[0].title == "plain ASCII"
    assert feed.notes[0] == f"declared charset {label!r} does not fit the document"


def test_html_named_entities_are_tolerated():
    body = b"<rss version='2.0'><channel><item><title>a&nbsp;b&mdash;c</title><guid>1</guid></item></channel></rss>"
    assert parse_feed(body, SRC).entries[0].title == "a\u00a0b\u2014c"


@pytest.mark.parametrize("body,reason", [
    (b"", "empty"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML page"),
    (b"<rss <channel><item><title>x</title></item>", "malformed XML"),  # beyond recovery
    (b"<foo/>", "not a feed"),
    (b'{"a": 1}', "not a JSON Feed"),
    (b"{broken", "malformed JSON"),
])
def test_bad_bodies_raise_parse_error_with_reason(body, reason):
    with pytest.raises(ParseError, match=reason):
        parse_feed(body, SRC)


def test_entities_are_never_expanded():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
    <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY x SYSTEM "file:///etc/passwd">]>
    <rss version="2.0"><channel><item><title>&c;&x;</title><guid>1</guid></item></channel></rss>"""
    try:
        feed = parse_feed(bomb, SRC)
    except ParseError:
        return
    title = feed.entries[0].title
    assert "aaaa" not in title and "root:" not in title


@pytest.mark.parametrize("raw,expected", [
    ("Mon, 14 Mar 2022 06:22:47 GMT", datetime(2022, 3, 14, 6, 22, 47, tzinfo=UTC)),
    ("Mon, 14 Mar 2022 14:22:47 +0800", datetime(2022, 3, 14, 6, 22, 47, tzinfo=UTC)),
    ("2022-03-14T14:22:47+08:00", datetime(2022, 3, 14, 6, 22, 47, tzinfo=UTC)),
    ("2022-03-14T06:22:47Z", datetime(2022, 3, 14, 6, 22, 47, tzinfo=UTC)),
    ("2022-03-14T06:22:47.123Z", datetime(2022, 3, 14, 6, 22, 47, 123000, tzinfo=UTC)),
    ("2022年03月14日 14:22", datetime(2022, 3, 14, 6, 22, tzinfo=UTC)),
    ("2022年3月14日14时22分", datetime(2022, 3, 14, 6, 22, tzinfo=UTC)),
    ("2022-03-14 14:22", datetime(2022, 3, 14, 6, 22, tzinfo=UTC)),
    ("2022/03/14 14:22:05", datetime(2022, 3, 14, 6, 22, 5, tzinfo=UTC)),
    ("2022-03-14", datetime(2022, 3, 13, 16, 0, tzinfo=UTC)),
    ("not a date", None),
    ("", None),
])
def test_dates(raw, expected):
    assert parse_date(raw, ZoneInfo("Asia/Shanghai")) == expected


def test_missing_date_and_far_future_date_are_none():
    body = b"""<rss version="2.0"><channel><item><title>a</title><guid>1</guid></item>
    <item><title>b</title><guid>2</guid><pubDate>Mon, 14 Mar 2099 06:22:47 GMT</pubDate></item></channel></rss>"""
    assert [e.published for e in parse_feed(body, SRC).entries] == [None, None]


def test_seed_feed(fixtures):
    (e,) = parse_feed((fixtures / "seed" / "feed.xml").read_bytes(), SRC).entries
    assert e.title == "吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会"
    assert e.cover.endswith("fa43-890a8ad7c416df64a3e9dd392fe15a38.jpg")
    assert e.content.startswith('<p cms-style="font-L">') and e.content.endswith("<!-- 编辑姓名及工作代码-->\n\n")


def test_raw_html_elements_inside_description_are_kept():
    body = b"""<rss version="2.0"><channel><item><guid>1</guid><title>t</title>
    <description>Hello <b>bold</b> world <img src="http://e.com/i.svg"/></description></item></channel></rss>"""
    (e,) = parse_feed(body, SRC).entries
    assert e.content == 'Hello <b>bold</b> world <img src="http://e.com/i.svg"/>'
    assert e.cover == "http://e.com/i.svg"
