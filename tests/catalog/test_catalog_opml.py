"""OPML 1.0 / 2.0 import, OPML 2.0 export and the round trip."""
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from tidings.catalog import TIDINGS_NS, CatalogWarning, SourceSpec, export_opml, load_catalog, parse_opml

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"


def U(category, source, channel, url):
    return SourceSpec(category=category, source=source, channel=channel, url=url)


def test_opml_1_0_nesting():
    specs, warnings = parse_opml((FIX / "subscriptions-1.0.opml").read_bytes())
    assert specs == [
        U("金融", "新浪财经", "新浪财经－国內", "https://rsshub.app/sina/finance"),
        U("金融", "新浪财经", "新浪财经－美股", "https://rsshub.app/sina/finance/stock/usstock"),  # title only
        U("金融", "华尔街见闻", "", "https://wallstreetcn.com/rss.xml"),  # lower-case xmlurl, 2 levels
        U("科技", "少数派", "", "https://sspai.com/feed"),
        U("", "阮一峰的网络日志", "", "http://www.ruanyifeng.com/blog/atom.xml"),  # top level
    ]
    assert warnings == [CatalogWarning(17, "outline '空地址' has an empty xmlUrl; skipped")]


def test_opml_2_0_nesting_entities_and_skips():
    specs, warnings = load_catalog(str(FIX / "subscriptions-2.0.opml"))
    assert specs == [
        U("传统媒体", "央视新闻", "国际", "https://rsshub.app/cctv/world"),
        U("传统媒体", "央视新闻", "专题 › 法治", "https://rsshub.app/cctv/law"),  # deeper folders join the channel
        U("传统媒体", "联合早报", "即时新闻 & 中国", "https://www.zaobao.com/realtime/china/feed?a=1&b=2"),
    ]
    assert warnings == [
        CatalogWarning(21, "OPML include 'https://example.com/other.opml' is not followed; skipped"),
        CatalogWarning(22, "outline '坏地址': not an http(s) URL: 'ftp://example.com/feed.xml'; skipped"),
    ]
    assert {s.category for s in parse_opml((FIX / "subscriptions-2.0.opml").read_bytes(), category="新闻").specs} \
        == {"新闻"}


SPECS = [
    SourceSpec(category="金融", source="新浪财经", channel="新浪财经－国內", route="/sina/finance", limit=15),
    SourceSpec(category="金融", source="新浪财经", channel="新浪财经－美股", route="/sina/finance/stock/usstock"),
    SourceSpec(category="金融", source="华尔街见闻", channel="", url="https://wallstreetcn.com/rss.xml?a=1&b=<2>"),
    SourceSpec(category="科技", source="少数派", channel="首页", url="https://sspai.com/feed", limit=30),
    SourceSpec(category="", source="无分类", channel="频道", route="/zaobao/realtime/china"),
    SourceSpec(category="", source="", channel="", url="https://example.com/feed.xml"),
]


def test_export_then_import_gives_the_same_list():
    data = export_opml(SPECS, "https://rsshub.example.org/base/", "资讯聚合",
                       created=datetime(2024, 6, 3, 8, 0, tzinfo=UTC))
    specs, warnings = parse_opml(data)
    assert warnings == []
    assert specs == SPECS


def test_export_document_shape():
    data = export_opml(SPECS, "https://rsshub.example.org/base/", "资讯聚合",
                       created=datetime(2024, 6, 3, 8, 0, tzinfo=UTC))
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "资讯聚合"
    assert root.findtext("head/dateCreated") == "Mon, 03 Jun 2024 08:00:00 GMT"
    top = root.find("body")
    assert [o.get("text") for o in top] == ["金融", "科技", "无分类", "https://example.com/feed.xml"]
    sina = top[0][0]
    assert sina.get("text") == "新浪财经"
    feed = sina[0]
    t = f"{{{TIDINGS_NS}}}"
    assert feed.get("type") == "rss" and feed.get("text") == feed.get("title") == "新浪财经－国內"
    assert feed.get("xmlUrl") == "https://rsshub.example.org/base/sina/finance"  # resolved like tidings.config
    assert feed.get(t + "route") == "/sina/finance" and feed.get(t + "limit") == "15"
    assert (feed.get(t + "category"), feed.get(t + "source"), feed.get(t + "channel")) == ("金融", "新浪财经", "新浪财经－国內")
    wscn = top[0][1]  # no channel: the feed sits directly in the category folder, named by the source
    assert wscn.get("text") == "华尔街见闻" and wscn.get(t + "route") is None
    assert wscn.get("xmlUrl") == "https://wallstreetcn.com/rss.xml?a=1&b=<2>"


def test_exported_nesting_alone_reads_back_for_full_specs():
    """A reader that drops the tidings:* attributes still sees category › source › channel by nesting."""
    full = [s for s in SPECS if s.category and s.source and s.channel]
    data = export_opml(full, "https://rsshub.app", "t")
    root = etree.fromstring(data)
    for el in root.iter("outline"):
        for k in [k for k in el.attrib if k.startswith("{")]:
            del el.attrib[k]
    specs, _ = parse_opml(etree.tostring(root))
    assert specs == [U(s.category, s.source, s.channel, s.feed_url("https://rsshub.app")) for s in full]


def test_export_groups_interleaved_categories_in_first_seen_order():
    a1 = SourceSpec(category="A", source="s1", channel="c1", route="/a/1")
    b1 = SourceSpec(category="B", source="s2", channel="c2", route="/b/1")
    a2 = SourceSpec(category="A", source="s1", channel="c3", route="/a/2")
    specs, _ = parse_opml(export_opml([a1, b1, a2], "https://rsshub.app", "t"))
    assert specs == [a1, a2, b1]


def test_unsafe_and_broken_xml():
    xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b'<opml version="2.0"><body><outline text="&xxe;" xmlUrl="https://example.com/f.xml"/></body></opml>')
    specs, _ = parse_opml(xxe)
    assert all("root:" not in s.source for s in specs)
    specs, warnings = parse_opml(b"<opml><body><outline text='x' xmlUrl='https://e.com/f'></body>")
    assert specs == [] and warnings[0].message.startswith("not well-formed XML")
    specs, warnings = parse_opml(b"<rss version='2.0'><channel/></rss>")
    assert specs == [] and warnings == [CatalogWarning(1, "not an OPML document (the root element is not <opml>)")]
